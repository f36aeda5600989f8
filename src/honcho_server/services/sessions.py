"""Sessions: get-or-create with peers, update, delete, clone, and membership management."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.configuration import ScopeConfiguration, SessionPeerConfig, shallow_merge
from honcho_server.domain.credentials import Principal
from honcho_server.domain.ids import SCOPE_PREFIX, new_id
from honcho_server.domain.models import Page, Peer, Session
from honcho_server.errors import NotFound, ObserverLimit, Unauthorized, ValidationError
from honcho_server.queue import jobs
from honcho_server.services import access, peers, workspaces
from honcho_server.services import scopes as scope_service
from honcho_server.services.configs import check_scope_configuration
from honcho_server.services.deps import Deps
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as repo
from honcho_server.store.repos import workspaces as workspace_repo

PeerMap = dict[str, SessionPeerConfig]


def _not_found(name: str, workspace: str) -> NotFound:
    return NotFound(f"Session {name} not found in workspace {workspace}")


async def find_active(conn: AsyncConnection, workspace_name: str, name: str) -> Session | None:
    session = await repo.find_by_names(conn, workspace_name, name)
    return session if session and session.is_active else None


async def require_active(conn: AsyncConnection, workspace_name: str, name: str) -> Session:
    session = await find_active(conn, workspace_name, name)
    if session is None:
        raise _not_found(name, workspace_name)
    return session


async def ensure(
    conn: AsyncConnection, deps: Deps, workspace_name: str, name: str, *,
    metadata: dict[str, Any] | None = None, configuration: dict[str, Any] | None = None,
) -> tuple[Session, bool]:
    """Get or create an active session inside the caller's transaction; inactive ones are 404."""
    ws = await workspaces.ensure(conn, deps, workspace_name)
    session = await repo.find(conn, ws.pk, name, ws.name)
    if session is None:
        workspaces.check_implicit_name("Session", name)
        created = await repo.insert_if_missing(conn, deps.db.dialect, ws.pk, ws.name, name, metadata or {},
                                               configuration or {}, deps.now())
        if created:
            return created, True
        session = await repo.find(conn, ws.pk, name, ws.name)
    if session is None or not session.is_active:
        raise _not_found(name, workspace_name)
    values: dict[str, Any] = {}
    if metadata is not None:
        values["metadata"] = session.metadata = metadata
    if configuration is not None:
        values["configuration"] = session.configuration = shallow_merge(session.configuration, configuration)
    if values:
        await repo.update_fields(conn, session.pk, **values)
    return session, False


def _stored_config(deps: Deps, configuration: ScopeConfiguration | None) -> dict[str, Any] | None:
    if configuration is None:
        return None
    return check_scope_configuration(configuration, deps.settings.limits.custom_instructions_tokens)


async def get_or_create(
    deps: Deps, workspace_name: str, name: str, metadata: dict[str, Any] | None,
    configuration: ScopeConfiguration | None, peer_map: PeerMap | None, *, caller: Principal | None = None,
    scopes: list[str] | None = None,
) -> tuple[Session, bool]:
    """A peer or session key creating the session may name any members (new peers included); on an existing
    session it is confined (`_check_peer_key` and the peer rule of `peers.ensure_many`). A refusal raises
    inside the transaction, so nothing is written."""
    stored = _stored_config(deps, configuration)
    async with deps.db.write() as conn:
        session, created = await ensure(conn, deps, workspace_name, name, metadata=metadata,
                                        configuration=stored)
        if not created:
            await _check_peer_key(conn, session, caller, peer_map or {},
                                  changes=metadata is not None or stored is not None)
        if peer_map:
            await _add_peers(conn, deps, session, peer_map, replace=False, caller=None if created else caller)
        if scopes:  # each created if missing; the session joins (spec 7.2)
            ws = await workspace_repo.find(conn, workspace_name)
            assert ws is not None  # ensured with the session
            await scope_service.join_many(conn, deps, ws, scopes, session)
        return session, created


async def _check_peer_key(conn: AsyncConnection, session: Session, caller: Principal | None, peer_map: PeerMap,
                          *, changes: bool) -> None:
    """A peer key reaches an existing session only as one of its active members, and changes nothing there:
    no metadata or configuration, no member who is not active already (as `PUT .../sessions/{s}` and the
    membership routes, which need a session or workspace key). Otherwise 401, the policy's refusal."""
    if caller is None or caller.kind != "peer":
        return
    members = await repo.memberships(conn, session.pk)

    def active(peer_name: str | None) -> bool:
        member = members.get(peer_name) if peer_name is not None else None
        return member is not None and member.active

    if changes or not active(caller.peer) or not all(active(n) for n in peer_map):
        raise Unauthorized(access.NOT_PERMITTED)


async def update(
    deps: Deps, workspace_name: str, name: str, metadata: dict[str, Any] | None,
    configuration: ScopeConfiguration | None,
) -> Session:
    stored = _stored_config(deps, configuration)
    async with deps.db.write() as conn:
        session, _ = await ensure(conn, deps, workspace_name, name, metadata=metadata, configuration=stored)
        return session


async def list_page(
    deps: Deps, workspace_name: str, filters: dict[str, Any] | None, page: int, size: int, reverse: bool,
) -> Page[Session]:
    async with deps.db.read() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        if ws is None:
            return Page([], 0, page, size)
        return await repo.list_page(conn, deps.db.dialect, ws.pk, ws.name, filters, page, size, reverse)


async def delete(deps: Deps, workspace_name: str, name: str) -> None:
    """Hide the session at once and queue the removal of everything in it."""
    async with deps.db.write() as conn:
        session = await require_active(conn, workspace_name, name)
        await repo.update_fields(conn, session.pk, is_active=False)
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(
            kind="delete_session", work_unit_key=f"delete_session:{session.pk}",
            # By uid: an open purge job of an earlier session with this id (SQLite reuses ids, see
            # purge.session_is) must not absorb this one, or neither job would purge this session.
            dedupe_key=f"delete_session:{session.uid}",
            payload={"session_pk": session.pk, "workspace_pk": session.workspace_pk, "uid": session.uid})],
            deps.now())


async def clone(deps: Deps, workspace_name: str, name: str, message_uid: str | None,
                also: Callable[[AsyncConnection, int, int], Awaitable[None]] | None = None) -> Session:
    """Copy a session (optionally up to a message): metadata, configuration, messages, memberships; `also(conn,
    original key, copy key)` copies more in the same transaction (v1's metamessages)."""
    async with deps.db.write() as conn:
        original = await find_active(conn, workspace_name, name)
        if original is None:
            raise NotFound("Original session not found")
        cutoff = None
        if message_uid is not None:
            cutoff = await message_repo.seq_of(conn, original.pk, message_uid)
            if cutoff is None:
                raise NotFound(f"Message {message_uid} not found in session {name}")
        new_name = new_id()
        copy = await repo.insert_if_missing(conn, deps.db.dialect, original.workspace_pk, workspace_name,
                                            new_name, original.metadata, original.configuration, deps.now(),
                                            uid=new_name)
        assert copy is not None  # a fresh random name cannot collide
        rows = await message_repo.rows_up_to(conn, original.pk, cutoff)
        if rows:
            await message_repo.insert_many(conn, [_copied(r, copy.pk) for r in rows])
            await repo.update_fields(conn, copy.pk, last_seq=rows[-1].seq, message_count=len(rows))
        members = await repo.memberships(conn, original.pk)
        await repo.add_members(conn, deps.db.dialect, copy.workspace_pk, copy.pk,
                               {m.peer_pk: (m.observe_me, m.observe_others) for m in members.values() if m.active},
                               deps.now())
        if also is not None:
            await also(conn, original.pk, copy.pk)
        return copy


def _copied(row: Any, session_pk: int) -> dict[str, Any]:
    # Clones keep content, authorship, order, token counts and timestamps; only the ids are new.
    return dict(uid=new_id(), workspace_id=row.workspace_id, session_id=session_pk, peer_id=row.peer_id,
                seq=row.seq, content=row.content, metadata=row.metadata, internal_metadata=row.internal_metadata,
                token_count=row.token_count, created_at=row.created_at)


def _reject_scopes(names: list[str]) -> None:
    for peer_name in names:
        if peer_name.startswith(SCOPE_PREFIX):
            raise ValidationError(f"'{peer_name}' is a scope and cannot be managed as a session peer")


async def _add_peers(conn: AsyncConnection, deps: Deps, session: Session, peer_map: PeerMap, *,
                     replace: bool, caller: Principal | None = None) -> None:
    """Add peers: active members keep their config, new and returning members take the given one. The
    caller's key may create no peer but its own (None: any)."""
    _reject_scopes(list(peer_map))
    rows = await peers.ensure_many(conn, deps, session.workspace_pk, list(peer_map), caller=caller)
    members = await repo.memberships(conn, session.pk)
    fresh: dict[int, tuple[bool | None, bool | None]] = {}
    for peer_name, config in peer_map.items():
        member = members.get(peer_name)
        if member is None:
            fresh[rows[peer_name].id] = (config.observe_me, config.observe_others)
        elif replace or not member.active:
            await repo.set_member(conn, session.pk, member.peer_pk, rejoin=True, now=deps.now(),
                                  observe_me=config.observe_me, observe_others=config.observe_others)
    await repo.add_members(conn, deps.db.dialect, session.workspace_pk, session.pk, fresh, deps.now())
    await _check_observer_limit(conn, deps, session.pk)


async def _check_observer_limit(conn: AsyncConnection, deps: Deps, session_pk: int) -> None:
    limit = deps.settings.limits.session_observers
    if await repo.count_observers(conn, session_pk) > limit:
        raise ObserverLimit(f"A session may have at most {limit} observers (peers with observe_others)")


async def add_peers(deps: Deps, workspace_name: str, name: str, peer_map: PeerMap, *,
                    caller: Principal | None = None) -> Session:
    """Creates the session when missing; the caller's key may then name new peers, else only existing ones."""
    async with deps.db.write() as conn:
        session, created = await ensure(conn, deps, workspace_name, name)
        await _add_peers(conn, deps, session, peer_map, replace=False, caller=None if created else caller)
        return session


async def set_peers(deps: Deps, workspace_name: str, name: str, peer_map: PeerMap, *,
                    caller: Principal | None = None) -> Session:
    """Make the given peers the session's members, with exactly the given configs."""
    async with deps.db.write() as conn:
        session = await require_active(conn, workspace_name, name)
        members = await repo.memberships(conn, session.pk)
        leaving = [m.peer_pk for n, m in members.items() if m.active and n not in peer_map]
        await repo.leave(conn, session.pk, leaving, deps.now())
        await _add_peers(conn, deps, session, peer_map, replace=True, caller=caller)
        return session


async def remove_peers(deps: Deps, workspace_name: str, name: str, peer_names: list[str]) -> Session:
    async with deps.db.write() as conn:
        session = await require_active(conn, workspace_name, name)
        _reject_scopes(peer_names)
        members = await repo.memberships(conn, session.pk)
        await repo.leave(conn, session.pk, [members[n].peer_pk for n in peer_names if n in members], deps.now())
        return session


async def members(deps: Deps, workspace_name: str, name: str, page: int, size: int) -> Page[Peer]:
    async with deps.db.read() as conn:
        session = await find_active(conn, workspace_name, name)
        if session is None:
            return Page([], 0, page, size)
        return await peer_repo.list_session_members(conn, session.pk, workspace_name, page, size)


async def get_peer_config(deps: Deps, workspace_name: str, name: str, peer_name: str) -> SessionPeerConfig:
    _reject_scopes([peer_name])
    async with deps.db.read() as conn:
        session = await require_active(conn, workspace_name, name)
        member = (await repo.memberships(conn, session.pk)).get(peer_name)
        if member is None:
            raise NotFound(f"Peer {peer_name} is not a member of session {name}")
        return SessionPeerConfig(observe_me=member.observe_me, observe_others=member.observe_others)


async def set_peer_config(
    deps: Deps, workspace_name: str, name: str, peer_name: str, config: SessionPeerConfig,
) -> None:
    """Merge the non-null flags into the membership, creating it (as active) when absent."""
    _reject_scopes([peer_name])
    async with deps.db.write() as conn:
        session = await require_active(conn, workspace_name, name)
        peer = await peer_repo.find(conn, session.workspace_pk, peer_name, workspace_name)
        if peer is None:
            raise NotFound(f"Peer {peer_name} not found in workspace {workspace_name}")
        flags = config.model_dump(exclude_none=True)
        member = (await repo.memberships(conn, session.pk)).get(peer_name)
        if member is None:
            await repo.add_members(conn, deps.db.dialect, session.workspace_pk, session.pk,
                                   {peer.pk: (config.observe_me, config.observe_others)}, deps.now())
        else:
            await repo.set_member(conn, session.pk, peer.pk, rejoin=False, now=deps.now(), **flags)
        await _check_observer_limit(conn, deps, session.pk)
