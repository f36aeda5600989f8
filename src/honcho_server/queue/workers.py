"""Worker heartbeats: each running worker process records that it is alive and which job kinds it runs (read by
/ready)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import worker_beats as t

# How often a worker records its beat; /ready's threshold (ready.worker_beat_max_age_seconds) must be well above.
BEAT_SECONDS = 5.0
# Rows of workers silent for this long are deleted (a crashed worker never deletes its own).
PRUNE_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    worker_id: str
    host: str
    pid: int
    kinds: tuple[str, ...]
    started_at: datetime


async def beat(conn: AsyncConnection, dialect: Dialect, worker: WorkerIdentity, now: datetime) -> None:
    """Record that `worker` is alive now (insert or update its row)."""
    row = {"worker_id": worker.worker_id, "host": worker.host[:255], "pid": worker.pid,
           "kinds": sorted(worker.kinds), "started_at": worker.started_at, "beat_at": now}
    stmt = dialect.insert(t).values(**row)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.worker_id],
                                                  set_={"beat_at": now, "kinds": row["kinds"]}))


async def gone(conn: AsyncConnection, worker_id: str) -> None:
    """A worker that stopped cleanly removes its row: it no longer counts as alive."""
    await conn.execute(delete(t).where(t.c.worker_id == worker_id))


async def prune(conn: AsyncConnection, now: datetime) -> int:
    """Delete the rows of workers silent for longer than PRUNE_AFTER; returns how many."""
    return (await conn.execute(delete(t).where(t.c.beat_at < now - PRUNE_AFTER))).rowcount


async def last_beat(conn: AsyncConnection) -> datetime | None:
    """When any worker last recorded a beat (None when none ever did, or all stopped cleanly)."""
    return (await conn.execute(select(func.max(t.c.beat_at)))).scalar()


async def live_kinds(conn: AsyncConnection, since: datetime) -> set[str]:
    """The job kinds run by the workers that beat at or after `since`."""
    rows = (await conn.execute(select(t.c.kinds).where(t.c.beat_at >= since))).scalars()
    return {kind for kinds in rows for kind in (kinds or [])}
