"""Job rows: enqueue, claim one work unit's head at a time, complete, retry with backoff, park as failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import QueueCounts, QueueStatus
from honcho_server.store.dialect import Dialect
from honcho_server.store.engine import mark_jobs_queued
from honcho_server.store.tables import jobs as t
from honcho_server.store.tables import sessions

# Work the API reports in queue status (spec 5.6: representation, summary, dream); embedding for search and
# housekeeping (deletions) are internal and not counted.
USER_FACING_KINDS = ("representation", "summary", "dream", "embed")
OPEN = ("pending", "running")
# The partial unique index's predicate, spelled with literals: with bound parameters PostgreSQL cannot match
# it to the index once a prepared statement switches to its generic plan (the 6th run on a connection).
_OPEN_LITERAL = t.c.status.in_([literal_column(f"'{status}'") for status in OPEN])


def dream_unit(workspace_pk: int, observer: str, observed: str) -> str:
    """Dreams of one collection (of any type) run one at a time."""
    return f"dream:{workspace_pk}:{observer}:{observed}"


def dream_key(dream_type: str, workspace_pk: int, observer: str, observed: str) -> str:
    """At most one open dream of a type per collection."""
    return f"dream:{dream_type}:{workspace_pk}:{observer}:{observed}"


@dataclass(slots=True)
class NewJob:
    kind: str
    work_unit_key: str
    payload: dict[str, Any]
    workspace_pk: int | None = None
    session_pk: int | None = None
    observed: str | None = None
    observers: list[str] | None = None
    dedupe_key: str | None = None
    run_after: datetime | None = None


@dataclass(slots=True)
class ClaimedJob:
    id: int
    kind: str
    work_unit_key: str
    payload: dict[str, Any]
    attempts: int
    workspace_pk: int | None
    session_pk: int | None


async def enqueue(conn: AsyncConnection, dialect: Dialect, new_jobs: list[NewJob], now: datetime) -> None:
    """Insert jobs in the caller's transaction; a job whose open dedupe key exists is skipped."""
    if not new_jobs:
        return
    rows = [
        dict(kind=j.kind, work_unit_key=j.work_unit_key, payload=j.payload, workspace_id=j.workspace_pk,
             session_id=j.session_pk, observed=j.observed, observers=j.observers, dedupe_key=j.dedupe_key,
             status="pending", attempts=0, run_after=j.run_after or now, created_at=now, updated_at=now)
        for j in new_jobs
    ]
    # executemany with one cached statement (a multi-VALUES insert would be compiled anew every call)
    mark_jobs_queued(conn)
    stmt = dialect.insert(t)
    if any(j.dedupe_key for j in new_jobs):
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=_OPEN_LITERAL)
    await conn.execute(stmt, rows)


@dataclass(frozen=True, slots=True)
class Gathered:
    """What a work unit's pending jobs hold: their summed payload `tokens`, and when the oldest was queued."""

    tokens: int
    oldest: datetime | None


async def gathered(conn: AsyncConnection, dialect: Dialect, work_unit_key: str) -> Gathered:
    total = func.coalesce(func.sum(dialect.json_number(t.c.payload, "tokens")), 0)
    query = select(total, func.min(t.c.created_at)).where(t.c.work_unit_key == work_unit_key,
                                                          t.c.status == "pending")
    tokens, oldest = (await conn.execute(query)).one()
    return Gathered(int(tokens), oldest)


async def reschedule(conn: AsyncConnection, work_unit_key: str, run_after: datetime, now: datetime) -> None:
    """Make a work unit's pending jobs due at `run_after`."""
    await conn.execute(update(t).where(t.c.work_unit_key == work_unit_key, t.c.status == "pending").values(
        run_after=run_after, updated_at=now))


async def last_done(conn: AsyncConnection, dedupe_key: str) -> datetime | None:
    """When the latest finished job with this dedupe key finished."""
    query = select(func.max(t.c.updated_at)).where(t.c.dedupe_key == dedupe_key, t.c.status == "done")
    return (await conn.execute(query)).scalar_one()


async def push_back(conn: AsyncConnection, dialect: Dialect, dedupe_key: str, run_after: datetime,
                    now: datetime) -> int:
    """Delay the pending job holding `dedupe_key` to `run_after` when it was scheduled automatically
    (payload `auto`); jobs a client asked for keep their time. Returns how many moved."""
    stmt = update(t).where(t.c.dedupe_key == dedupe_key, t.c.status == "pending", t.c.run_after < run_after,
                           dialect.json_text(t.c.payload, "auto") == "true")
    return (await conn.execute(stmt.values(run_after=run_after, updated_at=now))).rowcount


@dataclass(slots=True)
class Follower:
    id: int
    payload: dict[str, Any]


async def followers(conn: AsyncConnection, job: ClaimedJob, limit: int = 200) -> list[Follower]:
    """The pending jobs queued behind `job` in its work unit, oldest first (a handler may take them in)."""
    query = (select(t.c.id, t.c.payload)
             .where(t.c.work_unit_key == job.work_unit_key, t.c.status == "pending", t.c.id > job.id)
             .order_by(t.c.id).limit(limit))
    return [Follower(r.id, r.payload) for r in await conn.execute(query)]


async def absorb(conn: AsyncConnection, ids: list[int], now: datetime) -> None:
    """Mark pending jobs done because another job of their unit did their work (in that job's transaction)."""
    if ids:
        await conn.execute(update(t).where(t.c.id.in_(ids), t.c.status == "pending").values(
            status="done", updated_at=now))


async def claim(
    conn: AsyncConnection, worker_id: str, kinds: list[str], limit: int, lease: timedelta, now: datetime,
) -> list[ClaimedJob]:
    """Lease up to `limit` jobs, each the oldest open job of its work unit (so units run in order)."""
    other = t.alias("other")
    older_open = select(other.c.id).where(other.c.work_unit_key == t.c.work_unit_key,
                                          other.c.status.in_(OPEN), other.c.id < t.c.id)
    candidates = (
        select(t.c.id)
        .where(t.c.kind.in_(kinds),
               or_(and_(t.c.status == "pending", t.c.run_after <= now),
                   and_(t.c.status == "running", t.c.locked_until < now)),
               ~older_open.exists())
        .order_by(t.c.id).limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(t).where(t.c.id.in_(candidates.scalar_subquery()))
        .values(status="running", locked_by=worker_id, locked_until=now + lease, attempts=t.c.attempts + 1,
                updated_at=now)
        .returning(t.c.id, t.c.kind, t.c.work_unit_key, t.c.payload, t.c.attempts, t.c.workspace_id,
                   t.c.session_id)
    )
    return [ClaimedJob(id=r.id, kind=r.kind, work_unit_key=r.work_unit_key, payload=r.payload,
                       attempts=r.attempts, workspace_pk=r.workspace_id, session_pk=r.session_id)
            for r in await conn.execute(stmt)]


async def heartbeat(conn: AsyncConnection, job_id: int, worker_id: str, lease: timedelta, now: datetime) -> bool:
    """Extend a lease we still hold; False when it was lost."""
    stmt = update(t).where(t.c.id == job_id, t.c.locked_by == worker_id, t.c.status == "running").values(
        locked_until=now + lease, updated_at=now)
    return (await conn.execute(stmt)).rowcount == 1


async def complete(conn: AsyncConnection, job_id: int, worker_id: str, now: datetime) -> bool:
    stmt = update(t).where(t.c.id == job_id, t.c.locked_by == worker_id, t.c.status == "running").values(
        status="done", locked_by=None, locked_until=None, last_error=None, updated_at=now)
    return (await conn.execute(stmt)).rowcount == 1


async def fail(
    conn: AsyncConnection, job: ClaimedJob, worker_id: str, error: str, max_attempts: int, now: datetime,
) -> str:
    """Record a failure: retry later with exponential backoff, or park as `failed`. Returns the new status."""
    parked = job.attempts >= max_attempts
    status = "failed" if parked else "pending"
    delay = timedelta(seconds=min(2 ** job.attempts, 600))
    await conn.execute(
        update(t).where(t.c.id == job.id, t.c.locked_by == worker_id).values(
            status=status, locked_by=None, locked_until=None, last_error=error[:65_000],
            run_after=now if parked else now + delay, updated_at=now))
    return status


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: int
    kind: str
    workspace_id: int | None
    attempts: int
    last_error: str | None
    updated_at: datetime


async def failed(conn: AsyncConnection, workspace_pk: int | None, limit: int) -> list[FailedJob]:
    """Parked jobs, most recent first."""
    query = (select(t.c.id, t.c.kind, t.c.workspace_id, t.c.attempts, t.c.last_error, t.c.updated_at)
             .where(t.c.status == "failed").order_by(t.c.updated_at.desc(), t.c.id.desc()).limit(limit))
    if workspace_pk is not None:
        query = query.where(t.c.workspace_id == workspace_pk)
    return [FailedJob(*row) for row in await conn.execute(query)]


async def redrive(conn: AsyncConnection, workspace_pk: int | None, now: datetime) -> int:
    """Return parked jobs to the queue with a fresh attempt budget."""
    stmt = update(t).where(t.c.status == "failed")
    if workspace_pk is not None:
        stmt = stmt.where(t.c.workspace_id == workspace_pk)
    result = await conn.execute(stmt.values(status="pending", attempts=0, run_after=now, updated_at=now))
    return result.rowcount


async def status(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, *, session_name: str | None,
    observer: str | None, sender: str | None,
) -> QueueStatus:
    """Counts of user-facing jobs by state, overall and per session (keyed by session name)."""
    query = (
        select(sessions.c.name, t.c.status, func.count())
        .select_from(t.outerjoin(sessions, sessions.c.id == t.c.session_id))
        .where(t.c.workspace_id == workspace_pk, t.c.kind.in_(USER_FACING_KINDS))
        .group_by(sessions.c.name, t.c.status)
    )
    if session_name is not None:
        query = query.where(sessions.c.name == session_name)
    who = []
    if observer is not None:
        who.append(dialect.json_contains(t.c.observers, [observer]))
    if sender is not None:
        who.append(t.c.observed == sender)
    if who:
        query = query.where(or_(*who))
    totals, per_session = QueueCounts(), {}
    for name, state, count in await conn.execute(query):
        targets = [totals] + ([per_session.setdefault(name, QueueCounts())] if name is not None else [])
        for counts in targets:
            _add(counts, state, count)
    sessions_map = None if session_name is not None or not per_session else per_session
    return QueueStatus(totals=totals, sessions=sessions_map)


def _add(counts: QueueCounts, state: str, count: int) -> None:
    field = {"done": "completed", "running": "in_progress", "pending": "pending", "failed": "failed"}[state]
    setattr(counts, field, getattr(counts, field) + count)



async def unit_is_open(conn: AsyncConnection, work_unit_key: str, besides: int) -> bool:
    """Whether the work unit holds open jobs other than `besides`."""
    query = select(t.c.id).where(t.c.work_unit_key == work_unit_key, _OPEN_LITERAL, t.c.id != besides).limit(1)
    return (await conn.execute(query)).first() is not None


async def observed_of(conn: AsyncConnection, job_id: int) -> str | None:
    return (await conn.execute(select(t.c.observed).where(t.c.id == job_id))).scalar_one_or_none()
