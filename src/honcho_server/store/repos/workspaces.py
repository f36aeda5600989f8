"""Workspace rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page, Workspace
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos import generations
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import workspaces as t

FIELDS = {
    "id": Field(t.c.name, "text"),
    "created_at": Field(t.c.created_at, "datetime"),
    "metadata": Field(t.c.metadata, "json"),
}


# The workspace's active generation, read with the row: what its derived reads serve unless told otherwise.
_ACTIVE = generations.active(t.c.id).label("generation_pk")
_ROW = (*t.c, _ACTIVE)


def to_workspace(row: Any) -> Workspace:
    return Workspace(pk=row.id, uid=row.uid, name=row.name, metadata=row.metadata,
                     configuration=row.configuration, created_at=row.created_at, generation_pk=row.generation_pk)


async def insert_if_missing(
    conn: AsyncConnection, dialect: Dialect, name: str, metadata: dict[str, Any],
    configuration: dict[str, Any], now: Any,
) -> Workspace | None:
    """Insert a workspace unless one of that name exists; the new row, or None when it existed."""
    stmt = dialect.insert(t).values(uid=new_id(), name=name, metadata=metadata, configuration=configuration,
                                    created_at=now)
    row = (await conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]).returning(*t.c))).first()
    if row is None:
        return None
    first = await generations.create_first(conn, row.id, now)  # its derived memory starts in generation 1
    return Workspace(pk=row.id, uid=row.uid, name=row.name, metadata=row.metadata,
                     configuration=row.configuration, created_at=row.created_at, generation_pk=first)


async def find(conn: AsyncConnection, name: str, *, for_update: bool = False) -> Workspace | None:
    query = select(*_ROW).where(t.c.name == name)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    return to_workspace(row) if row else None


async def find_by_pk(conn: AsyncConnection, pk: int) -> Workspace | None:
    row = (await conn.execute(select(*_ROW).where(t.c.id == pk))).first()
    return to_workspace(row) if row else None


async def update_fields(conn: AsyncConnection, pk: int, **values: Any) -> None:
    await conn.execute(update(t).where(t.c.id == pk).values(**values))


async def delete(conn: AsyncConnection, pk: int) -> None:
    await conn.execute(t.delete().where(t.c.id == pk))


async def list_page(
    conn: AsyncConnection, dialect: Dialect, filters: dict[str, Any] | None, page: int, size: int,
    reverse: bool,
) -> Page[Workspace]:
    query = select(*_ROW)
    condition = compile_filter(filters, FIELDS, dialect, resource="Workspace")
    if condition is not None:
        query = query.where(condition)
    order = [t.c.created_at.desc(), t.c.id.desc()] if reverse else [t.c.created_at, t.c.id]
    return await paginate(conn, query, order, page, size, to_workspace)


def name_literal(name: str) -> Any:
    """The workspace name as a constant column, for filters on `workspace_id` inside one workspace."""
    return literal(name)
