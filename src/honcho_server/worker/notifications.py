"""The worker's LISTEN connection, kept open for as long as the worker runs.

Notifications only spare the wait for the next poll, but a worker that lost them after a PostgreSQL restart
would quietly fall back to polling for the rest of its life. So the connection is reopened whenever it drops
(retried every few seconds while the database is away), and each (re)opening wakes the worker once to pick up
whatever was queued while nobody listened. On a database without notifications (SQLite) nothing is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from honcho_server.store.engine import Database

log = logging.getLogger("honcho_server.worker")

RETRY_SECONDS = 2.0


class JobNotifications:
    def __init__(self, db: Database, wake: Callable[[], None], retry_seconds: float = RETRY_SECONDS) -> None:
        self._db = db
        self._wake = wake
        self._retry = retry_seconds
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.openings = 0  # how many times a listening connection was opened (read by tests)

    def start(self) -> JobNotifications:
        self._task = asyncio.create_task(self._keep_listening(), name="job-notifications")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_listening(self) -> None:
        failing = False
        while True:
            self._lost.clear()
            try:
                close = await self._db.dialect.listen_jobs(self._db.url, self._wake, self._lost.set)
            except Exception as exc:  # the database is away: poll meanwhile, and try again
                if not failing:
                    log.warning("cannot listen for job notifications (%s: %s); polling until it can, retrying every "
                                "%g s", type(exc).__name__, exc, self._retry)
                failing = True
                await asyncio.sleep(self._retry)
                continue
            if close is None:
                return  # this database cannot notify: polling is all there is
            if failing or self.openings:
                log.info("listening for job notifications again")
            failing = False
            self.openings += 1
            self._wake()  # catch up on what was queued while nobody listened
            try:
                await self._lost.wait()
                log.warning("the job notifications connection dropped; reopening it")
            finally:
                with contextlib.suppress(Exception):
                    await close()
