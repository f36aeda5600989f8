"""Workspaces: get-or-create, update, list, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.configuration import ScopeConfiguration, shallow_merge
from honcho_server.domain.ids import NAME_MAX
from honcho_server.domain.models import Page, Workspace
from honcho_server.errors import Conflict, NotFound, ValidationError
from honcho_server.queue import jobs
from honcho_server.services.configs import check_scope_configuration
from honcho_server.services.deps import Deps
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as repo


def check_implicit_name(kind: str, name: str) -> None:
    """A name arriving in a path (not pattern-checked, spec 1.2) must still fit the column to be created."""
    if len(name) > NAME_MAX:
        raise ValidationError(f"{kind} id is too long to create: {len(name)} characters (at most {NAME_MAX})")


async def ensure(conn: AsyncConnection, deps: Deps, name: str) -> Workspace:
    """The named workspace, created silently when missing (inside the caller's transaction)."""
    found = await repo.find(conn, name)
    if found:
        return found
    check_implicit_name("Workspace", name)
    created = await repo.insert_if_missing(conn, deps.db.dialect, name, {}, {}, deps.now())
    return created or await require(conn, name)


async def require(conn: AsyncConnection, name: str) -> Workspace:
    found = await repo.find(conn, name)
    if found is None:
        raise NotFound(f"Workspace {name} not found")
    return found


async def serving(conn: AsyncConnection, name: str, generation: str | None) -> Workspace | None:
    """The named workspace (None when missing) as its derived reads should see it: in its active generation, or
    in the one `generation` names (`g2` or a name; NotFound when it has none such), for A/B reads."""
    found = await repo.find(conn, name)
    if found is None or generation is None:
        return found
    return await in_generation(conn, found, generation)


async def in_generation(conn: AsyncConnection, ws: Workspace, generation: str | None) -> Workspace:
    """`ws` reading the generation `generation` names (unchanged when None); NotFound when it has none such."""
    if generation is None:
        return ws
    chosen = await generation_repo.find(conn, ws.pk, generation)
    if chosen is None:
        raise NotFound(f"Generation {generation} not found in workspace {ws.name}")
    return replace(ws, generation_pk=chosen.pk)


async def get_or_create(
    deps: Deps, name: str, metadata: dict[str, Any] | None, configuration: ScopeConfiguration | None,
) -> tuple[Workspace, bool]:
    """An existing workspace is returned unchanged; the flag says whether it was created."""
    async with deps.db.read() as conn:
        found = await repo.find(conn, name)
    if found:
        return found, False
    stored = check_scope_configuration(configuration, deps.settings.limits.custom_instructions_tokens) \
        if configuration else {}
    async with deps.db.write() as conn:
        created = await repo.insert_if_missing(conn, deps.db.dialect, name, metadata or {}, stored, deps.now())
        return (created, True) if created else (await require(conn, name), False)


async def update(
    deps: Deps, name: str, metadata: dict[str, Any] | None, configuration: ScopeConfiguration | None,
) -> Workspace:
    """Upsert: metadata replaced, configuration shallow-merged."""
    stored = check_scope_configuration(configuration, deps.settings.limits.custom_instructions_tokens) \
        if configuration else None
    async with deps.db.write() as conn:
        ws = await ensure(conn, deps, name)
        values: dict[str, Any] = {}
        if metadata is not None:
            values["metadata"] = ws.metadata = metadata
        if stored is not None:
            values["configuration"] = ws.configuration = shallow_merge(ws.configuration, stored)
        if values:
            await repo.update_fields(conn, ws.pk, **values)
        return ws


async def list_page(deps: Deps, filters: dict[str, Any] | None, page: int, size: int, reverse: bool) -> Page[Workspace]:
    async with deps.db.read() as conn:
        return await repo.list_page(conn, deps.db.dialect, filters, page, size, reverse)


async def delete(deps: Deps, name: str) -> None:
    """Refuse while sessions are active; otherwise queue the removal of everything in the workspace."""
    async with deps.db.write() as conn:
        ws = await require(conn, name)
        if await session_repo.count_active(conn, ws.pk):
            raise Conflict(f"Cannot delete workspace '{name}': active session(s) remain. "
                           "Delete all sessions first.")
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(
            kind="delete_workspace", work_unit_key=f"delete_workspace:{ws.pk}",
            dedupe_key=f"delete_workspace:{ws.uid}", payload={"workspace_pk": ws.pk, "uid": ws.uid})],
            deps.now())
