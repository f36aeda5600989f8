"""Job rows: enqueue (merging queued work of a unit into one row), claim one work unit's head at a time, complete,
retry with backoff, park as failed, prune done jobs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import Generation, GenerationKey
from honcho_server.domain.models import QueueCounts, QueueStatus
from honcho_server.store.dialect import Dialect
from honcho_server.store.engine import mark_jobs_queued
from honcho_server.store.tables import jobs as t
from honcho_server.store.tables import sessions, workspaces

# Work the API reports in queue status (spec 5.6: representation, summary, dream); embedding for search and
# housekeeping (deletions) are internal and not counted.
USER_FACING_KINDS = ("representation", "summary", "dream", "embed")
OPEN = ("pending", "running")
# The partial unique index's predicate, spelled with literals: with bound parameters PostgreSQL cannot match
# it to the index once a prepared statement switches to its generic plan (the 6th run on a connection).
_OPEN_LITERAL = t.c.status.in_([literal_column(f"'{status}'") for status in OPEN])
_PENDING_LITERAL = t.c.status == literal_column("'pending'")
_DONE_LITERAL = t.c.status == literal_column("'done'")
# How a queued job takes in a new one of its merge key: the merged payload, or None when the queued one is full.
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]


def in_generation(key: str, generation: Generation | GenerationKey) -> str:
    """A unit, merge or dedupe key of work that derives into `generation`. A workspace's first generation keeps the
    keys work had before generations existed (jobs queued then stay in order with those queued now); any other's
    are its own, so its work neither waits behind nor merges with another generation's."""
    return key if generation.number == 1 else f"g{generation.pk}:{key}"


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
    # Work that can be merged: while a job of this key is pending, a new one is folded into it with `merge`
    # instead of adding a row (a running job is never extended: claiming clears its key).
    merge_key: str | None = None
    merge: Merge | None = None
    # Its unit's pending rows, read and locked in this transaction (`lock_units`): the merge needs no read of its
    # own, and when `run_after` is set the unit's other pending rows are moved to it too.
    unit_pending: list[PendingRow] | None = None


@dataclass(frozen=True, slots=True)
class PendingRow:
    id: int
    merge_key: str | None
    created_at: datetime
    run_after: datetime
    tokens: int  # its payload's `tokens`
    payload: dict[str, Any] | None  # read only for a row of a merging job's key (a full row's is never needed)


@dataclass(slots=True)
class ClaimedJob:
    id: int
    kind: str
    work_unit_key: str
    payload: dict[str, Any]
    attempts: int
    workspace_pk: int | None
    session_pk: int | None
    due: datetime | None = None  # since when it could be claimed (its `run_after`)


def _row(j: NewJob, now: datetime) -> dict[str, Any]:
    return dict(kind=j.kind, work_unit_key=j.work_unit_key, payload=j.payload, workspace_id=j.workspace_pk,
                session_id=j.session_pk, observed=j.observed, observers=j.observers, dedupe_key=j.dedupe_key,
                merge_key=j.merge_key, status="pending", attempts=0, run_after=j.run_after or now, created_at=now,
                updated_at=now)


async def enqueue(conn: AsyncConnection, dialect: Dialect, new_jobs: list[NewJob], now: datetime) -> None:
    """Insert jobs in the caller's transaction; a job whose open dedupe key exists is skipped, and a job with a
    merge key is folded into the pending job of that key when there is one (see `_merge`)."""
    if not new_jobs:
        return
    mark_jobs_queued(conn)
    merging = [j for j in new_jobs if j.merge_key is not None]
    plain = [_row(j, now) for j in new_jobs if j.merge_key is None]
    if plain:
        # executemany with one cached statement (a multi-VALUES insert would be compiled anew every call)
        stmt = dialect.insert(t)
        if any(j.dedupe_key for j in new_jobs):
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=_OPEN_LITERAL)
        await conn.execute(stmt, plain)
    if not merging:
        return
    if any(j.unit_pending is None for j in merging):
        await lock_units(conn, dialect, merging)
    rewrites: dict[int, dict[str, Any]] = {}  # row id -> its new payload and run_after: one executemany for all
    for job in merging:
        assert job.merge is not None and job.unit_pending is not None
        target = next((r for r in job.unit_pending if r.merge_key == job.merge_key), None)
        merged = job.merge(target.payload, job.payload) if target is not None and target.payload else None
        if target is None or merged is None:
            await _merge(conn, dialect, job, now, full=target)
            continue
        rewrites[target.id] = dict(row_id=target.id, new_payload=merged, due=job.run_after or target.run_after)
    if rewrites:
        params = [dict(r, now=now) for r in rewrites.values()]
        await conn.execute(_REWRITE, params if len(params) > 1 else params[0])  # executemany only for several
    keys = {j.merge_key for j in merging}
    moves: dict[int, datetime] = {}
    for job in merging:  # the unit's other pending rows are due with its newest work (the unit's last job wins)
        if job.run_after is None or job.unit_pending is None:
            continue
        for row in job.unit_pending:
            if row.merge_key not in keys:  # a row of one of these keys gets its own job's time above
                moves[row.id] = job.run_after
    for due in set(moves.values()):  # usually none (a unit has one pending row), else one statement
        ids = [i for i, d in moves.items() if d == due]
        await conn.execute(update(t).where(t.c.id.in_(ids), _PENDING_LITERAL).values(run_after=due, updated_at=now))


_REWRITE = (update(t).where(t.c.id == bindparam("row_id"), _PENDING_LITERAL)
            .values(payload=bindparam("new_payload", type_=t.c.payload.type), run_after=bindparam("due"),
                    updated_at=bindparam("now")))


async def lock_units(conn: AsyncConnection, dialect: Dialect, merging: list[NewJob]) -> None:
    """Read and lock the pending rows of the merging jobs' units in one statement (`NewJob.unit_pending`)."""
    if not merging:
        return
    units = sorted({j.work_unit_key for j in merging})
    keys = sorted({j.merge_key for j in merging if j.merge_key})
    by_unit: dict[str, list[PendingRow]] = {u: [] for u in units}
    for r in await conn.execute(_units_query(dialect), {"units": units, "keys": keys}):
        by_unit[r.work_unit_key].append(PendingRow(r.id, r.merge_key, r.created_at, r.run_after, int(r.tokens),
                                                   r.payload))
    for job in merging:
        job.unit_pending = by_unit[job.work_unit_key]


@functools.cache
def _units_query(dialect: Dialect) -> Select[Any]:
    """`lock_units`' statement, built once (building it anew took longer than running it on SQLite)."""
    own_key = t.c.merge_key.in_(bindparam("keys", expanding=True))
    return (select(t.c.id, t.c.work_unit_key, t.c.merge_key, t.c.created_at, t.c.run_after,
                   func.coalesce(dialect.json_number(t.c.payload, "tokens"), 0).label("tokens"),
                   case((own_key, t.c.payload), else_=None).label("payload"))
            .where(t.c.work_unit_key.in_(bindparam("units", expanding=True)), _PENDING_LITERAL)
            .order_by(t.c.id).with_for_update())


def gathered(rows: list[PendingRow]) -> Gathered:
    """What a unit's pending rows hold."""
    return Gathered(sum(r.tokens for r in rows), min((r.created_at for r in rows), default=None))


async def _merge(conn: AsyncConnection, dialect: Dialect, job: NewJob, now: datetime,
                 full: PendingRow | None = None) -> None:
    """Insert `job` as a row of its own, or fold it into the pending job of its merge key should one appear. The
    pending row is locked (PostgreSQL; SQLite has one writer) so a worker cannot claim it half-merged; one that was
    claimed meanwhile is no longer pending, and a full one (`full`, known full already) gives up its key (it stays
    queued as it is), so the job gets a row of its own."""
    assert job.merge is not None and job.merge_key is not None
    if full is not None:
        gives_up: dict[str, Any] = dict(merge_key=None)
        if job.run_after is not None:  # it moves along with the unit's other rows
            gives_up.update(run_after=job.run_after, updated_at=now)
        await conn.execute(update(t).where(t.c.id == full.id).values(**gives_up))
    for attempt in range(3):
        if attempt > 0:  # another transaction queued the key since the unit was read
            current = (await conn.execute(
                select(t.c.id, t.c.payload).where(t.c.merge_key == job.merge_key, _PENDING_LITERAL).with_for_update()
            )).first()
            if current is not None:
                merged = job.merge(current.payload, job.payload)
                if merged is not None:
                    values: dict[str, Any] = dict(payload=merged, updated_at=now)
                    if job.run_after is not None:
                        values["run_after"] = job.run_after
                    await conn.execute(update(t).where(t.c.id == current.id).values(**values))
                    return
                await conn.execute(update(t).where(t.c.id == current.id).values(merge_key=None))
        stmt = (dialect.insert(t).values(**_row(job, now))
                .on_conflict_do_nothing(index_elements=["merge_key"], index_where=_PENDING_LITERAL)
                .returning(t.c.id))
        if (await conn.execute(stmt)).first() is not None:
            return
    raise RuntimeError(f"could not queue a job of merge key {job.merge_key!r}: it kept changing")


@dataclass(frozen=True, slots=True)
class Gathered:
    """What a work unit's pending jobs hold: their summed payload `tokens`, and when the oldest was queued."""

    tokens: int
    oldest: datetime | None


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


async def pending_payloads(conn: AsyncConnection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The current payloads of those of `ids` still pending, locked for this transaction (work may have been
    merged into them since they were read)."""
    if not ids:
        return {}
    query = select(t.c.id, t.c.payload).where(t.c.id.in_(ids), _PENDING_LITERAL).with_for_update()
    return {r.id: r.payload for r in await conn.execute(query)}


async def set_payload(conn: AsyncConnection, job_id: int, payload: dict[str, Any], now: datetime) -> None:
    """Replace a pending job's payload (what is left of it after another job did part of its work)."""
    await conn.execute(update(t).where(t.c.id == job_id, _PENDING_LITERAL).values(payload=payload, updated_at=now))


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
                merge_key=None, updated_at=now)
        .returning(t.c.id, t.c.kind, t.c.work_unit_key, t.c.payload, t.c.attempts, t.c.workspace_id,
                   t.c.session_id, t.c.run_after)
    )
    return [ClaimedJob(id=r.id, kind=r.kind, work_unit_key=r.work_unit_key, payload=r.payload,
                       attempts=r.attempts, workspace_pk=r.workspace_id, session_pk=r.session_id, due=r.run_after)
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


async def prune_done(conn: AsyncConnection, finished_before: datetime, limit: int) -> int:
    """Delete up to `limit` jobs that finished before `finished_before`; returns how many. The latest done job of
    each dedupe key stays: `last_done` (the dreams' cool-down) reads it."""
    newer = t.alias("newer")
    superseded = select(newer.c.id).where(newer.c.dedupe_key == t.c.dedupe_key,
                                          newer.c.status == literal_column("'done'"), newer.c.id > t.c.id).exists()
    doomed = (select(t.c.id).where(_DONE_LITERAL, t.c.updated_at < finished_before,
                                   or_(t.c.dedupe_key.is_(None), superseded))
              .order_by(t.c.updated_at).limit(limit))
    return (await conn.execute(delete(t).where(t.c.id.in_(doomed.scalar_subquery())))).rowcount


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: int
    kind: str
    workspace: str | None  # its name (None: a job of no workspace)
    attempts: int
    last_error: str | None
    updated_at: datetime


async def failed(conn: AsyncConnection, workspace_pk: int | None, limit: int) -> list[FailedJob]:
    """Parked jobs, most recent first."""
    query = (select(t.c.id, t.c.kind, workspaces.c.name, t.c.attempts, t.c.last_error, t.c.updated_at)
             .select_from(t.outerjoin(workspaces, workspaces.c.id == t.c.workspace_id))
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
    totals = QueueCounts()
    per_session: dict[str, QueueCounts] = {}
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


async def cancel_generation(conn: AsyncConnection, dialect: Dialect, generation_pk: int) -> int:
    """Drop the pending jobs that derive into a generation (it failed, was retired or deleted); a running one
    finds its generation gone or closed when it writes (reasoning checks). Returns how many were dropped."""
    stmt = delete(t).where(_PENDING_LITERAL, dialect.json_number(t.c.payload, "generation") == generation_pk)
    return (await conn.execute(stmt)).rowcount
