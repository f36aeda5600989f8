"""Message search: the one retrieval path behind the workspace, peer and session search routes.

Full text today (FTS5 bm25 on SQLite, tsvector cover density on PostgreSQL), so a message is findable by its
words as soon as its create call returns; vector candidates and their fusion are added with the embedder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message
from honcho_server.search.terms import query_terms
from honcho_server.store.dialect import Dialect
from honcho_server.store.repos import search as repo


@dataclass(slots=True)
class MessageQuery:
    text: str
    workspace_pk: int
    workspace_name: str
    filters: dict[str, Any] | None
    limit: int
    perspective: str | None = None  # only messages this peer could have seen


async def search_messages(conn: AsyncConnection, dialect: Dialect, query: MessageQuery) -> list[Message]:
    """Most relevant first, at most `limit`."""
    terms = query_terms(query.text)
    if not terms:
        return []
    extra = [repo.seen_by(query.perspective)] if query.perspective else []
    where = repo.scope(dialect, query.workspace_pk, query.workspace_name, query.filters, extra)
    return await repo.text_candidates(conn, dialect, query.workspace_name, where, terms, query.limit)
