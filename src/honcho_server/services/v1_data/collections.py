"""v1 user collections (docs/v1-api.md §3.6-3.7): named per user, unique by name, with the reserved collection
`honcho` listed first: a virtual one whose documents are the user's conclusions about itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Page
from honcho_server.errors import Conflict, NotFound, ValidationError
from honcho_server.services.deps import Deps
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.services.v1_data import paths
from honcho_server.services.v1_data.paths import Owner
from honcho_server.store.repos import v1_collections as repo
from honcho_server.store.repos.v1_collections import Collection

HONCHO = "honcho"  # the reserved collection's id and name
RESERVED = f"the collection name '{HONCHO}' is reserved"
DERIVED = (f"the collection '{HONCHO}' is the user's derived memory: it cannot be changed or deleted "
           "(its documents can be created and deleted)")


@dataclass(frozen=True, slots=True)
class Found:
    """A collection with the app and user it belongs to (what a response shows)."""

    owner: Owner
    item: Collection


def honcho_of(owner: Owner) -> Collection:
    """The reserved collection: no row of its own, dated like the user so it sorts first."""
    return Collection(pk=0, uid=HONCHO, name=HONCHO, metadata={}, created_at=owner.peer.created_at)


def _check_name(name: str) -> None:
    if name == HONCHO:
        raise ValidationError(RESERVED)


async def _stored(conn: AsyncConnection, owner: Owner, uid: str) -> Collection:
    found = await repo.find(conn, owner.peer.pk, uid)
    if found is None:
        raise NotFound(f"Collection {uid} not found for user {owner.user_id}")
    return found


async def resolve(conn: AsyncConnection, owner: Owner, uid: str) -> Collection:
    """A collection of the user by id, the reserved one included."""
    return honcho_of(owner) if uid == HONCHO else await _stored(conn, owner, uid)


async def create(deps: Deps, app_id: str, user_id: str, name: str, metadata: dict[str, Any] | None) -> Found:
    _check_name(name)
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        await repo.lock_owner(conn, owner.peer.pk)
        if await repo.find_by_name(conn, owner.peer.pk, name) is not None:
            raise Conflict(f"User {user_id} already has a collection named {name}")
        return Found(owner, await repo.insert(conn, owner.workspace.pk, owner.peer.pk, name, metadata or {},
                                              deps.now()))


async def get(deps: Deps, app_id: str, user_id: str, uid: str) -> Found:
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        return Found(owner, await resolve(conn, owner, uid))


async def get_by_name(deps: Deps, app_id: str, user_id: str, name: str) -> Found:
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        found = honcho_of(owner) if name == HONCHO else await repo.find_by_name(conn, owner.peer.pk, name)
    if found is None:
        raise NotFound(f"Collection {name} not found for user {user_id}")
    return Found(owner, found)


async def update(deps: Deps, app_id: str, user_id: str, uid: str, name: str | None,
                 metadata: dict[str, Any] | None) -> Found:
    """Rename and/or replace the metadata (each when not null)."""
    if uid == HONCHO:
        raise ValidationError(DERIVED)
    if name is not None:
        _check_name(name)
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        await repo.lock_owner(conn, owner.peer.pk)
        found = await _stored(conn, owner, uid)
        values: dict[str, Any] = {}
        if name is not None and name != found.name:
            if await repo.find_by_name(conn, owner.peer.pk, name) is not None:
                raise Conflict(f"User {user_id} already has a collection named {name}")
            values["name"] = found.name = name
        if metadata is not None:
            values["metadata"] = found.metadata = metadata
        await repo.update_fields(conn, found.pk, **values)
        return Found(owner, found)


async def delete(deps: Deps, app_id: str, user_id: str, uid: str) -> None:
    """The collection and its documents."""
    if uid == HONCHO:
        raise ValidationError(DERIVED)
    async with deps.db.write() as conn:
        owner = await paths.user(conn, app_id, user_id)
        await repo.delete_collection(conn, (await _stored(conn, owner, uid)).pk)


async def list_page(deps: Deps, app_id: str, user_id: str, filters: dict[str, Any] | None, page: int, size: int,
                    reverse: bool) -> tuple[Owner, Page[Collection]]:
    """Oldest first, the reserved collection first of all (last with `reverse`). It has no metadata, so it is
    listed only when no filter is given."""
    virtual = 0 if filters else 1
    start = (page - 1) * size
    async with deps.db.read() as conn:
        owner = await paths.user(conn, app_id, user_id)
        if reverse:
            rows, total = await repo.collection_rows(conn, deps.db.dialect, owner.peer.pk, metadata_filter(filters),
                                                     start, size, True)
            items = rows + ([honcho_of(owner)] if virtual and len(rows) < size and start <= total else [])
        else:
            lead = virtual and start == 0
            rows, total = await repo.collection_rows(conn, deps.db.dialect, owner.peer.pk, metadata_filter(filters),
                                                     max(0, start - virtual), size - lead, False)
            items = ([honcho_of(owner)] if lead else []) + rows
    return owner, Page(items=items, total=total + virtual, page=page, size=size)
