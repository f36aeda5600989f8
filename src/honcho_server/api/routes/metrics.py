"""Prometheus metrics at /metrics (docs/metrics-and-logs.md lists every series).

Who may read them is `server.metrics`: `public`, `token` (an admin key, when auth is on) or `off` (404, spec 10.D).
Unset, the older `server.metrics_enabled` (METRICS_ENABLED) decides: true is `public`, false (the default) `off`.

Counters and histograms (HTTP requests, messages written, job durations, LLM calls) are this process's, or the
sum over all processes of a `serve --processes N` (api/multiprocess_metrics.py); the queue's levels are read from
the database at each scrape, so every process reports the same, whole-queue figures; the connection pool's figures
are those of the process that answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from honcho_server.api.deps import DepsDep
from honcho_server.api.multiprocess_metrics import process_registry
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.config import Access, Settings
from honcho_server.queue.levels import QueueLevels
from honcho_server.services import queue_levels
from honcho_server.store.pool_stats import PoolStats, pool_stats
from honcho_server.worker import handlers

router = APIRouter(route_class=PolicyRoute)
log = logging.getLogger("honcho_server.api")

QUEUE_READ_TIMEOUT_SECONDS = 3.0  # well inside Prometheus's default 10 s scrape timeout
KNOWN_KINDS = sorted({*handlers.REGISTRY, *handlers.REASONING})  # reported as 0 when none are queued


def access(settings: Settings) -> Access:
    """`server.metrics`, or what the older `metrics_enabled` switch means."""
    server = settings.server
    if server.metrics is not None:
        return server.metrics
    return "public" if server.metrics_enabled else "off"


def _needs_no_key(settings: Settings) -> bool:
    return access(settings) != "token"  # off answers 404 to everyone, key or not


@router.get("/metrics", tags=["health"], response_class=Response,
            responses={404: {"description": "Metrics are off (`server.metrics`): the text \"Metrics are disabled\"",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
@policy(workspace=None, admin_only=True, public_when=_needs_no_key)
async def metrics(deps: DepsDep) -> Response:
    """Prometheus text exposition: HTTP requests, messages written, the queue, job durations, the connection
    pool, LLM calls (docs/metrics-and-logs.md). Access: `server.metrics` (public, token: an admin key, or off:
    404); unset, public when `server.metrics_enabled` (METRICS_ENABLED), else off."""
    if access(deps.settings) == "off":
        return Response("Metrics are disabled", status_code=404, media_type="text/plain")
    levels: QueueLevels | None = None
    try:
        async with asyncio.timeout(QUEUE_READ_TIMEOUT_SECONDS):
            levels = await queue_levels.read(deps)
    except Exception:  # the process's own series are still worth serving while the database is away
        log.warning("could not read the queue's levels for /metrics", exc_info=True)
    extra = [*_queue_families(levels, deps.now()), *_pool_families(pool_stats(deps.db))]
    return Response(generate_latest(_Scrape(extra)), media_type=CONTENT_TYPE_LATEST)


class _Scrape:
    """The counters (this process's, or all `serve` processes', see api/multiprocess_metrics.py) plus the families
    read for this scrape: what `generate_latest` collects."""

    def __init__(self, extra: Iterable[Metric]) -> None:
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from process_registry().collect()
        yield from self.extra


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _queue_families(levels: QueueLevels | None, now: datetime) -> list[Metric]:
    up = _gauge("honcho_queue_levels_up", "1 when this scrape read the queue's levels from the database, else 0")
    up.add_metric([], 0 if levels is None else 1)
    if levels is None:
        return [up]
    queued = _gauge("honcho_reasoning_tasks_queued", "Jobs waiting to run (pending), by kind; whole queue",
                    ["kind"])
    running = _gauge("honcho_reasoning_tasks_running", "Jobs leased by a worker (running), by kind; whole queue",
                     ["kind"])
    failed = _gauge("honcho_reasoning_tasks_failed",
                    "Jobs parked as failed after their last attempt (see `honcho-server failed`), by kind", ["kind"])
    age = _gauge("honcho_reasoning_oldest_queued_age_seconds",
                 "Age of the oldest pending job, by kind (0 when none); includes jobs deliberately deferred",
                 ["kind"])
    lag = _gauge("honcho_reasoning_queue_lag_seconds",
                 "How long the longest-overdue pending job has been due without being claimed, by kind (0: none due)",
                 ["kind"])
    for kind in sorted({*KNOWN_KINDS, *levels.kinds}):
        level = levels.kinds.get(kind)
        queued.add_metric([kind], level.pending if level else 0)
        running.add_metric([kind], level.running if level else 0)
        failed.add_metric([kind], level.failed if level else 0)
        age.add_metric([kind], _seconds_since(level.oldest_queued_at if level else None, now))
        lag.add_metric([kind], _seconds_since(level.oldest_due_at if level else None, now))
    backlog = _gauge("honcho_embedding_backlog_messages",
                     "Messages whose vectors are not stored yet (covered by pending or running embed jobs)")
    backlog.add_metric([], levels.embedding_backlog)
    return [up, queued, running, failed, age, lag, backlog]


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment is not None else 0.0


def _pool_families(stats: PoolStats | None) -> list[Metric]:
    if stats is None:
        return []
    families: list[Metric] = []
    for name, doc, value in (
        ("honcho_db_pool_size", "Connections the pool keeps open (this process)", stats.size),
        ("honcho_db_pool_checked_out", "Connections in use by a request or job (this process)", stats.checked_out),
        ("honcho_db_pool_checked_in", "Open connections idle in the pool (this process)", stats.checked_in),
        ("honcho_db_pool_overflow", "Connections in use beyond the pool size (this process; at most "
         "db.max_overflow)", stats.overflow),
    ):
        family = _gauge(name, doc)
        family.add_metric([], value)
        families.append(family)
    return families
