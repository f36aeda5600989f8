"""The worker inside `serve` lets the API's requests go first: while requests are in flight it waits for a
quiet moment before claiming jobs, but never longer than `worker.yield_to_api_seconds`."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.worker.foreground import ApiActivity
from honcho_server.worker.runtime import Worker


def _with_yield(deps: Deps, seconds: float) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.worker.yield_to_api_seconds = seconds
    settings.worker.poll_interval_seconds = 0.05
    return Deps(db=deps.db, settings=settings)


async def _start(deps: Deps, activity: ApiActivity) -> tuple[Worker, asyncio.Event]:
    """One job queued and a worker (in-process, tracking `activity`) started; the event is set when it ran."""
    kind, handled = f"fg{uuid.uuid4().hex[:8]}", asyncio.Event()
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(kind=kind, work_unit_key=kind, payload={})],
                           deps.now())

    async def handler(_deps: Deps, _job: jobs.ClaimedJob) -> None:
        handled.set()

    worker = Worker(deps, {kind: handler}, foreground=activity)
    worker.start()
    return worker, handled


async def test_jobs_wait_while_the_api_is_busy(deps: Deps) -> None:
    activity = ApiActivity()
    activity.in_flight = 1  # a request is being served
    worker, handled = await _start(_with_yield(deps, 60.0), activity)
    try:
        await asyncio.sleep(0.5)
        assert not handled.is_set()
        activity.in_flight = 0  # the API goes quiet: the job runs
        await asyncio.wait_for(handled.wait(), timeout=5)
    finally:
        await worker.stop()


async def test_the_wait_is_bounded(deps: Deps) -> None:
    activity = ApiActivity()
    activity.in_flight = 1  # busy for ever
    worker, handled = await _start(_with_yield(deps, 0.2), activity)
    try:
        await asyncio.wait_for(handled.wait(), timeout=5)
    finally:
        await worker.stop()


async def test_the_middleware_counts_requests_and_their_end() -> None:
    activity = ApiActivity()
    seen: list[int] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(activity.in_flight)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    assert not activity.busy()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=activity.middleware(app)),
                                 base_url="http://t") as client:
        assert (await client.get("/")).status_code == 204
    assert seen == [1] and activity.in_flight == 0
    assert activity.busy()  # just finished: not quiet yet
    await asyncio.sleep(0.06)
    assert not activity.busy()
