"""What re-derivation reads and writes besides the derived rows and the scope (store/repos/rederive_scope.py): its
open work in the queue, its cost so far, its progress and state (services/rederive.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import conclusions, generations, jobs, llm_calls, peers

_OPEN = jobs.c.status.in_([literal_column("'pending'"), literal_column("'running'")])


async def open_work(conn: AsyncConnection, dialect: Dialect, generation_pk: int, besides: int,
                    task: str | None = None) -> int:
    """Rederive jobs of the generation still pending or running, `besides` (the one running now) aside; only
    those of `task` when given."""
    query = (select(func.count()).select_from(jobs)
             .where(jobs.c.kind == "rederive", _OPEN, jobs.c.id != besides,
                    dialect.json_text(jobs.c.payload, "generation") == str(generation_pk)))
    if task is not None:
        query = query.where(dialect.json_text(jobs.c.payload, "task") == task)
    return int((await conn.execute(query)).scalar_one())


async def cost(conn: AsyncConnection, generation_pk: int) -> float:
    """What the generation's model calls have cost so far (calls of unknown price count nothing)."""
    query = select(func.coalesce(func.sum(llm_calls.c.cost_usd), 0.0)).where(llm_calls.c.generation_id == generation_pk)
    return float((await conn.execute(query)).scalar_one())


async def set_progress(conn: AsyncConnection, generation_pk: int, progress: dict[str, Any], state: str | None,
                       now: datetime) -> None:
    """Record progress; `state` "ready" also stamps `ready_at` (only a building generation becomes ready)."""
    values: dict[str, Any] = {"progress": progress}
    stmt = update(generations).where(generations.c.id == generation_pk)
    if state == "ready":
        values.update(state="ready", ready_at=now)
        stmt = stmt.where(generations.c.state == "building")
    await conn.execute(stmt.values(**values))


async def fail(conn: AsyncConnection, generation_pk: int, reason: str, now: datetime) -> None:
    """A generation that is not active stops, saying why (the active one never fails: it serves reads)."""
    await conn.execute(update(generations).where(generations.c.id == generation_pk, generations.c.state != "active")
                       .values(state="failed", error=reason, retired_at=now))


async def collections_with(conn: AsyncConnection, generation_pk: int, at_least: int, observed: str | None
                           ) -> list[tuple[str, str]]:
    """(observer, observed) names of the generation's collections holding at least `at_least` current explicit
    conclusions (about `observed` only, when given)."""
    observer_peer, observed_peer = peers.alias("observer"), peers.alias("observed")
    query = (select(observer_peer.c.name, observed_peer.c.name)
             .select_from(conclusions.join(observer_peer, observer_peer.c.id == conclusions.c.observer_id)
                          .join(observed_peer, observed_peer.c.id == conclusions.c.observed_id))
             .where(conclusions.c.generation_id == generation_pk, conclusions.c.level == "explicit",
                    conclusions.c.superseded_by.is_(None))
             .group_by(observer_peer.c.name, observed_peer.c.name)
             .having(func.count() >= at_least).order_by(observer_peer.c.name, observed_peer.c.name))
    if observed is not None:
        query = query.where(observed_peer.c.name == observed)
    return [(r[0], r[1]) for r in await conn.execute(query)]
