"""Workers start queued jobs at once: woken by writes in their own process, and on PostgreSQL by NOTIFY from
other processes, also after their listening connection dropped; polling (set very slow here) is only the
fallback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.worker.runtime import Worker

SLOW_POLL = 60.0  # seconds: a test that relied on polling would time out


def _slow(deps: Deps) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.worker.poll_interval_seconds = SLOW_POLL
    return Deps(db=deps.db, settings=settings)


async def _run_until_handled(worker_deps: Deps, writer_deps: Deps,
                             before: Callable[[Worker], Awaitable[None]] | None = None) -> None:
    kind = f"wake{uuid.uuid4().hex[:8]}"
    handled = asyncio.Event()

    async def handler(_deps: Deps, _job: jobs.ClaimedJob) -> None:
        handled.set()

    worker = Worker(worker_deps, {kind: handler})
    worker.start()
    try:
        await asyncio.sleep(0.3)  # the worker has polled once, found nothing and is now waiting
        if before is not None:
            await before(worker)
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


async def _until(predicate: Callable[[], bool], what: str, bound: float = 20.0) -> None:
    for _ in range(int(bound / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {bound} s: {what}")


async def test_notifications_survive_a_dropped_listening_connection(deps: Deps, backend: str) -> None:
    """What a PostgreSQL restart does to the worker's LISTEN connection: it is closed under it. The worker opens a
    new one and NOTIFY from another process wakes it again (before, it was left polling for good)."""
    if backend != "postgres":
        pytest.skip("SQLite has no notifications; its separate workers poll")

    async def drop_listener(worker: Worker) -> None:
        notifications = worker.notifications
        assert notifications is not None
        await _until(lambda: notifications.openings == 1, "the worker listens")
        async with deps.db.write() as conn:
            killed = (await conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"))).scalar_one()
        assert killed >= 1
        await _until(lambda: notifications.openings == 2, "the worker listens again")

    other = Database(deps.settings.db.url, deps.settings.db)
    try:
        await _run_until_handled(_slow(Deps(db=other, settings=deps.settings)), deps, before=drop_listener)
    finally:
        await other.dispose()
