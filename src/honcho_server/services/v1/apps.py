"""v1 apps: workspaces seen by their v1 names."""

from __future__ import annotations

from typing import Any

from honcho_server.domain.credentials import Principal
from honcho_server.domain.models import Page
from honcho_server.errors import Conflict
from honcho_server.services import access, workspaces
from honcho_server.services.deps import Deps
from honcho_server.services.v1 import names
from honcho_server.services.v1.filters import metadata_filter
from honcho_server.store.repos import v1_names as repo
from honcho_server.store.repos import workspaces as workspace_repo


async def create(deps: Deps, name: str, metadata: dict[str, Any] | None, *, caller: Principal,
                 exist_ok: bool) -> names.App:
    """A new app (409 when the name is taken, unless `exist_ok`). The caller's key must be for the app it gets."""
    async with deps.db.write() as conn:
        found = await names.app_by_name(conn, name)
        if found is not None:
            access.require_claims(caller, workspace=found.name)  # before saying it exists
            if not exist_ok:
                raise Conflict(f"An app named {name[:100]!r} already exists")
            return await names.app(conn, found)

        async def taken(candidate: str) -> bool:
            return await workspace_repo.find(conn, candidate) is not None

        app_id = await names.choose_id(name, taken)
        access.require_claims(caller, workspace=app_id)
        ws = await workspace_repo.insert_if_missing(conn, deps.db.dialect, app_id, metadata or {}, {}, deps.now())
        if ws is None:  # created meanwhile under that id
            raise Conflict(f"An app named {name[:100]!r} already exists")
        if app_id != name:
            await repo.set_app_alias(conn, deps.db.dialect, ws.pk, name)
        return names.App(ws, name)


async def get(deps: Deps, app_id: str) -> names.App:
    async with deps.db.read() as conn:
        return await names.app(conn, await names.require_app(conn, app_id))


async def by_name(deps: Deps, name: str) -> names.App | None:
    async with deps.db.read() as conn:
        ws = await names.app_by_name(conn, name)
        return await names.app(conn, ws) if ws is not None else None


async def update(deps: Deps, app_id: str, name: str | None, metadata: dict[str, Any] | None) -> names.App:
    """Metadata replaced when given; a new name is an alias (the id stays), unique among apps (409)."""
    async with deps.db.write() as conn:
        ws = await names.require_app(conn, app_id)
        if metadata is not None:
            await workspace_repo.update_fields(conn, ws.pk, metadata=metadata)
            ws.metadata = metadata
        current = await names.app(conn, ws)
        if name is not None and name != current.name:
            await names.check_app_name_free(conn, name, ws.pk)
            await repo.set_app_alias(conn, deps.db.dialect, ws.pk, None if name == ws.name else name)
            current.name = name
        return current


async def list_page(deps: Deps, given: dict[str, Any] | None, page: int, size: int, reverse: bool
                    ) -> Page[names.App]:
    found = await workspaces.list_page(deps, metadata_filter(given), page, size, reverse)
    async with deps.db.read() as conn:
        return Page(await names.apps(conn, found.items), found.total, found.page, found.size)
