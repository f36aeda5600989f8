"""Resolving the ids of a v1 path: app, user and session ids are v3 workspace, peer and session names
(docs/v1-api.md §3.2). Anything missing is a NotFound (404)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Peer, Session, Workspace
from honcho_server.errors import NotFound
from honcho_server.services.v1 import names
from honcho_server.store.repos import sessions as session_repo


@dataclass(frozen=True, slots=True)
class Owner:
    """The app and user a v1 path names."""

    workspace: Workspace
    peer: Peer

    @property
    def app_id(self) -> str:
        return self.workspace.name

    @property
    def user_id(self) -> str:
        return self.peer.name


async def user(conn: AsyncConnection, app_id: str, user_id: str) -> Owner:
    """The app and user of the path (neither a scope's hidden peer nor the app's assistant is a user)."""
    ws = await names.require_app(conn, app_id)
    return Owner(ws, await names.require_user(conn, ws, user_id))


async def member_session(conn: AsyncConnection, owner: Owner, session_id: str) -> Session:
    """An active session the user is (or was) a member of."""
    return await names.require_session(conn, owner.workspace, owner.user_id, session_id)


async def member_session_by_pk(conn: AsyncConnection, owner: Owner, session_pk: int) -> Session:
    """The same check for a session known by its key (the one a message is in)."""
    name = await session_repo.name_of(conn, session_pk)
    if name is None:
        raise NotFound("Session not found")
    return await member_session(conn, owner, name)
