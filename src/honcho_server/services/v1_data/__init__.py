"""The v1 API's own data (docs/v1-api.md §3.5-3.7): metamessages, user collections and their documents, and the
reserved collection `honcho` (a view of the user's conclusions about itself)."""
