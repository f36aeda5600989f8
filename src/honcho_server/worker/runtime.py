"""The worker loop: claim leased jobs, run handlers with heartbeats, complete / retry / park, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from honcho_server.domain.ids import new_id
from honcho_server.errors import DatabaseUnavailable
from honcho_server.queue import jobs
from honcho_server.services import queue_events
from honcho_server.services.deps import Deps
from honcho_server.services.rederive import KIND as REDERIVE
from honcho_server.worker import handlers, job_metrics
from honcho_server.worker.beats import Beats
from honcho_server.worker.foreground import ApiActivity, FairShare
from honcho_server.worker.notifications import JobNotifications
from honcho_server.worker.pruning import Pruner

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
        # inside `serve`: rest after rounds that overlapped requests (worker/foreground.py)
        self.fair = FairShare(foreground, settings.background_share) if foreground is not None else None
        self.pruner = Pruner(deps)
        self._waited = 0.0  # seconds the last round's longest-waiting job had been due
        self.notifications: JobNotifications | None = None  # while running
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
        (PostgreSQL LISTEN/NOTIFY, kept open by notifications.py), with polling as the fallback for everything else
        (retries coming due, other processes on SQLite)."""
        db = self.deps.db
        db.job_listeners.append(self.wake)
        notifications = self.notifications = JobNotifications(db, self.wake).start()
        beats = Beats(self.deps, self.id, self.registry).start()  # read by /ready
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                await self.pruner.maybe_run()
                if self.fair is not None:
                    self.fair.round_started()
                try:
                    done = await self.run_once()
                except DatabaseUnavailable as exc:  # an outage: one line per poll, not a traceback
                    log.warning("worker poll failed: %s", exc)
                    done = 0
                except Exception:  # a database hiccup must not kill the loop
                    log.exception("worker poll failed")
                    done = 0
                await self._rest()
                if not done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
        finally:
            await beats.stop()
            db.job_listeners.remove(self.wake)
            await notifications.stop()

    async def _rest(self) -> None:
        """Give this process's API its share of the time after a round that overlapped requests."""
        seconds = self.fair.rest_after_round(self._waited) if self.fair is not None else 0.0
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def run_once(self) -> int:
        """Claim and run one round of jobs; returns how many ran."""
        if not self.registry:
            return 0
        live = [kind for kind in self.registry if kind != REDERIVE]
        async with self.deps.db.write() as conn:
            now = self.deps.now()
            claimed = await jobs.claim(conn, self.id, live, self.concurrency, self.lease, now) if live else []
            room = min(self.concurrency - len(claimed), self.deps.settings.worker.rederive_concurrency)
            if REDERIVE in self.registry and room > 0:  # re-derivation takes only what live work leaves
                claimed += await jobs.claim(conn, self.id, [REDERIVE], room, self.lease, now)
        self._waited = max([(now - job.due).total_seconds() for job in claimed if job.due is not None], default=0.0)
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
            await job_metrics.timed(job.kind, self.registry[job.kind](self.deps, job))  # /metrics
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
