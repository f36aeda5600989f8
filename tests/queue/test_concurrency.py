"""Two workers (each with its own database handle, as separate processes would have) share a queue: a work
unit is never processed by both at once, its jobs run in order, and every job runs exactly once."""

from __future__ import annotations

import asyncio
import collections
import uuid

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.worker.runtime import Worker

UNITS, PER_UNIT = 4, 8


async def test_two_workers_never_share_a_work_unit(deps: Deps) -> None:
    kind = f"conc{uuid.uuid4().hex[:8]}"
    units = [f"{kind}-u{i}" for i in range(UNITS)]
    active: set[str] = set()
    overlaps: list[str] = []
    ran: dict[str, list[int]] = collections.defaultdict(list)

    async def handler(_deps: Deps, job: jobs.ClaimedJob) -> None:
        if job.work_unit_key in active:
            overlaps.append(job.work_unit_key)
        active.add(job.work_unit_key)
        await asyncio.sleep(0.01)  # hold the unit long enough for the other worker to try for it
        ran[job.work_unit_key].append(job.payload["n"])
        active.discard(job.work_unit_key)

    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(kind=kind, work_unit_key=u, payload={"n": n})
                                                    for n in range(PER_UNIT) for u in units], deps.now())
    other = Database(deps.settings.db.url, deps.settings.db)
    try:
        first, second = Worker(deps, {kind: handler}), Worker(Deps(db=other, settings=deps.settings),
                                                               {kind: handler})
        await asyncio.gather(first.drain(), second.drain())
        await first.drain()  # anything left behind by a lost race
    finally:
        await other.dispose()
    assert overlaps == []
    assert {u: ran[u] for u in units} == {u: list(range(PER_UNIT)) for u in units}
