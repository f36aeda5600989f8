"""Operators see the jobs parked as failed, with their errors and workspace names, and send them back to the queue:
`honcho-server failed` and `honcho-server redrive`, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from honcho_server.cli.main import app
from honcho_server.queue import jobs
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import jobs as jobs_table
from support import fresh_database_url, make_settings

runner = CliRunner()


async def _park(url: str, workspace: str, kind: str, error: str) -> None:
    """A job of `workspace` that failed its only attempt."""
    settings = make_settings(url)
    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    try:
        ws, _ = await workspaces.get_or_create(deps, workspace, None, None)
        async with deps.db.write() as conn:
            await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(kind=kind, work_unit_key=f"{workspace}:{kind}",
                                                                   payload={}, workspace_pk=ws.pk)], deps.now())
            (job,) = await jobs.claim(conn, "w1", [kind], 1, timedelta(seconds=60), deps.now())
            assert await jobs.fail(conn, job, "w1", error, 1, deps.now()) == "failed"
    finally:
        await deps.aclose()


async def _statuses(url: str) -> list[str]:
    settings = make_settings(url)
    db = Database(settings.db.url, settings.db)
    try:
        async with db.read() as conn:
            return sorted((await conn.execute(select(jobs_table.c.status))).scalars())
    finally:
        await db.dispose()


def test_failed_lists_and_redrive_requeues(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    monkeypatch.setenv("HONCHO_EMBEDDING__PROVIDER", "hash")
    monkeypatch.setenv("HONCHO_EMBEDDING__DIMENSIONS", "64")
    assert "no failed jobs" in runner.invoke(app, ["failed", "--db", url]).output
    asyncio.run(_park(url, "alpha", "summary", "model said no"))
    asyncio.run(_park(url, "beta", "embed", "provider timed out"))

    listed = runner.invoke(app, ["failed", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert "model said no" in listed.output and "provider timed out" in listed.output
    # Workspaces by name, as --workspace takes them (not internal numbers)
    assert "summary  workspace alpha  attempts 1" in listed.output
    assert "embed  workspace beta  attempts 1" in listed.output
    only_beta = runner.invoke(app, ["failed", "--db", url, "--workspace", "beta"])
    assert "provider timed out" in only_beta.output and "model said no" not in only_beta.output
    unknown = runner.invoke(app, ["redrive", "--db", url, "--workspace", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output

    done = runner.invoke(app, ["redrive", "--db", url, "--workspace", "alpha"])
    assert done.exit_code == 0 and "requeued 1 failed job of workspace alpha" in done.output
    assert asyncio.run(_statuses(url)) == ["failed", "pending"]
    assert "requeued 1 failed job" in runner.invoke(app, ["redrive", "--db", url]).output
    assert asyncio.run(_statuses(url)) == ["pending", "pending"]
