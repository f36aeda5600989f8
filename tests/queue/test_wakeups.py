"""Workers start queued jobs at once: woken by writes in their own process, and on PostgreSQL by NOTIFY from
other processes; polling (set very slow here) is only the fallback."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.worker.runtime import Worker

SLOW_POLL = 60.0  # seconds: a test that relied on polling would time out


def _slow(deps: Deps) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.worker.poll_interval_seconds = SLOW_POLL
    return Deps(db=deps.db, settings=settings)


async def _run_until_handled(worker_deps: Deps, writer_deps: Deps) -> None:
    kind = f"wake{uuid.uuid4().hex[:8]}"
    handled = asyncio.Event()

    async def handler(_deps: Deps, _job: jobs.ClaimedJob) -> None:
        handled.set()

    worker = Worker(worker_deps, {kind: handler})
    worker.start()
    try:
        await asyncio.sleep(0.3)  # the worker has polled once, found nothing and is now waiting
        async with writer_deps.db.write() as conn:
            await jobs.enqueue(conn, writer_deps.db.dialect,
                               [jobs.NewJob(kind=kind, work_unit_key=kind, payload={})], writer_deps.now())
        await asyncio.wait_for(handled.wait(), timeout=5)
    finally:
        await worker.stop()


async def test_a_write_in_the_same_process_wakes_the_worker(deps: Deps) -> None:
    slow = _slow(deps)
    await _run_until_handled(slow, slow)


async def test_notify_wakes_a_worker_of_another_process(deps: Deps, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has no notifications; its separate workers poll")
    other = Database(deps.settings.db.url, deps.settings.db)  # what a separate worker process would hold
    try:
        worker_deps = _slow(Deps(db=other, settings=deps.settings))
        await _run_until_handled(worker_deps, deps)
    finally:
        await other.dispose()
