"""/health is liveness (no database), /ready checks the database, the schema revision, a worker's heartbeat and the
queue's lag, each answered with its reason (issue 13, 2). On both databases, each on a fresh database of its own
(the session's shared one holds other tests' jobs and workers)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from api_helpers import expect
from sqlalchemy import text

from honcho_server.queue import jobs, workers
from honcho_server.services.deps import Deps
from honcho_server.store.migrate import head_revision
from honcho_server.worker.runtime import Worker
from support import api_client, fresh_deps, new_deps

Ask = Callable[[int], Awaitable[dict]]


@pytest.fixture(scope="module")
async def fresh(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deps]:
    async with fresh_deps(backend, tmp_path_factory.mktemp(f"ready-{backend}")) as deps:
        yield deps


@pytest.fixture(scope="module")
async def app_client(fresh: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(fresh) as client:
        yield client


@pytest.fixture
def ask(app_client: httpx.AsyncClient) -> Ask:
    async def ready(status: int) -> dict:
        return expect(await app_client.get("/ready"), status)

    return ready


async def _beat(deps: Deps, age_seconds: float = 0, kinds: tuple[str, ...] = ("embed",)) -> str:
    worker_id = f"test-{uuid.uuid4().hex[:8]}"
    now = deps.now()
    identity = workers.WorkerIdentity(worker_id, "host", 1, kinds, now)
    async with deps.db.write() as conn:
        await workers.beat(conn, deps.db.dialect, identity, now - timedelta(seconds=age_seconds))
    return worker_id


async def _forget(deps: Deps, *worker_ids: str) -> None:
    async with deps.db.write() as conn:
        for worker_id in worker_ids:
            await workers.gone(conn, worker_id)


async def test_without_a_worker_not_ready_and_why(fresh: Deps, ask: Ask) -> None:
    body = await ask(503)
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == {"ok": True, "detail": "ok"}
    assert body["checks"]["schema"] == {"ok": True, "detail": f"ok (revision {head_revision()})"}
    assert not body["checks"]["worker"]["ok"]
    assert body["detail"] == "worker: no worker is running (run `honcho-server worker`, or `serve` with its worker)"


async def test_a_recent_heartbeat_is_ready_a_stale_one_is_not(fresh: Deps, ask: Ask) -> None:
    recent = await _beat(fresh)
    try:
        body = await ask(200)
        assert body["status"] == "ready" and "detail" not in body
        assert all(check["ok"] for check in body["checks"].values())
    finally:
        await _forget(fresh, recent)
    stale = await _beat(fresh, age_seconds=60)
    try:
        body = await ask(503)
        assert re.fullmatch(r"worker: no worker heartbeat for 6\d s \(more than 30 s\)", body["detail"])
    finally:
        await _forget(fresh, stale)


async def test_queue_lag_counts_the_kinds_live_workers_run(fresh: Deps, ask: Ask) -> None:
    alive = await _beat(fresh, kinds=("embed",))
    now = fresh.now()
    old = now - timedelta(seconds=400)
    try:
        async with fresh.db.write() as conn:  # a kind no live worker runs waits: not the queue's lag
            await jobs.enqueue(conn, fresh.db.dialect, [jobs.NewJob(kind="summary", work_unit_key="u-summary",
                                                                    payload={}, run_after=old)], now)
        assert (await ask(200))["checks"]["queue"]["ok"]
        async with fresh.db.write() as conn:
            await jobs.enqueue(conn, fresh.db.dialect, [jobs.NewJob(kind="embed", work_unit_key="u-embed",
                                                                    payload={}, run_after=old)], now)
        body = await ask(503)
        assert re.fullmatch(r"queue: the oldest due job has waited 4\d\d s \(more than 300 s\)", body["detail"])
        fresh.settings.ready.queue_lag_max_seconds = 3600
        assert (await ask(200))["checks"]["queue"]["ok"]
    finally:
        fresh.settings.ready.queue_lag_max_seconds = 300
        async with fresh.db.write() as conn:
            await conn.execute(text("DELETE FROM jobs"))
        await _forget(fresh, alive)


async def test_a_schema_behind_the_code_is_not_ready(fresh: Deps, ask: Ask) -> None:
    alive = await _beat(fresh)
    async with fresh.db.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    try:
        body = await ask(503)
        assert body["detail"] == (f"schema: the database is at schema revision 0012, this server needs "
                                  f"{head_revision()}: run `honcho-server migrate`")
    finally:
        async with fresh.db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
        await _forget(fresh, alive)


async def test_worker_not_required(fresh: Deps, ask: Ask) -> None:
    fresh.settings.ready.require_worker = False
    try:
        body = await ask(200)
    finally:
        fresh.settings.ready.require_worker = True
    assert body["checks"]["worker"] == {"ok": True, "detail": "not required (ready.require_worker is off)"}


async def test_a_running_worker_beats_and_a_stopped_one_is_gone(fresh: Deps, ask: Ask) -> None:
    worker = Worker(fresh, registry={})
    worker.start()
    try:
        for _ in range(200):  # the first beat is recorded as the loop starts
            async with fresh.db.read() as conn:
                if await workers.last_beat(conn) is not None:
                    break
            await asyncio.sleep(0.05)
        assert (await ask(200))["checks"]["worker"]["ok"]
    finally:
        await worker.stop()
    async with fresh.db.read() as conn:
        assert await workers.last_beat(conn) is None
    await ask(503)


def _unreachable_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it
    return f"postgresql://postgres@/honcho?host={tmp_path / 'no-server-here'}"


async def test_health_needs_no_database_ready_and_routes_say_why(backend: str, tmp_path: Path) -> None:
    deps = new_deps(_unreachable_url(backend, tmp_path))
    try:
        async with api_client(deps) as client:
            health = expect(await client.get("/health"), 200)
            ready = expect(await client.get("/ready"), 503)
            response = await client.get("/v3/workspaces/w/sessions/s/summaries")
    finally:
        await deps.db.dispose()
    assert health["status"] == "ok" and "reasoning" in health
    cause = ("the SQLite database file cannot be opened" if backend == "sqlite"
             else "PostgreSQL is unreachable (its socket is missing: is it running?)")
    assert ready["detail"] == f"database: {cause}"
    assert ready["checks"]["schema"] == {"ok": False, "detail": "not checked: the database is unavailable"}
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json() == {"detail": f"The database is unavailable: {cause}. Retry later."}
