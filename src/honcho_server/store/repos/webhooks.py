"""Webhook endpoints and their delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import webhook_deliveries as d
from honcho_server.store.tables import webhook_endpoints as e


@dataclass(frozen=True, slots=True)
class Endpoint:
    pk: int
    uid: str
    workspace_pk: int
    url: str
    secret: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    pk: int
    uid: str
    endpoint_pk: int
    event_type: str
    body: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(row.id, row.uid, row.workspace_id, row.url, row.secret, row.created_at)


def _delivery(row: Any) -> Delivery:
    return Delivery(row.id, row.uid, row.endpoint_id, row.event_type, row.body, row.status, row.attempts,
                    row.last_status_code, row.last_error, row.created_at, row.updated_at)


async def find_by_url(conn: AsyncConnection, workspace_pk: int, url: str) -> Endpoint | None:
    row = (await conn.execute(select(e).where(e.c.workspace_id == workspace_pk, e.c.url == url))).first()
    return _endpoint(row) if row else None


async def count(conn: AsyncConnection, workspace_pk: int) -> int:
    return (await conn.execute(select(func.count()).where(e.c.workspace_id == workspace_pk))).scalar_one()


async def add(conn: AsyncConnection, workspace_pk: int, url: str, secret: str, now: datetime) -> Endpoint:
    uid = new_id()
    pk = (await conn.execute(insert(e).values(uid=uid, workspace_id=workspace_pk, url=url, secret=secret,
                                              created_at=now).returning(e.c.id))).scalar_one()
    return Endpoint(pk, uid, workspace_pk, url, secret, now)


async def find(conn: AsyncConnection, workspace_pk: int, uid: str) -> Endpoint | None:
    row = (await conn.execute(select(e).where(e.c.workspace_id == workspace_pk, e.c.uid == uid))).first()
    return _endpoint(row) if row else None


async def of_workspace(conn: AsyncConnection, workspace_pk: int) -> list[Endpoint]:
    rows = await conn.execute(select(e).where(e.c.workspace_id == workspace_pk).order_by(e.c.id))
    return [_endpoint(r) for r in rows]


async def page(conn: AsyncConnection, workspace_pk: int, number: int, size: int) -> Page[Endpoint]:
    return await paginate(conn, select(e).where(e.c.workspace_id == workspace_pk), [e.c.id], number, size,
                          _endpoint)


async def remove(conn: AsyncConnection, endpoint_pk: int) -> None:
    await conn.execute(delete(e).where(e.c.id == endpoint_pk))


async def add_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert deliveries (uid, endpoint_id, event_type, body, created_at); their primary keys, in order."""
    pks = []
    for row in rows:  # a handful per event (at most the workspace's endpoint limit)
        values = {**row, "status": "pending", "attempts": 0, "updated_at": row["created_at"]}
        pks.append((await conn.execute(insert(d).values(**values).returning(d.c.id))).scalar_one())
    return pks


async def delivery(conn: AsyncConnection, delivery_pk: int) -> tuple[Delivery, Endpoint] | None:
    query = select(d, e.c.uid.label("e_uid"), e.c.workspace_id, e.c.url, e.c.secret,
                   e.c.created_at.label("e_created_at")).join(e, e.c.id == d.c.endpoint_id).where(d.c.id == delivery_pk)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    endpoint = Endpoint(row.endpoint_id, row.e_uid, row.workspace_id, row.url, row.secret, row.e_created_at)
    return _delivery(row), endpoint


async def record_attempt(conn: AsyncConnection, delivery_pk: int, status: str, status_code: int | None,
                         error: str | None, now: datetime) -> None:
    await conn.execute(update(d).where(d.c.id == delivery_pk).values(
        status=status, attempts=d.c.attempts + 1, last_status_code=status_code,
        last_error=error[:4000] if error else None, updated_at=now))


async def deliveries(conn: AsyncConnection, endpoint_pk: int, number: int, size: int) -> Page[Delivery]:
    """The endpoint's delivery log, newest first."""
    return await paginate(conn, select(d).where(d.c.endpoint_id == endpoint_pk), [d.c.id.desc()], number, size,
                          _delivery)
