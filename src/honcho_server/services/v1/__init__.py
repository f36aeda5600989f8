"""The v1 API's use cases: thin views of apps, users, sessions and messages over the v3 services."""
