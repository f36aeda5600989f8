"""HTTP requests by route template, method and status, with latency histograms, and the optional access log.

A pure ASGI middleware (no per-request objects beyond one closure): the route template is read from the scope
after the app has run (the router puts the matched route there), so `/v3/workspaces/{workspace_id}` is one series
however many workspaces there are. Counters are per process (docs/metrics-and-logs.md).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("honcho_http_requests_total", "HTTP requests answered, by route template, method and status",
                   ["method", "route", "status"])
DURATION = Histogram(
    "honcho_http_request_duration_seconds",
    "Time from the request's arrival at the app to the end of its response, by route template, method and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UNMATCHED = "unmatched"  # no route: one series for every unknown path (a scanner cannot add series)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others count as OTHER

access_log = logging.getLogger("honcho_server.access")


def route_template(scope: Scope) -> str:
    """The matched route's path template (with its mount's), or UNMATCHED."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class HttpMetrics:
    """ASGI middleware: counts and times every HTTP request; logs one line per request when `access_log`."""

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log
        # (method, route, status) -> the counter's and histogram's children: `labels()` costs a lock and a
        # hash of the labels, the cached children only an addition.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # an exception before the response started: the outer error handler answers 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - began
            method = scope["method"]
            key = (method if method in METHODS else "OTHER", route_template(scope), status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (REQUESTS.labels(*key), DURATION.labels(*key))
            series[0].inc()
            series[1].observe(elapsed)
            if self.access_log:
                _log_access(scope, status, elapsed)


def _log_access(scope: Scope, status: int, elapsed: float) -> None:
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "-"
    ms = round(elapsed * 1000, 1)
    # The fields also go as `extra`, so JSON logs carry them as keys of their own.
    access_log.info("%s %s %s %.1fms %s", scope["method"], scope["path"], status, ms, where,
                    extra={"method": scope["method"], "path": scope["path"], "status": status, "duration_ms": ms,
                           "client": where})
