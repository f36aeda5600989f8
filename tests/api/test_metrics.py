"""Prometheus metrics (issue 13 item 4; docs/metrics-and-logs.md), on both databases: /metrics scraped before and
after some traffic and parsed with prometheus_client's own parser. HTTP series by route template and status,
messages written, the queue's levels (a queued job of every kind, an overdue one, a parked one), job durations
after a worker run, the connection pool, the LLM series; and who may read /metrics (`server.metrics`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import JWT_SECRET, bearer, expect, messages_url, msg, sign, ws_url
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete

from honcho_server.api import multiprocess_metrics
from honcho_server.api.routes.metrics import KNOWN_KINDS
from honcho_server.config import AuthSettings, Settings
from honcho_server.domain.llm import LLMCall
from honcho_server.llm import metrics as llm_metrics
from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.worker.runtime import Worker
from support import api_client

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MESSAGES_ROUTE = "/v3/workspaces/{workspace_id}/sessions/{session_id}/messages"


def _deps(deps: Deps, **sections: dict[str, Any]) -> Deps:
    """Deps over the suite's database (and engine) with some settings changed."""
    settings = deps.settings.model_copy(deep=True)
    for section, values in sections.items():
        current = getattr(settings, section)
        setattr(settings, section, type(current).model_validate({**current.model_dump(), **values}))
    return Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance)


@pytest.fixture(scope="module")
async def metrics_client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(_deps(deps, server={"metrics": "public"})) as client:
        yield client


async def scrape(client: httpx.AsyncClient, **kwargs: Any) -> Samples:
    response = await client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")  # the text exposition format
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not (yet) exported."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_http_series_by_route_template_and_status_and_messages_written(
    metrics_client: httpx.AsyncClient, ws: str
) -> None:
    client = metrics_client
    before = await scrape(client)
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
    expect(await client.post(messages_url(ws, "s1"), json={"messages": [msg("alice", f"m{i}") for i in range(3)]}),
           201)
    files = {"file": ("notes.txt", b"an uploaded note", "text/plain")}
    expect(await client.post(messages_url(ws, "s2", "upload"), files=files, data={"peer_id": "alice"}), 201)
    assert (await client.get(ws_url(f"{ws}-missing", "usage"))).status_code == 404
    assert (await client.get(f"/no/such/path/{uuid.uuid4().hex}")).status_code == 404
    after = await scrape(client)

    def requests(route: str, status: str, method: str = "POST") -> float:
        return delta(before, after, "honcho_http_requests_total", method=method, route=route, status=status)

    assert requests("/v3/workspaces", "201") == 1
    assert requests(MESSAGES_ROUTE, "201") == 1
    assert requests(MESSAGES_ROUTE + "/upload", "201") == 1
    assert requests("/v3/workspaces/{workspace_id}/usage", "404", "GET") == 1
    assert requests("unmatched", "404", "GET") == 1
    assert requests("/metrics", "200", "GET") == 1  # the first scrape, counted once it was answered
    # Route labels are templates: no workspace name, no raw path.
    routes = {dict(labels).get("route", "") for name, labels in after if name.startswith("honcho_http_")}
    assert not any(ws in route or "no/such" in route for route in routes), routes
    # The latency histogram: one observation in a bucket, and a positive sum.
    labels = {"method": "POST", "route": MESSAGES_ROUTE, "status": "201"}
    assert delta(before, after, "honcho_http_request_duration_seconds_count", **labels) == 1
    assert delta(before, after, "honcho_http_request_duration_seconds_bucket", le="+Inf", **labels) == 1
    assert delta(before, after, "honcho_http_request_duration_seconds_sum", **labels) > 0
    # 3 messages and 1 uploaded chunk; the refused and unknown requests wrote nothing.
    assert delta(before, after, "honcho_events_written_total") == 4
    # Their embed jobs (one per request and session) and the messages still waiting for vectors.
    assert delta(before, after, "honcho_reasoning_tasks_queued", kind="embed") == 2
    assert delta(before, after, "honcho_embedding_backlog_messages") == 4


async def test_queue_levels_per_kind_with_ages_lag_failures_and_job_durations(
    metrics_client: httpx.AsyncClient, deps: Deps
) -> None:
    tag = uuid.uuid4().hex[:10]
    ok_kind, failing_kind, overdue_kind = f"t-ok-{tag}", f"t-fail-{tag}", f"t-overdue-{tag}"
    now = deps.now()
    hour_ago, tomorrow = now - timedelta(hours=1), now + timedelta(days=1)
    # One job of every kind, queued an hour ago and not due before tomorrow (so no other test's worker takes it);
    # one overdue for ten minutes; one of a kind that succeeds and one that fails, for a worker run.
    queued = [jobs.NewJob(kind=kind, work_unit_key=f"metrics-{tag}:{kind}", payload={}, run_after=tomorrow)
              for kind in KNOWN_KINDS]
    queued.append(jobs.NewJob(kind=overdue_kind, work_unit_key=f"metrics-{tag}:overdue", payload={},
                              run_after=now - timedelta(minutes=10)))
    queued += [jobs.NewJob(kind=kind, work_unit_key=f"metrics-{tag}:{kind}", payload={}, run_after=hour_ago)
               for kind in (ok_kind, failing_kind)]
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, queued, hour_ago)
    try:
        levels = await scrape(metrics_client)
        for kind in KNOWN_KINDS:
            assert value(levels, "honcho_reasoning_tasks_queued", kind=kind) >= 1, kind
            assert value(levels, "honcho_reasoning_oldest_queued_age_seconds", kind=kind) >= 3600, kind
        assert value(levels, "honcho_reasoning_tasks_queued", kind=overdue_kind) == 1
        assert 3600 <= value(levels, "honcho_reasoning_oldest_queued_age_seconds", kind=overdue_kind) < 3600 + 300
        assert 600 <= value(levels, "honcho_reasoning_queue_lag_seconds", kind=overdue_kind) < 600 + 300
        assert value(levels, "honcho_queue_levels_up") == 1

        async def succeed(_deps: Deps, _job: jobs.ClaimedJob) -> None:
            return None

        async def fail(_deps: Deps, _job: jobs.ClaimedJob) -> None:
            raise RuntimeError("a job that always fails")

        worker_deps = _deps(deps, worker={"max_attempts": 1})
        assert await Worker(worker_deps, registry={ok_kind: succeed, failing_kind: fail}).drain() == 2
        after = await scrape(metrics_client)
        assert value(after, "honcho_reasoning_tasks_queued", kind=ok_kind) == 0
        assert value(after, "honcho_reasoning_tasks_queued", kind=failing_kind) == 0
        assert value(after, "honcho_reasoning_tasks_failed", kind=failing_kind) == 1
        assert value(after, "honcho_reasoning_tasks_failed", kind=ok_kind) == 0
        for kind, outcome in ((ok_kind, "ok"), (failing_kind, "error")):
            labels = {"kind": kind, "outcome": outcome}
            assert value(after, "honcho_reasoning_duration_seconds_count", **labels) == 1, labels
            assert value(after, "honcho_reasoning_duration_seconds_bucket", le="+Inf", **labels) == 1
    finally:
        async with deps.db.write() as conn:
            await conn.execute(delete(tables.jobs).where(tables.jobs.c.work_unit_key.like(f"metrics-{tag}:%")))


async def test_pool_gauges_and_llm_series(metrics_client: httpx.AsyncClient, deps: Deps) -> None:
    llm_metrics.observe(LLMCall(task="deriver", provider="openai", model="metrics-test-model", input_tokens=10,
                                output_tokens=2, requests=1, latency_ms=120.0, cost_usd=0.001, ok=True, error=None,
                                workspace_pk=None))
    async with deps.db.read():  # a connection held by "someone else" while the scrape runs
        samples = await scrape(metrics_client)
    assert value(samples, "honcho_db_pool_size") >= 1
    assert value(samples, "honcho_db_pool_checked_out") >= 1
    assert ("honcho_db_pool_checked_in", frozenset()) in samples
    assert value(samples, "honcho_db_pool_overflow") >= 0
    labels = {"task": "deriver", "provider": "openai", "model": "metrics-test-model"}
    assert value(samples, "honcho_llm_calls_total", outcome="ok", **labels) >= 1
    assert value(samples, "honcho_llm_tokens_total", direction="input", **labels) >= 10
    assert value(samples, "honcho_llm_cost_usd_total", **labels) >= 0.001
    assert value(samples, "honcho_llm_latency_seconds_count", **labels) >= 1


async def test_who_may_read_metrics(deps: Deps, ws: str) -> None:
    """Access is read from the settings at each request: one app, its settings changed between the checks."""
    app_deps = _deps(deps)
    server = app_deps.settings.server
    auth_on, auth_off = AuthSettings(enabled=True, jwt_secret=JWT_SECRET), AuthSettings()
    admin, workspace_key = bearer(sign(ad=True)), bearer(sign(w=ws))
    assert Settings().server.metrics is None and not Settings().server.metrics_enabled  # off by default
    async with api_client(app_deps) as client:
        # Off: 404 for everyone, key or not (spec 10.D).
        app_deps.settings.auth, server.metrics, server.metrics_enabled = auth_on, None, False
        for headers in ({}, admin):
            off = await client.get("/metrics", headers=headers)
            assert (off.status_code, off.text) == (404, "Metrics are disabled")
        # token with auth on: an admin key, nothing less.
        server.metrics = "token"
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=workspace_key)).status_code == 401
        assert (await client.get("/metrics", headers=bearer("not-a-jwt"))).status_code == 401
        samples = await scrape(client, headers=admin)
        assert value(samples, "honcho_http_requests_total", method="GET", route="/metrics", status="401") >= 3
        # public, and the older switch (METRICS_ENABLED) with `metrics` unset, need no key even with auth on.
        server.metrics = "public"
        await scrape(client)
        server.metrics, server.metrics_enabled = None, True
        await scrape(client)
        # `metrics` wins over the older switch.
        server.metrics = "off"
        assert (await client.get("/metrics")).status_code == 404
        # token with auth off: every caller is the anonymous admin.
        app_deps.settings.auth, server.metrics = auth_off, "token"
        await scrape(client)


async def test_the_counters_of_every_serve_process_are_added_up(
    metrics_client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --processes N` (api/multiprocess_metrics.py): two processes count in the shared directory, and a scrape
    answered by any process reports their sum."""
    count = ("from honcho_server.api import http_metrics; "
             "http_metrics.REQUESTS.labels('GET', '/v3/multiprocess-test', '200').inc({n}); "
             "http_metrics.DURATION.labels('GET', '/v3/multiprocess-test', '200').observe(0.002)")
    env = {**os.environ, multiprocess_metrics.ENV: str(tmp_path)}
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True, timeout=60)
    monkeypatch.setenv(multiprocess_metrics.ENV, str(tmp_path))
    samples = await scrape(metrics_client)
    labels = {"method": "GET", "route": "/v3/multiprocess-test", "status": "200"}
    assert value(samples, "honcho_http_requests_total", **labels) == 5
    assert value(samples, "honcho_http_request_duration_seconds_count", **labels) == 2
    assert value(samples, "honcho_http_request_duration_seconds_bucket", le="0.0025", **labels) == 2
    assert value(samples, "honcho_queue_levels_up") == 1  # the scrape-time families are there too


def test_shared_counters_gives_serve_a_fresh_directory_and_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multiprocess_metrics.ENV, raising=False)
    with multiprocess_metrics.shared_counters():
        path = Path(os.environ[multiprocess_metrics.ENV])
        assert path.is_dir() and not any(path.iterdir())
    assert not path.exists() and multiprocess_metrics.ENV not in os.environ
