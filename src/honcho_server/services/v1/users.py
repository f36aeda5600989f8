"""v1 users: the peers of a workspace seen by their v1 names (scopes' peers and the app's assistant left out)."""

from __future__ import annotations

from typing import Any

from honcho_server.domain.credentials import Principal
from honcho_server.domain.models import Page
from honcho_server.errors import Conflict
from honcho_server.services import access, peers
from honcho_server.services.deps import Deps
from honcho_server.services.v1 import names
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import v1_names as repo


async def create(deps: Deps, app_id: str, name: str, metadata: dict[str, Any] | None, *, caller: Principal,
                 exist_ok: bool) -> names.User:
    """A new user of an existing app (409 when the name is taken, unless `exist_ok`). A key below workspace level
    creates no user but its own peer (401)."""
    async with deps.db.write() as conn:
        ws = await names.require_app(conn, app_id)
        found = await names.user_by_name(conn, ws, name)
        if found is not None:
            access.require_claims(caller, workspace=app_id, peer=found.name)  # before saying it exists
            if not exist_ok:
                raise Conflict(f"A user named {name[:100]!r} already exists in app {app_id}")
            return await names.user(conn, found)

        async def taken(candidate: str) -> bool:
            return await peer_repo.find(conn, ws.pk, candidate, ws.name) is not None

        user_id = await names.choose_id(name, taken)
        access.require_claims(caller, workspace=app_id, peer=user_id)
        access.check_creates_peers(caller, [user_id])
        if not await peer_repo.insert_missing(conn, deps.db.dialect, ws.pk, [user_id], deps.now(), metadata):
            raise Conflict(f"A user named {name[:100]!r} already exists in app {app_id}")  # created meanwhile
        peer = await peer_repo.find(conn, ws.pk, user_id, ws.name)
        assert peer is not None  # inserted just now, in this transaction
        if user_id != name:
            await repo.set_user_alias(conn, deps.db.dialect, ws.pk, peer.pk, name)
        return names.User(peer, name)


async def get(deps: Deps, app_id: str, user_id: str) -> names.User:
    async with deps.db.read() as conn:
        ws = await names.require_app(conn, app_id)
        return await names.user(conn, await names.require_user(conn, ws, user_id))


async def by_name(deps: Deps, app_id: str, name: str) -> names.User | None:
    async with deps.db.read() as conn:
        ws = await names.require_app(conn, app_id)
        peer = await names.user_by_name(conn, ws, name)
        return await names.user(conn, peer) if peer is not None else None


async def update(deps: Deps, app_id: str, user_id: str, name: str | None, metadata: dict[str, Any] | None
                 ) -> names.User:
    """Metadata replaced when given; a new name is an alias (the id stays), unique in the app (409)."""
    async with deps.db.write() as conn:
        ws = await names.require_app(conn, app_id)
        peer = await names.require_user(conn, ws, user_id)
        if metadata is not None:
            await peer_repo.update_fields(conn, peer.pk, metadata=metadata)
            peer.metadata = metadata
        current = await names.user(conn, peer)
        if name is not None and name != current.name:
            await names.check_user_name_free(conn, ws, name, peer.pk)
            await repo.set_user_alias(conn, deps.db.dialect, ws.pk, peer.pk, None if name == peer.name else name)
            current.name = name
        return current


async def list_page(deps: Deps, app_id: str, given: dict[str, Any] | None, page: int, size: int, reverse: bool
                    ) -> Page[names.User]:
    async with deps.db.read() as conn:
        ws = await names.require_app(conn, app_id)
        assistant = await repo.assistant_of(conn, ws.pk)
    exclude = [assistant.name] if assistant is not None else None
    found = await peers.list_page(deps, app_id, metadata_filter(given, exclude_ids=exclude), page, size, reverse)
    async with deps.db.read() as conn:
        return Page(await names.users(conn, found.items), found.total, found.page, found.size)
