"""Peers: get-or-create, update, list, sessions of a peer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.credentials import Principal
from honcho_server.domain.ids import peer_name_problem
from honcho_server.domain.models import Page, Peer, Session
from honcho_server.errors import NotFound, Unauthorized, ValidationError
from honcho_server.services import access, workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import peers as repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo


def check_new_names(names: Iterable[str], existing: Iterable[str]) -> None:
    """Names that would create peers must be valid peer names."""
    known = set(existing)
    for name in names:
        if name not in known and (problem := peer_name_problem(name)):
            raise ValidationError(problem)


async def ensure_many(conn: AsyncConnection, deps: Deps, workspace_pk: int, names: list[str], *,
                      caller: Principal | None = None) -> dict[str, Any]:
    """Rows of the named peers, creating the missing ones (validated) in the caller's transaction; a peer or
    session key may create none but its own peer (Unauthorized)."""
    # No peer name holds a NUL (creation refuses it), and PostgreSQL rejects one even in a lookup.
    check_new_names([n for n in names if "\x00" in n], ())
    rows = await repo.find_many(conn, workspace_pk, names)
    missing = [n for n in dict.fromkeys(names) if n not in rows]
    if missing:
        access.check_creates_peers(caller, missing)
        check_new_names(missing, ())
        await repo.insert_missing(conn, deps.db.dialect, workspace_pk, missing, deps.now())
        rows.update(await repo.find_many(conn, workspace_pk, missing))
    return rows


async def get_or_create(
    deps: Deps, workspace_name: str, name: str, metadata: dict[str, Any] | None,
    configuration: dict[str, Any] | None, *, caller: Principal | None = None,
) -> tuple[Peer, bool]:
    """Existing peers get metadata / configuration replaced when provided. A peer or session key creates no
    peer but its own, and changes no other peer's metadata or configuration (Unauthorized)."""
    async with deps.db.write() as conn:
        ws = await workspaces.ensure(conn, deps, workspace_name)
        peer = await repo.find(conn, ws.pk, name, ws.name)
        if peer is None:
            access.check_creates_peers(caller, [name])
            check_new_names([name], ())
            await repo.insert_missing(conn, deps.db.dialect, ws.pk, [name], deps.now(), metadata, configuration)
            return await _require(conn, ws.pk, name, ws.name), True
        if (metadata is not None or configuration is not None) and access.confined(caller) and \
                name != (caller.peer if caller else None):
            raise Unauthorized(access.NOT_PERMITTED)  # as PUT .../peers/{peer} refuses it: no way round that
        await _apply(conn, peer, metadata, configuration)
        return peer, False


async def update(
    deps: Deps, workspace_name: str, name: str, metadata: dict[str, Any] | None, configuration: dict[str, Any] | None,
) -> Peer:
    peer, _ = await get_or_create(deps, workspace_name, name, metadata, configuration)
    return peer


async def _apply(conn: AsyncConnection, peer: Peer, metadata: dict[str, Any] | None,
                 configuration: dict[str, Any] | None) -> None:
    values: dict[str, Any] = {}
    if metadata is not None and metadata != peer.metadata:
        values["metadata"] = peer.metadata = metadata
    if configuration is not None and configuration != peer.configuration:
        values["configuration"] = peer.configuration = configuration
    if values:
        await repo.update_fields(conn, peer.pk, **values)


async def _require(conn: AsyncConnection, workspace_pk: int, name: str, workspace_name: str) -> Peer:
    peer = await repo.find(conn, workspace_pk, name, workspace_name)
    if peer is None:
        raise NotFound(f"Peer {name} not found in workspace {workspace_name}")
    return peer


async def list_page(
    deps: Deps, workspace_name: str, filters: dict[str, Any] | None, page: int, size: int, reverse: bool,
    kind: str | None = None,
) -> Page[Peer]:
    async with deps.db.read() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        if ws is None:
            return Page([], 0, page, size)
        return await repo.list_page(conn, deps.db.dialect, ws.pk, ws.name, filters, page, size, reverse, kind)


async def sessions_of(
    deps: Deps, workspace_name: str, peer_name: str, filters: dict[str, Any] | None, page: int, size: int,
    reverse: bool,
) -> Page[Session]:
    """Active sessions the peer has a membership in (including ones it has left)."""
    async with deps.db.read() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        peer = await repo.find(conn, ws.pk, peer_name, ws.name) if ws else None
        if ws is None or peer is None:
            return Page([], 0, page, size)
        return await session_repo.list_page(conn, deps.db.dialect, ws.pk, ws.name, filters, page, size, reverse,
                                            active_only=True, member_pk=peer.pk)
