"""Generations of a workspace's derived memory (docs/generations.md): the first one, made with the workspace, and
the active one, which every derived row written now belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import LIVE_STATES, Generation, number_of
from honcho_server.store import tables
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


# ---- the generations of a workspace: listing, building, switching, removing (docs/generations.md) ----------------


async def list_all(conn: AsyncConnection, workspace_pk: int) -> list[Generation]:
    """Every generation of the workspace, oldest first."""
    rows = await conn.execute(select(t).where(t.c.workspace_id == workspace_pk).order_by(t.c.number))
    return [to_generation(r) for r in rows]


async def building(conn: AsyncConnection, workspace_pk: int) -> Generation | None:
    """The generation being built in the workspace, if any (one at a time)."""
    query = select(t).where(t.c.workspace_id == workspace_pk, t.c.state == "building").order_by(t.c.number)
    row = (await conn.execute(query.limit(1))).first()
    return to_generation(row) if row else None


async def next_number(conn: AsyncConnection, workspace_pk: int) -> int:
    """The number a new generation of the workspace takes: one past the highest ever used by a surviving one."""
    found = (await conn.execute(select(func.max(t.c.number)).where(t.c.workspace_id == workspace_pk))).scalar()
    return int(found or 0) + 1


async def create(conn: AsyncConnection, workspace_pk: int, *, number: int, name: str | None, recipe: dict[str, Any],
                 fingerprint: str, scope: dict[str, Any], started_by: str, estimate: dict[str, Any] | None,
                 max_cost_usd: float | None, now: datetime) -> Generation:
    """A new generation in state `building`, with no progress yet (the caller sets it once its jobs are queued)."""
    stmt = insert(t).values(workspace_id=workspace_pk, number=number, name=name, state="building", recipe=recipe,
                            fingerprint=fingerprint, scope=scope, started_by=started_by, progress={},
                            estimate=estimate, max_cost_usd=max_cost_usd, created_at=now)
    return to_generation((await conn.execute(stmt.returning(*t.c))).one())


async def activate(conn: AsyncConnection, workspace_pk: int, pk: int, now: datetime) -> int | None:
    """Make generation `pk` the workspace's active one; the one active until now becomes `ready` (it keeps being
    derived into, for comparison) and is remembered as the new one's `previous_id`. Returns its key.

    The old one is demoted before the new one is promoted: the partial unique index allows one `active` row per
    workspace at every statement, and the caller's transaction makes the switch atomic for readers."""
    demote = (update(t).where(t.c.workspace_id == workspace_pk, t.c.state == "active", t.c.id != pk)
              .values(state="ready").returning(t.c.id))
    previous = (await conn.execute(demote)).scalar_one_or_none()
    await conn.execute(update(t).where(t.c.id == pk).values(state="active", previous_id=previous, activated_at=now,
                                                            retired_at=None))
    return int(previous) if previous is not None else None


async def retire(conn: AsyncConnection, pk: int, now: datetime) -> None:
    """Kept for comparison or a later activation, no longer derived into."""
    await conn.execute(update(t).where(t.c.id == pk).values(state="retired", retired_at=now))


async def delete(conn: AsyncConnection, pk: int) -> None:
    """Remove the generation; the foreign keys' cascade removes its conclusions, summaries and peer cards (its LLM
    calls stay in the workspace's usage, no longer attributed)."""
    await conn.execute(t.delete().where(t.c.id == pk))


async def contents(conn: AsyncConnection, pk: int) -> dict[str, int]:
    """How many derived rows the generation holds, per table (a deletion receipt counts them first)."""
    found = {}
    for table in (tables.conclusions, tables.summaries, tables.peer_cards):
        query = select(func.count()).select_from(table).where(table.c.generation_id == pk)
        found[table.name] = int((await conn.execute(query)).scalar_one())
    return found


@dataclass(frozen=True, slots=True)
class Usage:
    """What the model calls made for one generation spent (`llm_calls` rows that name it)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None when any of the calls had no known price

    def as_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": self.cost_usd}


async def usage(conn: AsyncConnection, pks: Sequence[int]) -> dict[int, Usage]:
    """Usage per generation key; a generation without calls gets the zero Usage."""
    c = tables.llm_calls.c
    query = (select(c.generation_id, func.count(), func.sum(c.input_tokens), func.sum(c.output_tokens),
                    func.sum(c.cost_usd), func.sum(case((c.cost_usd.is_(None), 1), else_=0)))
             .where(c.generation_id.in_(list(pks))).group_by(c.generation_id))
    found = {pk: Usage() for pk in pks}
    if not pks:
        return found
    for pk, calls, inp, out, cost, unpriced in await conn.execute(query):
        found[int(pk)] = Usage(int(calls), int(inp or 0), int(out or 0),
                               None if unpriced else float(cost or 0.0))
    return found
