"""Helpers shared by repositories: pagination and row conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Page

T = TypeVar("T")


async def paginate(
    conn: AsyncConnection, query: Select[Any], order_by: list[Any], page: int, size: int,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Run `query` for one page plus a total count of all its rows."""
    total = (await conn.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    items: list[T] = []
    if total and (page - 1) * size < total:
        rows = await conn.execute(query.order_by(*order_by).limit(size).offset((page - 1) * size))
        items = [convert(row) for row in rows]
    return Page(items=items, total=total, page=page, size=size)
