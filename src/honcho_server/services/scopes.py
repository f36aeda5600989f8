"""Scopes (spec 10.A): named sets of sessions acting as recall boundaries.

A scope `X` keeps its memory under a hidden peer `scope.X` (peer configuration `{"observe_me": false}`, never
listed as a peer). While a session is a member, every message written there is also derived for that peer (it
observes everyone, is observed by no one, and does not count toward the observer limit): the scope's own view.
Membership changes are applied by jobs queued in the same transaction:

* joining (10.4, or `scopes` on session create) with messages already in the session queues a **backfill** that
  copies the session's explicit conclusions into the scope; `status()` shows it pending, then completed (with
  `docs_copied`) or failed (its job parked after its retries);
* leaving (10.5) queues a **removal** that deletes what the scope holds from that session (copies, what was
  derived there, and what rests only on them) and queues card rebuilds; reads through the scope stop seeing the
  session's explicit conclusions at once (`ScopeCollection`).

Reads take a scope in two forms (chat, representation, session context, workspace search): one name reads that
scope's own view (its peer becomes the observer); a list confines recall to the union of the scopes' member
sessions, observer unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import NAME_RE, SCOPE_PREFIX
from honcho_server.domain.models import Page, Session, Workspace
from honcho_server.errors import Conflict, NotFound, ValidationError
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import scopes as repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.repos.scopes import Scope, ScopeCollection

SCOPE_NAME_MAX = 506  # 512 - len("scope.")
MAX_SCOPES = 100
BACKFILL, REMOVAL = "scope_backfill", "scope_removal"
MAX_ALLOWLIST = 1000  # sessions a read may be confined to (spec 11.1)


def peer_name(name: str) -> str:
    return f"{SCOPE_PREFIX}{name}"


def check_name(name: str) -> None:
    if name.startswith(SCOPE_PREFIX):
        raise ValidationError(f"Scope id '{name[:100]}' must not start with '{SCOPE_PREFIX}'")
    if not 0 < len(name) <= SCOPE_NAME_MAX or NAME_RE.match(name) is None:
        raise ValidationError(f"Invalid scope id '{name[:100]}': use 1-{SCOPE_NAME_MAX} letters, digits, '_' or '-'")


def _not_found(name: str, workspace_name: str) -> NotFound:
    return NotFound(f"Scope {name} not found in workspace {workspace_name}")


def unit_key(scope_pk: int, session_pk: int) -> str:
    """Backfills and removals of one session in one scope run one at a time, in order."""
    return f"scope:{scope_pk}:{session_pk}"


# ------------------------------------------------------------------------------------------------- writes


async def ensure(conn: AsyncConnection, deps: Deps, ws: Workspace, name: str, metadata: dict[str, Any] | None = None
                 ) -> tuple[Scope, bool]:
    """Get or create a scope (and its hidden peer) in the caller's transaction; metadata replaced when given."""
    check_name(name)
    found = await repo.find(conn, ws.pk, ws.name, name)
    if found is None:
        hidden = peer_name(name)
        if hidden in await peer_repo.find_many(conn, ws.pk, [hidden]):
            found = await repo.find(conn, ws.pk, ws.name, name)  # made meanwhile by a concurrent request?
            if found is None:
                raise Conflict(f"Peer '{hidden}' already exists and is not a scope")
        else:
            await peer_repo.insert_missing(conn, deps.db.dialect, ws.pk, [hidden], deps.now(),
                                           configuration={"observe_me": False})
            peer_pk = (await peer_repo.find_many(conn, ws.pk, [hidden]))[hidden].id
            created = await repo.insert_if_missing(conn, deps.db.dialect, ws.pk, ws.name, name, peer_pk,
                                                   metadata or {}, deps.now())
            if created is not None:
                return created, True
            found = await repo.find(conn, ws.pk, ws.name, name)
            assert found is not None
    if metadata is not None and metadata != found.metadata:
        await repo.set_metadata(conn, found.pk, metadata)
        found.metadata = metadata
    return found, False


async def get_or_create(deps: Deps, workspace_name: str, name: str, metadata: dict[str, Any] | None
                        ) -> tuple[Scope, bool]:
    async with deps.db.write() as conn:
        ws = await workspaces.ensure(conn, deps, workspace_name)
        return await ensure(conn, deps, ws, name, metadata)


async def join(conn: AsyncConnection, deps: Deps, scope: Scope, members: list[Session]) -> None:
    """Make sessions active members (already-active ones are left alone); each one that holds messages gets a
    backfill, queued in this transaction."""
    known = await repo.members(conn, scope.pk, [s.pk for s in members])
    queued = []
    for session in {s.pk: s for s in members}.values():
        member = known.get(session.pk)
        if member is not None and member.active:
            continue
        backfill = session.message_count > 0
        await repo.join(conn, deps.db.dialect, scope.workspace_pk, scope.pk, session.pk, deps.now(),
                        backfill=backfill)
        if backfill:
            queued.append(NewJob(kind=BACKFILL, work_unit_key=unit_key(scope.pk, session.pk),
                                 workspace_pk=scope.workspace_pk, session_pk=session.pk,
                                 payload={"scope_pk": scope.pk, "session_pk": session.pk}))
    await jobs.enqueue(conn, deps.db.dialect, queued, deps.now())


async def join_many(conn: AsyncConnection, deps: Deps, ws: Workspace, names: list[str], session: Session) -> None:
    """Session creation with `scopes` (spec 7.2): each scope is created if missing and the session joins it."""
    for name in dict.fromkeys(names):
        scope, _ = await ensure(conn, deps, ws, name)
        await join(conn, deps, scope, [session])


async def _require(conn: AsyncConnection, workspace_name: str, name: str) -> tuple[Workspace, Scope]:
    ws = await workspace_repo.find(conn, workspace_name)
    scope = await repo.find(conn, ws.pk, ws.name, name) if ws else None
    if ws is None or scope is None:
        raise _not_found(name, workspace_name)
    return ws, scope


async def add_sessions(deps: Deps, workspace_name: str, name: str, session_names: list[str]) -> None:
    """Spec 10.4: every named session must exist and be active (404 naming the missing ones)."""
    async with deps.db.write() as conn:
        ws, scope = await _require(conn, workspace_name, name)
        wanted = list(dict.fromkeys(session_names))
        found = {n: await session_repo.find(conn, ws.pk, n, ws.name) for n in wanted}
        missing = [n for n, s in found.items() if s is None or not s.is_active]
        if missing:
            raise NotFound(f"Session(s) {missing} not found in workspace {workspace_name}")
        await join(conn, deps, scope, [s for s in found.values() if s is not None])


async def remove_session(deps: Deps, workspace_name: str, name: str, session_name: str) -> None:
    """Spec 10.5: end the membership and queue the removal of what the scope holds from the session."""
    async with deps.db.write() as conn:
        ws, scope = await _require(conn, workspace_name, name)
        session = await session_repo.find(conn, ws.pk, session_name, ws.name)
        if session is None or not await repo.leave(conn, scope.pk, session.pk, deps.now()):
            raise NotFound(f"Session {session_name} not found in scope {name} of workspace {workspace_name}")
        await jobs.enqueue(conn, deps.db.dialect, [NewJob(
            kind=REMOVAL, work_unit_key=unit_key(scope.pk, session.pk), workspace_pk=ws.pk, session_pk=session.pk,
            payload={"scope_pk": scope.pk, "session_pk": session.pk})], deps.now())


# -------------------------------------------------------------------------------------------------- reads


async def get(deps: Deps, workspace_name: str, name: str) -> Scope:
    async with deps.db.read() as conn:
        return (await _require(conn, workspace_name, name))[1]


async def list_page(deps: Deps, workspace_name: str, page: int, size: int, reverse: bool) -> Page[Scope]:
    async with deps.db.read() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        if ws is None:
            return Page([], 0, page, size)
        return await repo.list_page(conn, ws.pk, ws.name, page, size, reverse)


async def sessions_page(deps: Deps, workspace_name: str, name: str, page: int, size: int, reverse: bool
                        ) -> Page[Session]:
    async with deps.db.read() as conn:
        ws, scope = await _require(conn, workspace_name, name)
        return await repo.session_page(conn, scope.pk, ws.name, page, size, reverse)


@dataclass(frozen=True, slots=True)
class BackfillStatus:
    state: str
    updated_at: Any
    docs_copied: int | None


async def status(deps: Deps, workspace_name: str, name: str) -> dict[str, BackfillStatus]:
    """Spec 10.7: each member session's backfill; a pending one whose job was parked after its retries is
    reported failed."""
    async with deps.db.read() as conn:
        _, scope = await _require(conn, workspace_name, name)
        entries = await repo.backfills(conn, scope.pk)
        pending = {unit_key(scope.pk, e.session_pk): e for e in entries if e.state == "pending"}
        parked = await repo.failed_jobs(conn, BACKFILL, list(pending))
    out = {}
    for entry in entries:
        state, at = entry.state, entry.updated_at
        failed = parked.get(unit_key(scope.pk, entry.session_pk)) if state == "pending" else None
        if failed is not None and failed[0] >= entry.updated_at:
            state, at = "failed", failed[1]
        out[entry.session_name] = BackfillStatus(state, at, entry.docs_copied if state == "completed" else None)
    return out


@dataclass(frozen=True, slots=True)
class ReadScope:
    """A read's `scope` resolved: one scope's own view, or an allowlist of the listed scopes' sessions."""

    scope: Scope | None = None
    sessions: list[str] | None = None


def check_read_option(value: str | list[str]) -> None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(value, str) and not 1 <= len(names) <= MAX_SCOPES:
        raise ValidationError(f"scope must list 1 to {MAX_SCOPES} scopes, not {len(names)}")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValidationError("scope entries must be scope ids")


async def require(conn: AsyncConnection, ws: Workspace | None, workspace_name: str, name: str) -> Scope:
    scope = await repo.find(conn, ws.pk, ws.name, name) if ws else None
    if scope is None:
        raise _not_found(name, workspace_name)
    return scope


async def union_sessions(conn: AsyncConnection, ws: Workspace | None, workspace_name: str, names: list[str]
                         ) -> list[str]:
    """The member sessions of all these scopes (deduplicated, first seen first); 404 for an unknown scope,
    422 past the allowlist limit."""
    found = await repo.find_many(conn, ws.pk, ws.name, names) if ws else {}
    for name in names:
        if name not in found:
            raise _not_found(name, workspace_name)
    union = await repo.member_session_names(conn, [found[n].pk for n in dict.fromkeys(names)])
    if len(union) > MAX_ALLOWLIST:
        raise ValidationError(f"the scopes hold {len(union)} sessions; at most {MAX_ALLOWLIST} can confine a read")
    return union


async def member_sessions(deps: Deps, workspace_name: str, names: list[str]) -> list[str]:
    async with deps.db.read() as conn:
        return await union_sessions(conn, await workspace_repo.find(conn, workspace_name), workspace_name, names)


def collection(ws: Workspace, scope: Scope, observed_pk: int, session_pks: tuple[int, ...] | None = None
               ) -> ScopeCollection:
    """What the scope holds about a peer (its own view)."""
    return ScopeCollection.of(ws, scope.peer_pk, observed_pk, session_pks, scope_pk=scope.pk)
