"""v1 ids and names (docs/v1-api.md §3.2): a v1 id is the v3 name; a v1 name v3 cannot take as an id (free text, a
route keyword, or an id already taken) gets a derived id and is kept as an alias. Renames change the alias only."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import SCOPE_PREFIX, is_valid_name
from honcho_server.domain.models import Peer, Session, Workspace
from honcho_server.errors import Conflict, NotFound
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import v1_names as repo
from honcho_server.store.repos import workspaces as workspace_repo

# Ids that make two SDK routes collide (`…/users/name/…`, `…/get_or_create/…`), and the assistant's own name: a v1
# app or user created with one of these names gets a derived id instead.
RESERVED = frozenset({"name", "get_or_create", "assistant"})
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(slots=True)
class App:
    ws: Workspace
    name: str  # the v1 name: the alias, else the id


@dataclass(slots=True)
class User:
    peer: Peer
    name: str


def derived_id(name: str, attempt: int = 0) -> str:
    """Up to 40 characters of the name (runs of disallowed characters as `_`), `-`, and 8 hex digits of its SHA-256
    (8 more per attempt, should one collide)."""
    stem = _DISALLOWED.sub("_", name[:40]) or "_"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{stem}-{digest[: 8 * (attempt + 1)]}"


async def choose_id(name: str, taken: Callable[[str], Awaitable[bool]]) -> str:
    """The id a new v1 name gets: the name itself when v3 can take it, else a derived one."""
    if is_valid_name(name) and name not in RESERVED and not await taken(name):
        return name
    for attempt in range(8):
        candidate = derived_id(name, attempt)
        if not await taken(candidate):
            return candidate
    raise Conflict(f"No id could be derived for the name {name[:100]!r}")  # 2^-256 odds


# ---- apps ------------------------------------------------------------------------------------------------------


async def require_app(conn: AsyncConnection, app_id: str) -> Workspace:
    ws = await workspace_repo.find(conn, app_id)
    if ws is None:
        raise NotFound(f"App {app_id} not found")
    return ws


async def app_by_name(conn: AsyncConnection, name: str) -> Workspace | None:
    """The app whose v1 name is `name`: an alias first, then an id that has no alias."""
    aliased = await repo.workspace_of_alias(conn, name)
    if aliased is not None:
        return await workspace_repo.find(conn, aliased)
    ws = await workspace_repo.find(conn, name)
    if ws is None or await repo.app_aliases(conn, [ws.pk]):
        return None
    return ws


async def apps(conn: AsyncConnection, found: list[Workspace]) -> list[App]:
    aliases = await repo.app_aliases(conn, [w.pk for w in found])
    return [App(w, aliases.get(w.pk, w.name)) for w in found]


async def app(conn: AsyncConnection, ws: Workspace) -> App:
    return (await apps(conn, [ws]))[0]


async def check_app_name_free(conn: AsyncConnection, name: str, own_pk: int | None = None) -> None:
    holder = await app_by_name(conn, name)
    if holder is not None and holder.pk != own_pk:
        raise Conflict(f"An app named {name[:100]!r} already exists")


# ---- users -----------------------------------------------------------------------------------------------------


async def assistant_pk(conn: AsyncConnection, ws: Workspace) -> int | None:
    row = await repo.assistant_of(conn, ws.pk)
    return row.id if row is not None else None


def _is_user(peer: Peer | None, assistant: int | None) -> bool:
    """Whether a peer is visible as a v1 user: not the app's assistant, not a scope's hidden peer."""
    return peer is not None and peer.pk != assistant and not peer.name.startswith(SCOPE_PREFIX)


async def require_user(conn: AsyncConnection, ws: Workspace, user_id: str) -> Peer:
    peer = await peer_repo.find(conn, ws.pk, user_id, ws.name)
    if peer is None or not _is_user(peer, await assistant_pk(conn, ws)):
        raise NotFound(f"User {user_id} not found in app {ws.name}")
    return peer


async def user_by_name(conn: AsyncConnection, ws: Workspace, name: str) -> Peer | None:
    """The user whose v1 name is `name`: an alias first, then an id that has no alias (never the assistant)."""
    peer_name = await repo.peer_of_alias(conn, ws.pk, name)
    peer = await peer_repo.find(conn, ws.pk, peer_name or name, ws.name)
    if peer is None or not _is_user(peer, await assistant_pk(conn, ws)):
        return None
    if peer_name is None and await repo.user_aliases(conn, [peer.pk]):
        return None
    return peer


async def users(conn: AsyncConnection, found: list[Peer]) -> list[User]:
    aliases = await repo.user_aliases(conn, [p.pk for p in found])
    return [User(p, aliases.get(p.pk, p.name)) for p in found]


async def user(conn: AsyncConnection, peer: Peer) -> User:
    return (await users(conn, [peer]))[0]


async def check_user_name_free(conn: AsyncConnection, ws: Workspace, name: str, own_pk: int | None = None) -> None:
    holder = await user_by_name(conn, ws, name)
    if holder is not None and holder.pk != own_pk:
        raise Conflict(f"A user named {name[:100]!r} already exists in app {ws.name}")


# ---- sessions --------------------------------------------------------------------------------------------------


async def require_session(conn: AsyncConnection, ws: Workspace, user_id: str, session_id: str) -> Session:
    """An active session the user is (or was) a member of: v1 sees sessions through their users."""
    session = await session_repo.find(conn, ws.pk, session_id, ws.name)
    if session is None or not session.is_active or user_id not in await session_repo.memberships(conn, session.pk):
        raise NotFound(f"Session {session_id} not found for user {user_id}")
    return session


async def require_path(conn: AsyncConnection, app_id: str, user_id: str, session_id: str | None = None
                       ) -> tuple[Workspace, Peer, Session | None]:
    """The app, user and (when named) session of a v1 path, each a 404 when missing."""
    ws = await require_app(conn, app_id)
    peer = await require_user(conn, ws, user_id)
    session = await require_session(conn, ws, user_id, session_id) if session_id is not None else None
    return ws, peer, session
