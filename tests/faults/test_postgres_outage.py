"""PostgreSQL stopped and restarted, and its disk filled, under load (issue 13, 1 and 2): a real server (API and
worker) on a PostgreSQL of the module's own, keep-alive clients writing and reading all along.

While the database is down every database request is answered 503 with Retry-After and a detail naming the cause,
never 500, and no kept-alive connection is reset; /health stays 200 and /ready is 503. Once PostgreSQL is back,
/ready turns 200 and from then on every request succeeds (no stale pooled connection), without restarting the
server; every acknowledged message is stored. The same with PostgreSQL's filesystem full and then freed (root
only: it needs a tmpfs). Bounded: every wait has a limit, nothing is timed."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import (
    BOUND,
    Answer,
    Load,
    PgInstance,
    fill,
    serve,
    small_filesystem,
    stored_contents,
    summary,
    wait_until,
)
from sqlalchemy import text

from honcho_server.config import DatabaseSettings
from honcho_server.errors import DatabaseUnavailable
from honcho_server.store.dialect import postgres
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from support import BACKENDS

pytestmark = pytest.mark.skipif("postgres" not in BACKENDS, reason="PostgreSQL is not among HONCHO_TEST_BACKENDS")

DISK = "96m"  # a fresh cluster with the schema takes about 48 MB of it (its first WAL segment included)

Running = tuple[PgInstance, str, Path | None]


def _ready(base: str) -> bool:
    return httpx.get(f"{base}/ready", timeout=BOUND).status_code == 200


@pytest.fixture(scope="module")
def postgres_and_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One PostgreSQL and one server on it for the module (starting them is most of the time here); the data
    directory on a small tmpfs when one can be mounted (root), for the full-disk test."""
    with contextlib.ExitStack() as stack:
        disk: Path | None = None
        with contextlib.suppress(pytest.skip.Exception):
            disk = stack.enter_context(small_filesystem(DISK))
        pg = PgInstance(data_parent=disk)
        stack.callback(pg.close)
        upgrade(pg.url)
        base = stack.enter_context(serve(pg.url, tmp_path_factory.mktemp("pg-faults")))
        yield pg, base, disk


@pytest.fixture
def running(postgres_and_server: Running) -> Running:
    """PostgreSQL up and the server ready, whatever an earlier test left."""
    pg, base, _ = postgres_and_server
    if not pg.running():
        pg.start()
    wait_until(lambda: _ready(base), "/ready (a worker heartbeat)")
    return postgres_and_server


def _no_resets_no_500s(answers: list[Answer]) -> None:
    assert not [a for a in answers if a.status is None], "connections reset or refused: " + str(
        [a.error for a in answers if a.status is None][:5])
    assert not [a for a in answers if a.status == 500], summary(answers)


def _nothing_lost(load: Load, base: str) -> None:
    for session, acknowledged in load.acknowledged.items():
        stored = stored_contents(base, load.workspace, session)
        assert set(acknowledged) <= set(stored), f"{session}: lost {len(set(acknowledged) - set(stored))}"


def test_postgres_stop_and_restart_under_load(running: Running) -> None:
    pg, base, _ = running
    load = Load(base, "faults-pg").start()
    wait_until(lambda: sum(map(len, load.acknowledged.values())) >= 10, "writes before the outage")

    stopping = time.monotonic()
    pg.stop("fast")
    down = time.monotonic()
    wait_until(lambda: len([a for a in load.since(down) if a.what == "write"]) >= 10, "writes in the outage")
    wait_until(lambda: any(a.what == "ready" for a in load.since(down)), "/ready in the outage")
    starting = time.monotonic()
    pg.start()
    wait_until(lambda: _ready(base), "/ready after the restart", every=0.2)
    ready = time.monotonic()
    wait_until(lambda: len([a for a in load.since(ready) if a.what == "write"]) >= 20, "writes after it")
    load.stop()

    _no_resets_no_500s(load.answers)
    outage = load.since(down, starting)
    database = [a for a in outage if a.what in ("write", "read")]
    assert database and all(a.status == 503 for a in database), summary(outage)
    assert all(a.retry_after and int(a.retry_after) > 0 for a in database)
    assert all("The database is unavailable: PostgreSQL is unreachable" in a.detail for a in database), {
        a.detail for a in database}
    assert all(a.status == 200 for a in outage if a.what == "health"), summary(outage)
    assert [a.status for a in outage if a.what == "ready"] and all(
        a.status == 503 and a.detail.startswith("database: PostgreSQL is unreachable")
        for a in outage if a.what == "ready"), summary(outage)
    # Going down and coming back: only successes and 503s.
    for a in load.since(stopping, down) + load.since(starting, ready):
        assert a.status is not None and (200 <= a.status < 300 or a.status == 503), a
    # Back: every request succeeds, on the same server process and the same client connections.
    after = load.since(ready)
    assert all(200 <= (a.status or 0) < 300 for a in after), summary(after)
    _nothing_lost(load, base)


def test_postgres_disk_full_under_load(running: Running) -> None:
    pg, base, disk = running
    if disk is None:
        pytest.skip("PostgreSQL's data directory is not on a small filesystem (`mount -t tmpfs` needs root)")
    load = Load(base, "faults-pgdisk", content_bytes=4000).start()
    wait_until(lambda: sum(map(len, load.acknowledged.values())) >= 10, "writes before the disk is full")
    used = subprocess.run(["df", "-h", str(disk)], capture_output=True, text=True).stdout
    print(used)

    filler = disk / "filler"
    fill(filler)
    full = time.monotonic()
    wait_until(lambda: len([a for a in load.since(full) if a.what == "write" and a.status == 503]) >= 5,
               "writes refused for the full disk")
    freeing = time.monotonic()
    filler.unlink()
    freed = time.monotonic()
    if not pg.running():  # PostgreSQL stops when it cannot write its WAL: an operator starts it again
        pg.start()

    back = load.wait_for_writes_after(freed)
    load.stop()

    _no_resets_no_500s(load.answers)
    while_full = load.since(full, freeing)
    print(summary(while_full), {a.detail for a in load.answers if a.status == 503})
    refused = [a for a in load.answers if a.status == 503]
    assert refused and all(a.retry_after and a.detail.startswith("The database is unavailable: ") for a in refused)
    assert any("disk full" in a.detail for a in refused), {a.detail for a in refused}
    assert all(a.status == 200 for a in while_full if a.what == "health"), summary(while_full)
    after = load.since(back)
    assert all(200 <= (a.status or 0) < 300 for a in after if a.what in ("write", "read")), summary(after)
    _nothing_lost(load, base)


@pytest.mark.parametrize("pinged", [True, False])
async def test_pooled_connections_survive_a_quiet_restart(running: Running, pinged: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL restarted while nothing used the pool: a connection idle for IDLE_PING_SECONDS is pinged and
    replaced, so the first read after the restart succeeds. Without the ping (the control) it fails, as a 503."""
    pg, _, _ = running
    monkeypatch.setattr(postgres, "IDLE_PING_SECONDS", 0.0 if pinged else 1e9)
    db = Database(pg.url, DatabaseSettings(url=pg.url, pool_size=1, max_overflow=0))
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
        await asyncio.to_thread(pg.stop, "fast")
        await asyncio.to_thread(pg.start)
        if pinged:
            async with db.read() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        else:
            with pytest.raises(DatabaseUnavailable, match="PostgreSQL"):
                async with db.read() as conn:
                    await conn.execute(text("SELECT 1"))
    finally:
        await db.dispose()
