"""The job queue on both databases: one job per work unit at a time and in order, leases, retry, parking."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.tables import jobs as jobs_table
from honcho_server.worker.runtime import Worker

LEASE = timedelta(seconds=30)


def _unit() -> str:
    return f"test-unit-{uuid.uuid4().hex}"


async def _enqueue(deps: Deps, kind: str, unit: str, n: int) -> None:
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(kind=kind, work_unit_key=unit, payload={"i": i})
                                                    for i in range(n)], deps.now())


async def _claim(deps: Deps, kind: str, worker: str = "w1", limit: int = 10, at=None) -> list[jobs.ClaimedJob]:
    async with deps.db.write() as conn:
        return await jobs.claim(conn, worker, [kind], limit, LEASE, at or deps.now())


async def test_one_job_per_work_unit_in_order(deps: Deps) -> None:
    kind, unit = f"k{uuid.uuid4().hex[:8]}", _unit()
    await _enqueue(deps, kind, unit, 3)
    first = await _claim(deps, kind)
    assert [j.payload["i"] for j in first] == [0]
    assert await _claim(deps, kind, "w2") == []  # the unit is busy
    async with deps.db.write() as conn:
        assert await jobs.complete(conn, first[0].id, "w1", deps.now())
    assert [j.payload["i"] for j in await _claim(deps, kind, "w2")] == [1]


async def test_expired_lease_is_taken_over(deps: Deps) -> None:
    kind, unit = f"k{uuid.uuid4().hex[:8]}", _unit()
    await _enqueue(deps, kind, unit, 1)
    (job,) = await _claim(deps, kind, "crashed")
    later = deps.now() + LEASE + timedelta(seconds=1)
    (again,) = await _claim(deps, kind, "rescuer", at=later)
    assert again.id == job.id and again.attempts == 2
    async with deps.db.write() as conn:
        assert not await jobs.complete(conn, job.id, "crashed", later)  # the old owner lost it
        assert await jobs.complete(conn, job.id, "rescuer", later)


async def test_failures_retry_with_backoff_then_park_and_redrive(deps: Deps) -> None:
    kind, unit = f"k{uuid.uuid4().hex[:8]}", _unit()
    await _enqueue(deps, kind, unit, 1)
    calls = 0

    async def broken(_deps: Deps, _job: jobs.ClaimedJob) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("model said no")

    worker = Worker(deps, {kind: broken})
    await worker.run_once()
    async with deps.db.read() as conn:
        row = (await conn.execute(select(jobs_table).where(jobs_table.c.work_unit_key == unit))).one()
    assert row.status == "pending" and row.run_after > deps.now() and "model said no" in row.last_error
    deps_settings_attempts = deps.settings.worker.max_attempts
    for attempt in range(2, deps_settings_attempts + 1):
        (job,) = await _claim(deps, kind, at=deps.now() + timedelta(hours=attempt))
        async with deps.db.write() as conn:
            status = await jobs.fail(conn, job, "w1", "still broken", deps_settings_attempts, deps.now())
    assert status == "failed"
    assert await _claim(deps, kind, at=deps.now() + timedelta(days=1)) == []
    async with deps.db.write() as conn:
        assert await jobs.redrive(conn, None, deps.now()) >= 1
    assert len(await _claim(deps, kind)) == 1
    assert calls == 1


async def test_dedupe_key_skips_open_duplicates(deps: Deps) -> None:
    kind, unit = f"k{uuid.uuid4().hex[:8]}", _unit()
    new = jobs.NewJob(kind=kind, work_unit_key=unit, payload={}, dedupe_key=unit)
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [new], deps.now())
        await jobs.enqueue(conn, deps.db.dialect, [new], deps.now())
    async with deps.db.read() as conn:
        rows = (await conn.execute(select(jobs_table).where(jobs_table.c.work_unit_key == unit))).all()
    assert len(rows) == 1
