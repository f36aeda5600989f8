"""Access facts the authorization layer needs from the database, and the confinement rules of keys below
workspace level that can only be checked where the data is written (README, "Authentication")."""

from __future__ import annotations

from collections.abc import Iterable

from honcho_server.domain.credentials import Principal
from honcho_server.errors import Unauthorized
from honcho_server.services.deps import Deps
from honcho_server.store.repos import sessions as session_repo

NOT_PERMITTED = "JWT not permissioned for this resource"


def confined(caller: Principal | None) -> bool:
    """Whether the caller holds a peer or session key (admin and workspace keys, and internal callers passing
    None, are not confined)."""
    return caller is not None and caller.kind in ("peer", "session")


def check_creates_peers(caller: Principal | None, missing: Iterable[str]) -> None:
    """Keys below workspace level create no peer but their own (the members of a session they create are
    checked by passing no caller). Raises Unauthorized, so the caller's transaction writes nothing."""
    if caller is not None and confined(caller) and any(name != caller.peer for name in missing):
        raise Unauthorized(NOT_PERMITTED)


async def is_active_member(deps: Deps, workspace_name: str, session_name: str, peer_name: str | None) -> bool:
    """Whether the peer is currently a member of the (active) session."""
    if peer_name is None:
        return False
    async with deps.db.read() as conn:
        return await session_repo.is_active_member(conn, workspace_name, session_name, peer_name)


async def is_member_of_all(deps: Deps, workspace_name: str, session_names: list[str], peer_name: str | None) -> bool:
    """Whether the peer is currently a member of every one of the (active) sessions."""
    if peer_name is None:
        return False
    async with deps.db.read() as conn:
        for name in dict.fromkeys(session_names):
            if not await session_repo.is_active_member(conn, workspace_name, name, peer_name):
                return False
    return True
