"""How full the queue is, for /metrics: jobs per kind and state, how long the oldest has waited, and the
messages still waiting for their vectors. Two grouped queries over open and parked jobs only (done jobs are
never read), so a scrape stays cheap however long the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import jobs as t

EMBED_KIND = "embed"  # its payload names the session's first and last new message (services/ingest_jobs.py)


@dataclass(slots=True)
class KindLevel:
    """One kind's jobs: waiting (pending), leased (running), parked (failed), and the oldest waiting one."""

    pending: int = 0
    running: int = 0
    failed: int = 0
    oldest_queued_at: datetime | None = None  # created_at of the oldest pending job
    oldest_due_at: datetime | None = None  # run_after of the longest-overdue pending job (None: none is due)


@dataclass(frozen=True, slots=True)
class QueueLevels:
    kinds: dict[str, KindLevel]
    embedding_backlog: int  # messages covered by pending or running embed jobs


async def read(conn: AsyncConnection, dialect: Dialect, now: datetime) -> QueueLevels:
    """The queue's levels as of `now` (one statement per figure family, whatever the number of kinds)."""
    due = case((t.c.run_after <= now, t.c.run_after), else_=None)
    query = (select(t.c.kind, t.c.status, func.count(), func.min(t.c.created_at), func.min(due))
             .where(t.c.status.in_(("pending", "running", "failed")))
             .group_by(t.c.kind, t.c.status))
    kinds: dict[str, KindLevel] = {}
    for kind, status, count, oldest, oldest_due in await conn.execute(query):
        level = kinds.setdefault(kind, KindLevel())
        setattr(level, status, int(count))
        if status == "pending":
            level.oldest_queued_at, level.oldest_due_at = oldest, oldest_due
    span = dialect.json_number(t.c.payload, "last_seq") - dialect.json_number(t.c.payload, "first_seq") + 1
    backlog = select(func.coalesce(func.sum(span), 0)).where(t.c.kind == EMBED_KIND,
                                                             t.c.status.in_(("pending", "running")))
    return QueueLevels(kinds=kinds, embedding_backlog=int((await conn.execute(backlog)).scalar_one()))
