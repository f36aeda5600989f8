"""Peer rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page, Peer
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import peers as t
from honcho_server.store.tables import scopes
from honcho_server.store.tables import session_peers as sp


def fields(workspace_name: str) -> dict[str, Field]:
    return {
        "id": Field(t.c.name, "text"),
        "created_at": Field(t.c.created_at, "datetime"),
        "workspace_id": Field(literal(workspace_name), "text"),
        "metadata": Field(t.c.metadata, "json"),
    }


def to_peer(row: Any, workspace_name: str) -> Peer:
    return Peer(pk=row.id, uid=row.uid, workspace_name=workspace_name, name=row.name, metadata=row.metadata,
                configuration=row.configuration, created_at=row.created_at)


async def insert_missing(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, names: Iterable[str], now: Any,
    metadata: dict[str, Any] | None = None, configuration: dict[str, Any] | None = None,
) -> set[str]:
    """Insert peers that do not exist yet; returns the names that were created."""
    rows = [dict(uid=new_id(), workspace_id=workspace_pk, name=n, metadata=metadata or {},
                 configuration=configuration or {}, created_at=now) for n in dict.fromkeys(names)]
    if not rows:
        return set()
    stmt = dialect.insert(t).on_conflict_do_nothing(index_elements=["workspace_id", "name"])
    return {r.name for r in await conn.execute(stmt.returning(t.c.name), rows) if r is not None}


async def find_many(conn: AsyncConnection, workspace_pk: int, names: Iterable[str]) -> dict[str, Any]:
    """Rows of the named peers that exist, keyed by name."""
    query = select(t).where(t.c.workspace_id == workspace_pk, t.c.name.in_(list(names)))
    return {row.name: row for row in await conn.execute(query)}


async def find(conn: AsyncConnection, workspace_pk: int, name: str, workspace_name: str) -> Peer | None:
    row = (await conn.execute(select(t).where(t.c.workspace_id == workspace_pk, t.c.name == name))).first()
    return to_peer(row, workspace_name) if row else None


async def update_fields(conn: AsyncConnection, pk: int, **values: Any) -> None:
    await conn.execute(update(t).where(t.c.id == pk).values(**values))


async def list_page(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, workspace_name: str,
    filters: dict[str, Any] | None, page: int, size: int, reverse: bool, kind: str | None = None,
) -> Page[Peer]:
    """`kind`: None lists regular peers only, "scope" only scopes' hidden peers, "all" both (spec 6.1)."""
    query = select(t).where(t.c.workspace_id == workspace_pk)
    if kind != "all":
        is_scope = t.c.id.in_(select(scopes.c.peer_id).where(scopes.c.workspace_id == workspace_pk))
        query = query.where(is_scope if kind == "scope" else ~is_scope)
    condition = compile_filter(filters, fields(workspace_name), dialect, resource="Peer")
    if condition is not None:
        query = query.where(condition)
    order = [t.c.created_at.desc(), t.c.id.desc()] if reverse else [t.c.created_at, t.c.id]
    return await paginate(conn, query, order, page, size, lambda r: to_peer(r, workspace_name))


async def list_session_members(
    conn: AsyncConnection, session_pk: int, workspace_name: str, page: int, size: int,
) -> Page[Peer]:
    """Active members of a session."""
    query = select(t).join(sp, sp.c.peer_id == t.c.id).where(sp.c.session_id == session_pk,
                                                               sp.c.left_at.is_(None))
    return await paginate(conn, query, [sp.c.joined_at, t.c.id], page, size,
                          lambda r: to_peer(r, workspace_name))
