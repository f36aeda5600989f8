"""The worker loop: claim leased jobs, run handlers with heartbeats, complete / retry / park, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from honcho_server.domain.ids import new_id
from honcho_server.queue import jobs
from honcho_server.services import queue_events
from honcho_server.services.deps import Deps
from honcho_server.worker import handlers
from honcho_server.worker.foreground import QUIET_SECONDS, ApiActivity

log = logging.getLogger("honcho_server.worker")
Handler = Callable[[Deps, jobs.ClaimedJob], Awaitable[None]]


class Worker:
    """Runs jobs of the kinds it has handlers for; other kinds wait for a worker that knows them."""

    def __init__(self, deps: Deps, registry: dict[str, Handler] | None = None,
                 foreground: ApiActivity | None = None) -> None:
        self.deps = deps
        self.foreground = foreground  # this process's API, when the worker runs inside `serve`
        self.registry = registry if registry is not None else handlers.registry(deps.settings)
        self.id = f"{socket.gethostname()[:30]}-{os.getpid()}-{new_id()[:8]}"
        settings = deps.settings.worker
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.poll = settings.poll_interval_seconds
        self.concurrency = settings.concurrency
        self.yield_seconds = settings.yield_to_api_seconds
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # set when jobs may be waiting: no need to sleep out the poll interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"honcho-worker-{self.id}")

    def request_stop(self) -> None:
        """Ask the loop to stop after the jobs in hand (safe to call from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Jobs were queued: claim now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the jobs in hand, then return (no new claims)."""
        self.request_stop()
        if self._task:
            await self._task

    async def run(self) -> None:
        """Run jobs until `request_stop`: woken by this process's writes and by the database's notifications
        (PostgreSQL LISTEN/NOTIFY), with polling as the fallback for everything else (retries coming due,
        other processes on SQLite)."""
        db = self.deps.db
        db.job_listeners.append(self.wake)
        close_listener = await self._listen()
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                await self._yield_to_foreground()
                try:
                    done = await self.run_once()
                except Exception:  # a database hiccup must not kill the loop
                    log.exception("worker poll failed")
                    done = 0
                if not done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
        finally:
            db.job_listeners.remove(self.wake)
            if close_listener:
                await close_listener()

    async def _yield_to_foreground(self) -> None:
        """Wait while this process's API is busy, for at most `yield_seconds` (see worker/foreground.py)."""
        if self.foreground is None or self.yield_seconds <= 0:
            return
        deadline = time.monotonic() + self.yield_seconds
        while self.foreground.busy() and time.monotonic() < deadline and not self._stopping.is_set():
            await asyncio.sleep(QUIET_SECONDS)

    async def _listen(self) -> Callable[[], Awaitable[None]] | None:
        try:
            return await self.deps.db.dialect.listen_jobs(self.deps.db.url, self.wake)
        except Exception:  # notifications are an optimisation; polling still works
            log.warning("could not listen for job notifications; polling only", exc_info=True)
            return None

    async def run_once(self) -> int:
        """Claim and run one round of jobs; returns how many ran."""
        if not self.registry:
            return 0
        async with self.deps.db.write() as conn:
            claimed = await jobs.claim(conn, self.id, list(self.registry), self.concurrency, self.lease,
                                       self.deps.now())
        await asyncio.gather(*(self._run_job(job) for job in claimed))
        return len(claimed)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Run until no claimable job is left (tests and the `worker --once` command)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def _run_job(self, job: jobs.ClaimedJob) -> None:
        beat = asyncio.create_task(self._heartbeat(job))
        try:
            await self.registry[job.kind](self.deps, job)
        except Exception as exc:
            beat.cancel()
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            error = f"{type(exc).__name__}: {exc}"
            async with self.deps.db.write() as conn:
                status = await jobs.fail(conn, job, self.id, error, self.deps.settings.worker.max_attempts,
                                         self.deps.now())
                if status == "failed":
                    await queue_events.parked(conn, self.deps, job, error)
            return
        beat.cancel()
        async with self.deps.db.write() as conn:
            if await jobs.complete(conn, job.id, self.id, self.deps.now()):
                await queue_events.completed(conn, self.deps, job)

    async def _heartbeat(self, job: jobs.ClaimedJob) -> None:
        """Extend the lease while the handler runs, so a long job is never taken over."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.deps.db.write() as conn:
                if not await jobs.heartbeat(conn, job.id, self.id, self.lease, self.deps.now()):
                    log.warning("lost the lease on job %s", job.id)
                    return
