"""A standalone worker process killed (SIGKILL) in the middle of an embedding job: while it lived, heartbeats kept
renewing its short lease; once it is dead the lease runs out, another worker takes the job over as soon as the
lease ends (not before) and finishes it, once; nothing is lost or doubled. Both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from fake_openai import FakeEmbeddings
from honcho_server.config import WorkerSettings
from honcho_server.services import messages
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import jobs
from honcho_server.worker.runtime import Worker
from support import fresh_database_url, make_settings


def _worker_command() -> list[str]:
    script = Path(sys.executable).with_name("honcho-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "honcho_server.cli.main"]


LEASE = 1.5  # seconds; the subprocess beats every 0.5 s


async def _embed_jobs(deps: Deps) -> list:
    async with deps.db.read() as conn:
        return list(await conn.execute(select(jobs.c.status, jobs.c.attempts, jobs.c.locked_by, jobs.c.locked_until)
                                       .where(jobs.c.kind == "embed")))


def test_the_default_lease_is_short() -> None:
    assert WorkerSettings().lease_seconds <= 15  # a crashed worker's jobs resume within 15 s


async def test_killed_worker_job_is_taken_over_and_finished_once(backend: str, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    with FakeEmbeddings(dimensions=32) as fake:
        embedding = {"provider": "openai", "base_url": fake.base_url, "model": "fake", "dimensions": 32,
                     "api_key": "x", "max_retries": 0, "timeout_seconds": 60}
        settings = make_settings(url, embedding=embedding, worker={"lease_seconds": LEASE})
        deps = Deps(db=Database(url, settings.db), settings=settings)
        try:
            new = [messages.NewMessage(content=f"message {i}", peer_name="ann", metadata={}) for i in range(12)]
            await messages.create(deps, "w", "s", new)
            fake.delay = 30.0  # the subprocess will be caught inside its embedding call
            env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
            env.update({"HONCHO_CONFIG_FILE": str(tmp_path / "none.toml"), "HONCHO_EMBEDDING__PROVIDER": "openai",
                        "HONCHO_EMBEDDING__BASE_URL": fake.base_url, "HONCHO_EMBEDDING__MODEL": "fake",
                        "HONCHO_EMBEDDING__DIMENSIONS": "32", "HONCHO_EMBEDDING__API_KEY": "x",
                        "HONCHO_WORKER__LEASE_SECONDS": str(LEASE)})
            proc = subprocess.Popen([*_worker_command(), "worker", "--db", url], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                while fake.calls == 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert fake.calls == 1, "the worker process never started the embedding call"
                (claimed,) = await _embed_jobs(deps)
                renewed = claimed
                while renewed.locked_until == claimed.locked_until and time.monotonic() < deadline:
                    time.sleep(0.1)  # wait for a heartbeat to renew the lease during the (stalled) call
                    (renewed,) = await _embed_jobs(deps)
                assert renewed.locked_until > claimed.locked_until, "the lease was never renewed"
                os.killpg(proc.pid, signal.SIGKILL)
            finally:
                proc.wait(timeout=30)
            (job,) = await _embed_jobs(deps)
            assert job.status == "running" and job.attempts == 1  # owned by a dead worker
            ends = job.locked_until  # the dead worker's last renewal: at most one lease from its last beat
            fake.delay = 0.0
            rescuer = Worker(deps)
            deps.now = lambda: ends - timedelta(milliseconds=1)
            assert await rescuer.drain() == 0  # the lease has not run out yet: nobody may take it
            deps.now = lambda: ends + timedelta(milliseconds=1)  # the moment it runs out
            assert await rescuer.drain() == 1
            (job,) = await _embed_jobs(deps)
            assert (job.status, job.attempts) == ("done", 2)
            async with deps.db.read() as conn:
                assert await deps.db.dialect.count_vectors(conn) == 12
            assert await rescuer.drain() == 0  # finished once: nothing left to run again
        finally:
            await deps.aclose()

