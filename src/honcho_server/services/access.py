"""Access facts the authorization layer needs from the database."""

from __future__ import annotations

from honcho_server.services.deps import Deps
from honcho_server.store.repos import sessions as session_repo


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
