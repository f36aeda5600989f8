"""The v1 routes of v1-only data: metamessages, user collections, documents (docs/v1-api.md §1.4)."""

from honcho_server.api.routes.v1_data import collections, documents, metamessages

ROUTERS = [metamessages.router, collections.router, documents.router]
