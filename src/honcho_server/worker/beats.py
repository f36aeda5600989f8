"""A running worker's heartbeat: a row refreshed every few seconds, so /ready can tell whether any worker is alive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable

from honcho_server.queue import workers
from honcho_server.services.deps import Deps

log = logging.getLogger("honcho_server.worker")


class Beats:
    """Records the worker's beat every `workers.BEAT_SECONDS` until stopped; a failed beat (database down) is
    logged and retried at the next one, never fatal."""

    def __init__(self, deps: Deps, worker_id: str, kinds: Iterable[str]) -> None:
        self.deps = deps
        self.identity = workers.WorkerIdentity(worker_id=worker_id, host=socket.gethostname(), pid=os.getpid(),
                                               kinds=tuple(kinds), started_at=deps.now())
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Beats:
        self._task = asyncio.create_task(self._loop(), name=f"honcho-beats-{self.identity.worker_id}")
        return self

    async def stop(self) -> None:
        """Stop beating and remove this worker's row (best effort: a crashed worker's row simply ages)."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self.deps.db.write() as conn:
                await workers.gone(conn, self.identity.worker_id)
        except Exception as exc:
            log.warning("could not remove the worker's heartbeat row: %s", exc)

    async def _loop(self) -> None:
        failing = False
        pruned = False
        while True:
            try:
                async with self.deps.db.write() as conn:
                    now = self.deps.now()
                    await workers.beat(conn, self.deps.db.dialect, self.identity, now)
                    if not pruned:  # once per start is plenty
                        await workers.prune(conn, now)
                        pruned = True
                if failing:
                    log.info("worker heartbeat recorded again")
                failing = False
            except Exception as exc:
                if not failing:  # one line per outage, not one per beat
                    log.warning("could not record the worker heartbeat: %s", exc)
                failing = True
            await asyncio.sleep(workers.BEAT_SECONDS)
