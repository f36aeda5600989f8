"""Search use cases: workspace, peer and session message search (spec 5.5, 6.10, 7.14)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from honcho_server.domain.models import Message
from honcho_server.domain.tokens import count_tokens
from honcho_server.errors import ValidationError
from honcho_server.search.messages import MessageQuery, search_messages, settle
from honcho_server.services import scopes
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors, query_vector
from honcho_server.store.repos import workspaces as workspace_repo

log = logging.getLogger("honcho_server.search")


async def _query_vector(deps: Deps, text: str) -> list[float] | None:
    """The query's vector, or None when search must fall back to full text (no vectors here, or the
    embedding provider is failing: search keeps answering by words rather than erroring). A query of stop
    words only is embedded too: by meaning is then the only ranking it has besides its literal text."""
    if not text.strip() or not await prepare_vectors(deps):  # nothing to embed
        return None
    vector = await query_vector(deps, text, stop_words_only=True)
    return None if vector is None else vector.tolist()


async def search(
    deps: Deps, workspace_name: str, text: str, filters: dict[str, Any] | None, limit: int, *,
    session: str | None = None, peer: str | None = None, scope: str | None = None,
) -> list[Message]:
    """Messages of the workspace matching `text`; `session` / `peer` pin the scope and cannot be escaped."""
    if count_tokens(text) > deps.settings.limits.embedding_max_input_tokens:
        raise ValidationError(f"query is longer than {deps.settings.limits.embedding_max_input_tokens} tokens")
    filters = dict(filters or {})
    perspective = filters.pop("peer_perspective", None)
    if perspective is not None and not isinstance(perspective, str):
        raise ValidationError("peer_perspective must be a peer id")
    if scope is not None:
        if "session_id" in filters:
            raise ValidationError("`scope` and a 'session_id' filter are mutually exclusive")
        members = await scopes.member_sessions(deps, workspace_name, [scope])  # 404 for an unknown scope
        if not members:
            return []  # fail closed: a scope without sessions holds no messages
        filters["session_id"] = {"in": members}
    # Route-injected conditions overwrite the caller's (spec 4.5): a search can never leave its scope.
    if session is not None:
        filters["session_id"] = session
    if peer is not None:
        filters["peer_id"] = peer
    # Embedding the query (a network round trip with a remote embedder) overlaps the lookups and the full-text half.
    vector = asyncio.ensure_future(_query_vector(deps, text))
    try:
        async with deps.db.read() as conn:
            ws = await workspace_repo.find(conn, workspace_name)
        if ws is None:
            return []
        query = MessageQuery(text=text, workspace_pk=ws.pk, workspace_name=ws.name, filters=filters or None,
                             limit=limit, perspective=perspective)
        return await search_messages(deps.db, query, vector)
    finally:
        settle(vector)  # an answer that did not need it (unknown workspace or session, a failure)
