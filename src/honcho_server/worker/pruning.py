"""Deleting finished jobs after `worker.done_retention_seconds`, a small batch at a time, so the jobs table holds
the open work and recent history only."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps

log = logging.getLogger("honcho_server.worker")
EVERY_SECONDS = 60.0
BATCH = 500  # rows per transaction: a short write that never holds the database (SQLite's one writer) for long
MAX_BATCHES = 20  # per run: a large backlog of done jobs is worked off over several runs


class Pruner:
    """Run by the worker loop between rounds of jobs; does something at most every `EVERY_SECONDS`."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.retention = timedelta(seconds=deps.settings.worker.done_retention_seconds)
        self._next = 0.0

    async def maybe_run(self) -> int:
        """Prune when due; returns how many jobs were deleted."""
        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + EVERY_SECONDS
        try:
            return await self.run()
        except Exception:  # pruning is housekeeping: a failure waits for the next run
            log.warning("pruning done jobs failed", exc_info=True)
            return 0

    async def run(self) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            async with self.deps.db.write() as conn:
                deleted = await jobs.prune_done(conn, self.deps.now() - self.retention, BATCH)
            total += deleted
            if deleted < BATCH:
                break
            await asyncio.sleep(0)  # let requests and jobs in between batches
        if total:
            log.debug("pruned %d done jobs", total)
        return total
