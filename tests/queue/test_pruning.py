"""Done jobs are deleted once older than `worker.done_retention_seconds`, in batches, by the worker; open and failed
jobs stay, and so does the latest done job of each dedupe key (the dreams' cool-down reads it). Both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import jobs as t
from honcho_server.worker import pruning
from support import fresh_database_url, make_settings


async def _job(deps: Deps, name: str, status: str, age: timedelta, dedupe_key: str | None = None) -> None:
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(kind="test", work_unit_key=name, payload={},
                                                               dedupe_key=dedupe_key)], deps.now())
        await conn.execute(update(t).where(t.c.work_unit_key == name).values(status=status,
                                                                              updated_at=deps.now() - age))


async def test_old_done_jobs_are_pruned_in_batches(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    settings = make_settings(url, worker={"done_retention_seconds": 3600})
    deps = Deps(db=Database(url, settings.db), settings=settings)
    old, fresh = timedelta(hours=2), timedelta(minutes=5)
    try:
        for i in range(7):
            await _job(deps, f"old-{i}", "done", old)
        await _job(deps, "fresh", "done", fresh)
        await _job(deps, "old-failed", "failed", old)
        await _job(deps, "old-pending", "pending", old)
        await _job(deps, "dream-1", "done", old + timedelta(hours=1), dedupe_key="dream:omni:1:a:a")
        await _job(deps, "dream-2", "done", old, dedupe_key="dream:omni:1:a:a")
        monkeypatch.setattr(pruning, "BATCH", 3)  # several small transactions
        pruner = pruning.Pruner(deps)
        assert await pruner.maybe_run() == 8  # seven old ones and the older dream
        assert await pruner.maybe_run() == 0  # not due again so soon
        async with deps.db.read() as conn:
            left = sorted(r.work_unit_key for r in await conn.execute(select(t.c.work_unit_key)))
            last_dream = await jobs.last_done(conn, "dream:omni:1:a:a")
        assert left == ["dream-2", "fresh", "old-failed", "old-pending"]
        assert last_dream is not None  # the dreams' cool-down still knows when the last one ran
    finally:
        await deps.aclose()
