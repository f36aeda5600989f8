"""Generations of a workspace's derived memory (docs/generations.md): the first one, made with the workspace, and
the active one, which every derived row written now belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import LIVE_STATES, Generation, number_of
from honcho_server.store.tables import generations as t


async def create_first(conn: AsyncConnection, workspace_pk: int, now: datetime) -> int:
    """Generation 1 of a new workspace, active at once; returns its key."""
    stmt = insert(t).values(workspace_id=workspace_pk, number=1, state="active", recipe={}, fingerprint="",
                            scope={}, started_by="workspace", progress={}, created_at=now, activated_at=now)
    return int((await conn.execute(stmt.returning(t.c.id))).scalar_one())


def active(workspace_pk: int | ColumnElement[Any]) -> ScalarSelect[int]:
    """The key of the workspace's active generation as an expression (a workspace key, or the workspace column of
    an outer query): reads of a workspace row carry it, no round trip of its own. Every workspace has one: made
    with it, or by migration 0015."""
    return select(t.c.id).where(t.c.workspace_id == workspace_pk, t.c.state == "active").scalar_subquery()


def to_generation(row: Any) -> Generation:
    return Generation(pk=row.id, workspace_pk=row.workspace_id, number=row.number, name=row.name, state=row.state,
                      recipe=row.recipe or {}, fingerprint=row.fingerprint, scope=row.scope or {},
                      started_by=row.started_by, progress=row.progress or {}, estimate=row.estimate,
                      max_cost_usd=row.max_cost_usd, previous_pk=row.previous_id, created_at=row.created_at,
                      ready_at=row.ready_at, activated_at=row.activated_at, retired_at=row.retired_at,
                      error=row.error)


async def find(conn: AsyncConnection, workspace_pk: int, ref: str) -> Generation | None:
    """A workspace's generation by public id (`g2`) or by name."""
    number = number_of(ref)
    which = t.c.number == number if number is not None else t.c.name == ref
    row = (await conn.execute(select(t).where(t.c.workspace_id == workspace_pk, which))).first()
    return to_generation(row) if row else None


async def by_pk(conn: AsyncConnection, pk: int) -> Generation | None:
    row = (await conn.execute(select(t).where(t.c.id == pk))).first()
    return to_generation(row) if row else None


async def live(conn: AsyncConnection, workspace_pk: int) -> list[Generation]:
    """The generations new messages are derived into (LIVE_STATES), the active one first."""
    rows = await conn.execute(select(t).where(t.c.workspace_id == workspace_pk, t.c.state.in_(LIVE_STATES))
                              .order_by((t.c.state != "active"), t.c.number))
    return [to_generation(r) for r in rows]


async def active_of(conn: AsyncConnection, workspace_pk: int) -> Generation | None:
    row = (await conn.execute(select(t).where(t.c.workspace_id == workspace_pk, t.c.state == "active"))).first()
    return to_generation(row) if row else None
