"""Working representations (spec 15.2-15.3): what an observer holds about a peer, composed from its most
relevant, most reinforced and most recent conclusions and rendered as markdown. Also the peer context
(representation + card, spec 6.9) and the session allowlist of spec 11.2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.conclusions import MAX_CONCLUSIONS, Conclusion, render_markdown, shares
from honcho_server.domain.ids import NAME_RE
from honcho_server.domain.models import Workspace
from honcho_server.errors import NotFound, ValidationError
from honcho_server.services import scopes, workspaces
from honcho_server.services.conclusions import check_not_scope
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import query_vector
from honcho_server.store.repos import conclusions as repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos.conclusions import Collection

MAX_ALLOWLIST = 1000
ALLOWLIST_SHAPE = ('filters must be {"session_id": "<session id>"}, {"session_id": ["<id>", ...]} or '
                   '{"session_id": {"in": ["<id>", ...]}}')


@dataclass(frozen=True, slots=True)
class Recall:
    """How a representation is curated (spec 6.6 / 6.9 / 7.12)."""

    max_conclusions: int = MAX_CONCLUSIONS
    search_query: str | None = None
    search_top_k: int | None = None
    search_max_distance: float | None = None
    include_most_frequent: bool = False


def session_allowlist(filters: dict[str, Any] | None) -> list[str] | None:
    """The constrained `filters` of spec 11.2 as a list of session ids (deduplicated, in order); None when no
    filter is given. Anything else is a ValidationError."""
    if filters is None:
        return None
    if set(filters) != {"session_id"}:
        raise ValidationError(f"only session_id may be filtered on here; {ALLOWLIST_SHAPE}")
    value = filters["session_id"]
    if isinstance(value, dict):
        if set(value) != {"in"}:
            raise ValidationError(f"unsupported session_id filter; {ALLOWLIST_SHAPE}")
        value = value["in"]
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list):
        raise ValidationError(f"unsupported session_id filter; {ALLOWLIST_SHAPE}")
    check_session_ids(ids, "filters.session_id")
    return list(dict.fromkeys(ids))


def allowlist(session_id: str | None, filters: dict[str, Any] | None) -> list[str] | None:
    """The sessions a representation request confines recall to: `session_id` alone (which must then be in
    the `filters` allowlist, when one is given too), else the `filters` allowlist, else none."""
    allowed = session_allowlist(filters)
    if session_id is None:
        return allowed
    if allowed is not None and session_id not in allowed:
        raise ValidationError("session_id must be included in filters.session_id")
    return [session_id]


def check_session_ids(ids: list[Any], where: str) -> None:
    if len(ids) > MAX_ALLOWLIST:
        raise ValidationError(f"{where} may list at most {MAX_ALLOWLIST} sessions, not {len(ids)}")
    for value in ids:
        if not isinstance(value, str) or NAME_RE.match(value) is None:
            raise ValidationError(f"{where} entries must be session ids (letters, digits, '_' or '-'): "
                                  f"{str(value)[:100]!r}")


async def prepare(deps: Deps, recall: Recall) -> np.ndarray | None:
    """The search query's vector, when there is a query and it can be embedded (failures degrade silently to
    a representation without its semantic part). Called before any transaction is opened."""
    if not recall.search_query:
        return None
    return await query_vector(deps, recall.search_query)


def _add(chosen: dict[int, Conclusion], found: list[Conclusion], room: int) -> None:
    """Add up to `room` of `found` (in order) that are not chosen yet."""
    for c in found:
        if room <= 0:
            return
        if c.pk not in chosen:
            chosen[c.pk] = c
            room -= 1


async def compose(conn: AsyncConnection, scope: Collection, recall: Recall, vector: np.ndarray | None
                  ) -> list[Conclusion]:
    """Semantic matches, then the most reinforced, then the newest, deduplicated, up to `max_conclusions`.

    When a share comes back short (fewer matches within the distance, or picks shared with another share), the
    newest conclusions fill the room left, so a representation is only smaller than asked when the
    collection itself is."""
    total = recall.max_conclusions
    split = shares(total, semantic=vector is not None, top_k=recall.search_top_k,
                   most_derived=recall.include_most_frequent)
    chosen: dict[int, Conclusion] = {}
    if vector is not None and split.semantic:
        _add(chosen, await repo.nearest(conn, scope, vector, split.semantic, recall.search_max_distance),
             split.semantic)
    if split.most_derived:
        frequent = await repo.most_derived(conn, scope, split.most_derived + len(chosen))
        _add(chosen, frequent, split.most_derived)
    _add(chosen, await repo.recent(conn, scope, total), total - len(chosen))
    return list(chosen.values())


async def render(conn: AsyncConnection, scope: Collection, recall: Recall, vector: np.ndarray | None) -> str:
    """The composed representation as markdown; derived conclusions list the premises they rest on."""
    chosen = await compose(conn, scope, recall, vector)
    premise_ids = [uid for c in chosen if c.level != "explicit" for uid in c.source_ids or []]
    premises = {p.uid: p.content for p in await repo.by_uids(conn, scope.workspace_pk, scope.workspace_name,
                                                               scope.generation_pk, premise_ids)}
    return render_markdown(chosen, premises)


async def collection(conn: AsyncConnection, ws: Workspace, observer_pk: int, observed_pk: int,
                     sessions: list[str] | None) -> Collection:
    """Which conclusions a representation may draw from: explicit ones of the (active) allowlisted sessions
    only, when there is an allowlist."""
    session_pks = None
    if sessions is not None:
        session_pks = tuple((await session_repo.active_pks(conn, ws.pk, sessions)).values())
    return Collection.of(ws, observer_pk, observed_pk, session_pks)


async def _workspace_and_peers(conn: AsyncConnection, workspace_name: str, observer: str, observed: str,
                               generation: str | None) -> tuple[Workspace | None, dict[str, Any]]:
    """The workspace (reading `generation`, else its active one) and the rows of those of the two peers that
    exist (scope names refused first)."""
    check_not_scope("peer", observer)
    check_not_scope("target", observed)
    ws = await workspaces.serving(conn, workspace_name, generation)
    return ws, (await peer_repo.find_many(conn, ws.pk, [observer, observed]) if ws else {})


async def representation(deps: Deps, workspace_name: str, observer: str, observed: str,
                         sessions: list[str] | None, recall: Recall, scope: str | list[str] | None = None,
                         generation: str | None = None) -> str:
    """`observer`'s working representation of `observed`, confined to `sessions` when given (then explicit
    conclusions of those sessions only). Unknown peers have an empty representation. A `scope` name reads that
    scope's own view instead of the observer's; a list of scopes confines to their sessions (services/scopes)."""
    vector = await prepare(deps, recall)
    async with deps.db.read() as conn:
        ws, rows = await _workspace_and_peers(conn, workspace_name, observer, observed, generation)
        if isinstance(scope, str):
            held = await scopes.require(conn, ws, workspace_name, scope)
            if ws is None or observed not in rows:
                return ""
            return await render(conn, scopes.collection(ws, held, rows[observed].id), recall, vector)
        if scope is not None:
            sessions = await scopes.union_sessions(conn, ws, workspace_name, scope)
        if ws is None or observer not in rows or observed not in rows:
            return ""
        confined = await collection(conn, ws, rows[observer].id, rows[observed].id, sessions)
        return await render(conn, confined, recall, vector)


@dataclass(frozen=True, slots=True)
class PeerContext:
    representation: str
    card: list[str] | None


async def peer_context(deps: Deps, workspace_name: str, observer: str, observed: str, recall: Recall,
                       generation: str | None = None) -> PeerContext:
    """Representation and card in one read (never session-restricted). NotFound when the observer is missing."""
    vector = await prepare(deps, recall)
    async with deps.db.read() as conn:
        ws, rows = await _workspace_and_peers(conn, workspace_name, observer, observed, generation)
        if ws is None or observer not in rows:
            raise NotFound(f"Peer {observer} not found in workspace {workspace_name}")
        if observed not in rows:
            return PeerContext("", None)
        scope = Collection.of(ws, rows[observer].id, rows[observed].id)
        return PeerContext(await render(conn, scope, recall, vector),
                           await card_repo.get(conn, ws.generation_pk, scope.observer_pk, scope.observed_pk))
