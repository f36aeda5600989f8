"""Access facts the authorization layer needs from the database, and the confinement rules of keys below
workspace level that can only be checked where the data is written (README, "Authentication")."""

from __future__ import annotations

from collections.abc import Iterable

from honcho_server.domain.credentials import Principal
from honcho_server.errors import Unauthorized
from honcho_server.services.deps import Deps
from honcho_server.store.repos import sessions as session_repo

NOT_PERMITTED = "JWT not permissioned for this resource"


async def check_reach(deps: Deps, principal: Principal, *, workspace: str | None, peer: str | None = None,
                      session: str | None = None, admin_only: bool = False, member_read: bool = False) -> None:
    """Whether a key may touch the resource these ids name (spec 13.2), for every transport (HTTP routes through
    api/policy.py, MCP tools): raises Unauthorized on a refusal."""
    if principal.admin:
        return
    if admin_only:
        raise Unauthorized("Resource requires admin privileges")
    # Not admin, so scoped to a workspace (Principal checks it); the None test only narrows the type.
    if workspace is None or principal.workspace is None or principal.workspace != workspace:
        raise Unauthorized(NOT_PERMITTED)
    if principal.kind == "session":
        if session is None or session != principal.session:
            raise Unauthorized(NOT_PERMITTED)
    elif principal.kind == "peer":
        if peer is not None and peer == principal.peer:
            return
        if not (member_read and session is not None
                and await is_active_member(deps, principal.workspace, session, principal.peer)):
            raise Unauthorized(NOT_PERMITTED)


def require_claims(principal: Principal, *, workspace: str, peer: str | None = None,
                   session: str | None = None) -> None:
    """Self-authorising operations: the key's claims must match the resource named in the body."""
    if principal.admin:
        return
    if principal.workspace != workspace:
        raise Unauthorized("Unauthorized access to resource")
    if principal.peer is not None and peer is not None and principal.peer != peer:
        raise Unauthorized("Unauthorized access to resource")
    if principal.session is not None and session is not None and principal.session != session:
        raise Unauthorized("Unauthorized access to resource")


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
