"""Helpers shared by repositories: pagination and row conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Page

T = TypeVar("T")
MAX_OFFSET = 2**63 - 1  # OFFSET is a signed 64-bit integer in SQLite and PostgreSQL


async def paginate(
    conn: AsyncConnection,
    query: Select[Any],
    order_by: list[Any],
    page: int,
    size: int,
    convert: Callable[[Any], T],
    *,
    total: int | None = None,
    params: dict[str, Any] | None = None,
) -> Page[T]:
    """One page of `query` and the total number of its rows (pass `total` when it is already known).

    Otherwise the total rides along as a window count on the page's rows, so a page costs one round trip;
    only a page past the end needs a separate count.
    """
    offset = (page - 1) * size
    rows = []
    if offset <= MAX_OFFSET:  # beyond it the page is surely past the end (and no database takes the OFFSET)
        counted = query if total is not None else query.add_columns(func.count().over().label("_total"))
        rows = list(await conn.execute(counted.order_by(*order_by).limit(size).offset(offset), params))
    if total is None:
        total = rows[0]._total if rows else 0 if page == 1 else await _count(conn, query, params)
    return Page(items=[convert(row) for row in rows], total=total, page=page, size=size)


async def _count(conn: AsyncConnection, query: Select[Any], params: dict[str, Any] | None) -> int:
    counting = select(func.count()).select_from(query.order_by(None).subquery())
    return (await conn.execute(counting, params)).scalar_one()
