"""Conclusions through the API (spec 9): create explicit ones, list, get, delete, semantic query."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.conclusions import Conclusion, NewConclusion
from honcho_server.domain.ids import SCOPE_PREFIX
from honcho_server.domain.models import Page, Workspace
from honcho_server.domain.receipts import Receipt
from honcho_server.domain.tokens import count_tokens
from honcho_server.embeddings.base import EmbeddingError
from honcho_server.errors import NotFound, ValidationError
from honcho_server.search.terms import query_terms
from honcho_server.services import cascade, workspaces
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs, query_vector
from honcho_server.store.repos import conclusions as repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo

log = logging.getLogger("honcho_server.conclusions")
QUERY_SHAPE = ('filters must name the collection to search: {"observer_id": "<peer id>", "observed_id": "<peer id>"} '
               '(or "observer" / "observed"); any other keys are applied as conclusion filters')


@dataclass(frozen=True, slots=True)
class ConclusionInput:
    content: str
    observer: str
    observed: str
    session: str | None = None


def check_not_scope(kind: str, name: str) -> None:
    """A `scope.*` name is a scope's hidden peer (or no peer at all): never managed or read as a peer (422); reads
    go through a scope with the `scope` option."""
    if name.startswith(SCOPE_PREFIX):
        raise ValidationError(f"{kind} '{name}' is a scope; use the `scope` option to read through a scope")


def check_embeddable(text: str, what: str, limit: int) -> None:
    tokens = count_tokens(text)
    if tokens > limit:
        raise ValidationError(f"{what} is {tokens} tokens long; at most {limit} can be embedded")


@dataclass(frozen=True, slots=True)
class _Resolved:
    workspace: Workspace
    peers: dict[str, int]
    sessions: dict[str, int]


async def _resolve(conn: AsyncConnection, workspace_name: str, items: list[ConclusionInput]) -> _Resolved:
    """The workspace, peers and (active) sessions the items name; NotFound for the first one missing."""
    ws = await workspaces.require(conn, workspace_name)
    names = list(dict.fromkeys(n for i in items for n in (i.observer, i.observed)))
    peers = {name: row.id for name, row in (await peer_repo.find_many(conn, ws.pk, names)).items()}
    for name in names:
        if name not in peers:
            raise NotFound(f"Peer {name} not found in workspace {ws.name}")
    wanted = list(dict.fromkeys(i.session for i in items if i.session is not None))
    sessions = await session_repo.active_pks(conn, ws.pk, wanted)
    for name in wanted:
        if name not in sessions:
            raise NotFound(f"Session {name} not found in workspace {ws.name}")
    return _Resolved(ws, peers, sessions)


async def _vectors(deps: Deps, texts: list[str]) -> list[bytes | None]:
    """Stored vectors for new conclusions; without them (and a log line) when the embedder fails: a write the
    client sees fail would be retried by the SDK, and a conclusion without a vector is still listed and
    recalled by recency."""
    try:
        return list(await conclusion_blobs(deps.embedder, texts))
    except EmbeddingError as exc:
        log.warning("embedding %d new conclusion(s) failed; storing them without vectors: %s", len(texts), exc)
        return [None] * len(texts)


async def create(deps: Deps, workspace_name: str, items: list[ConclusionInput]) -> list[Conclusion]:
    """Store each item as an explicit conclusion (no dedup on this path); returned in request order. An app's
    conclusion is not derived: every generation still derived into gets its own copy (a switch loses none)."""
    limit = deps.settings.limits.embedding_max_input_tokens
    for number, item in enumerate(items):
        check_not_scope("observer_id", item.observer)
        check_not_scope("observed_id", item.observed)
        check_embeddable(item.content, f"conclusions[{number}].content", limit)
    async with deps.db.read() as conn:
        await _resolve(conn, workspace_name, items)  # refuse before paying for embeddings
    vectors = await _vectors(deps, [i.content for i in items])  # no transaction held meanwhile
    now = deps.now()
    async with deps.db.write() as conn:
        found = await _resolve(conn, workspace_name, items)
        rows = [NewConclusion(observer_pk=found.peers[i.observer], observed_pk=found.peers[i.observed],
                              session_pk=found.sessions[i.session] if i.session is not None else None,
                              content=i.content, observed_at=now, embedding=vector)
                for i, vector in zip(items, vectors, strict=True)]
        uids = await repo.insert(conn, found.workspace.pk, found.workspace.generation_pk, rows, now)
        for generation in await generation_repo.live(conn, found.workspace.pk):
            if generation.pk != found.workspace.generation_pk:
                await repo.insert(conn, found.workspace.pk, generation.pk, rows, now)
        stored = {c.uid: c for c in await repo.by_uids(conn, found.workspace.pk, found.workspace.name,
                                                           found.workspace.generation_pk, uids)}
    return [stored[uid] for uid in uids]


async def list_page(deps: Deps, workspace_name: str, filters: dict[str, Any] | None, page: int, size: int,
                    reverse: bool, generation: str | None = None) -> Page[Conclusion]:
    """The generation's conclusions (the active one unless `generation` names another)."""
    async with deps.db.read() as conn:
        ws = await workspaces.serving(conn, workspace_name, generation)
        if ws is None:
            repo.condition(deps.db.dialect, workspace_name, filters)  # a bad filter is still a 422
            return Page([], 0, page, size)
        return await repo.list_page(conn, deps.db.dialect, ws, filters, page, size, reverse)


def _not_found(uid: str, workspace_name: str) -> NotFound:
    return NotFound(f"Conclusion {uid} not found in workspace {workspace_name}")


async def get(deps: Deps, workspace_name: str, uid: str, generation: str | None = None) -> Conclusion:
    async with deps.db.read() as conn:
        ws = await workspaces.serving(conn, workspace_name, generation)
        found = await repo.get(conn, ws, uid) if ws else None
    if found is None:
        raise _not_found(uid, workspace_name)
    return found


async def delete(deps: Deps, workspace_name: str, uid: str) -> Receipt:
    """Delete a conclusion and what rests on it (services/cascade.py); NotFound when there is none."""
    return await cascade.delete_conclusion(deps, workspace_name, uid)


def _collection_names(filters: dict[str, Any] | None) -> tuple[str, str]:
    filters = filters or {}
    names = []
    for key in ("observer", "observed"):
        given = [filters[k] for k in (f"{key}_id", key) if k in filters]
        if not given:
            raise ValidationError(QUERY_SHAPE)
        if not all(isinstance(v, str) and v for v in given) or len(set(given)) > 1:
            raise ValidationError(f"{key}_id must be one peer id (a non-empty string); {QUERY_SHAPE}")
        names.append(given[0])
    return names[0], names[1]


@dataclass(frozen=True, slots=True)
class ConclusionQuery:
    text: str
    top_k: int
    max_distance: float | None
    filters: dict[str, Any] | None


async def query(deps: Deps, workspace_name: str, q: ConclusionQuery, generation: str | None = None
                ) -> list[Conclusion]:
    """The collection's conclusions closest in meaning to the query, most similar first.

    A query without content words matches nothing. When the embedder fails, conclusions containing any of the
    query's words are returned newest first instead (an answer by words beats an error the SDK would retry)."""
    observer, observed = _collection_names(q.filters)
    check_embeddable(q.text, "query", deps.settings.limits.embedding_max_input_tokens)
    words = query_terms(q.text)
    vector = await query_vector(deps, q.text) if words else None  # before any connection is taken
    async with deps.db.read() as conn:
        where = repo.condition(deps.db.dialect, workspace_name, q.filters)  # a bad filter is a 422 even here
        ws = await workspaces.serving(conn, workspace_name, generation)
        if ws is None or not words:
            return []
        rows = await peer_repo.find_many(conn, ws.pk, [observer, observed])
        if observer not in rows or observed not in rows:
            return []
        scope = repo.Collection.of(ws, rows[observer].id, rows[observed].id)
        extra = [where] if where is not None else []
        if vector is not None:
            return await repo.nearest(conn, scope, vector, q.top_k, q.max_distance, extra)
        return await repo.containing_any(conn, deps.db.dialect, scope, words, q.top_k, extra)
