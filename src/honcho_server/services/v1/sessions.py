"""v1 sessions: the v3 sessions a user is (or was) a member of, seen under that user (docs/v1-api.md §3.4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.configuration import SessionPeerConfig
from honcho_server.domain.credentials import Principal
from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page, Session
from honcho_server.services import peers, sessions
from honcho_server.services.deps import Deps
from honcho_server.services.v1 import names
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.store.repos import v1_metamessages as metamessage_repo


async def require(deps: Deps, app_id: str, user_id: str, session_id: str) -> Session:
    """The session of the path (404 for an unknown app, user or session, or a session without the user)."""
    async with deps.db.read() as conn:
        _, _, session = await names.require_path(conn, app_id, user_id, session_id)
    assert session is not None  # named, so required
    return session


async def create(deps: Deps, app_id: str, user_id: str, metadata: dict[str, Any] | None, *,
                 caller: Principal) -> Session:
    """A new session with a fresh id and the user as its member."""
    async with deps.db.read() as conn:
        await names.require_path(conn, app_id, user_id)
    session, _ = await sessions.get_or_create(deps, app_id, new_id(), metadata or {}, None,
                                              {user_id: SessionPeerConfig()}, caller=caller)
    return session


async def list_page(deps: Deps, app_id: str, user_id: str, given: dict[str, Any] | None, page: int, size: int,
                    reverse: bool) -> Page[Session]:
    async with deps.db.read() as conn:
        await names.require_path(conn, app_id, user_id)
    return await peers.sessions_of(deps, app_id, user_id, metadata_filter(given), page, size, reverse)


async def update(deps: Deps, app_id: str, user_id: str, session_id: str, metadata: dict[str, Any]) -> Session:
    await require(deps, app_id, user_id, session_id)
    return await sessions.update(deps, app_id, session_id, metadata, None)


async def delete(deps: Deps, app_id: str, user_id: str, session_id: str) -> None:
    """The v3 delete: hidden at once, then purged with everything resting on it."""
    await require(deps, app_id, user_id, session_id)
    await sessions.delete(deps, app_id, session_id)


async def clone(deps: Deps, app_id: str, user_id: str, session_id: str, message_id: str | None,
                deep_copy: bool = False) -> Session:
    """The v3 clone (up to `message_id`); `deep_copy` also copies the session's metamessages, tied to the clone's
    messages, in the same transaction."""
    await require(deps, app_id, user_id, session_id)

    async def metamessages(conn: AsyncConnection, original_pk: int, copy_pk: int) -> None:
        await metamessage_repo.copy_to_clone(conn, original_pk, copy_pk, deps.now())

    return await sessions.clone(deps, app_id, session_id, message_id, metamessages if deep_copy else None)
