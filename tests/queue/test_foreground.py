"""The worker inside `serve` shares the time fairly with the API's requests: it keeps running while requests are
served (it is never starved by sustained writes), and after a round of jobs that overlapped requests it rests in
proportion to the round's time (`worker.background_share`), unless it is falling behind; with the API idle it
never rests."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.worker import foreground
from honcho_server.worker.foreground import ApiActivity, FairShare
from honcho_server.worker.runtime import Worker


def _fast_polls(deps: Deps) -> Deps:
    settings = deps.settings.model_copy(deep=True)
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


async def test_jobs_run_while_the_api_stays_busy(deps: Deps) -> None:
    activity = ApiActivity()
    activity.in_flight = 1  # a request in flight for ever: waiting for a quiet moment would starve the job
    worker, handled = await _start(_fast_polls(deps), activity)
    try:
        await asyncio.wait_for(handled.wait(), timeout=10)
    finally:
        await worker.stop()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(foreground.time, "monotonic", fake)
    return fake


def test_a_round_that_overlapped_requests_is_followed_by_a_proportional_rest(clock: _Clock) -> None:
    activity = ApiActivity()
    half, quarter = FairShare(activity, 0.5), FairShare(activity, 0.25)
    half.round_started()
    quarter.round_started()
    activity.started += 1  # a request came and went during the round
    clock.now += 2.0  # the round took 2 s
    assert half.rest_after_round() == pytest.approx(2.0)  # as long as it ran: half the time each
    assert quarter.rest_after_round() == pytest.approx(6.0)  # a quarter of the time for the worker


def test_no_rest_while_the_worker_is_behind(clock: _Clock) -> None:
    activity = ApiActivity()
    share = FairShare(activity, 0.5)
    share.round_started()
    activity.started += 1
    clock.now += 2.0
    assert share.rest_after_round(waited=foreground.BEHIND_SECONDS / 2) == pytest.approx(2.0)
    assert share.rest_after_round(waited=foreground.BEHIND_SECONDS + 1) == 0.0  # catching up comes first


def test_no_rest_when_the_api_was_idle_or_the_share_is_everything(clock: _Clock) -> None:
    activity = ApiActivity()
    share = FairShare(activity, 0.5)
    share.round_started()
    clock.now += 2.0
    assert share.rest_after_round() == 0.0  # no request during the round
    activity.in_flight = 1  # one still in flight at its end counts too
    assert share.rest_after_round() > 0
    everything = FairShare(activity, 1.0)
    everything.round_started()
    clock.now += 2.0
    assert everything.rest_after_round() == 0.0


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
    assert seen == [1] and activity.in_flight == 0 and activity.started == 1
    assert activity.busy()  # just finished: not quiet yet
    await asyncio.sleep(0.06)
    assert not activity.busy()
