"""The queue's levels as /metrics reports them, read from the database at scrape time (right for any number of
API and worker processes: they all share the queue)."""

from __future__ import annotations

from honcho_server.queue import levels
from honcho_server.services.deps import Deps


async def read(deps: Deps) -> levels.QueueLevels:
    async with deps.db.read() as conn:
        return await levels.read(conn, deps.db.dialect, deps.now())
