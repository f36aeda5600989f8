"""What the HTTP metrics middleware (api/http_metrics.py) adds to each request, in microseconds.

Calls a trivial ASGI app directly (no sockets, no HTTP parsing: only the middleware's own work differs) with and
without the middleware, and with the access log on (written to a discarding handler), over a few routes and
statuses. Prints per-request figures; the goal is "well under 100 µs".

    .venv/bin/python bench/http_metrics_overhead.py [--requests 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from dataclasses import dataclass
from typing import Any

from honcho_server.api.http_metrics import HttpMetrics


@dataclass
class _Route:
    path_format: str


ROUTES = [_Route("/v3/workspaces/{workspace_id}/sessions/{session_id}/messages"),
          _Route("/v3/workspaces/{workspace_id}/peers/list"), _Route("/health"), None]
STATUSES = [200, 201, 404, 422]
START = [{"type": "http.response.start", "status": s, "headers": []} for s in STATUSES]
BODY = {"type": "http.response.body", "body": b"{}"}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Routes the request (puts the route in the scope, as Starlette's router does) and answers."""
    i = scope["i"]
    if ROUTES[i % 4] is not None:
        scope["route"] = ROUTES[i % 4]
    await send(START[i % 4])
    await send(BODY)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: dict[str, Any]) -> None:
    return None


async def per_request_us(target: Any, requests: int) -> float:
    scopes = [{"type": "http", "method": "GET" if i % 2 else "POST", "path": f"/v3/workspaces/w{i}",
               "client": ("127.0.0.1", 5000), "i": i} for i in range(1000)]
    began = time.perf_counter()
    for i in range(requests):
        await target(dict(scopes[i % 1000]), _receive, _send)
    return (time.perf_counter() - began) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    logging.getLogger("honcho_server.access").addHandler(logging.NullHandler())
    logging.getLogger("honcho_server.access").propagate = False
    logging.getLogger("honcho_server.access").setLevel(logging.INFO)
    targets = {"bare app": app, "with metrics": HttpMetrics(app),
               "with metrics + access log": HttpMetrics(app, access_log=True)}
    results: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):  # interleaved, so a busy moment of the machine hits every variant alike
        for name, target in targets.items():
            results[name].append(await per_request_us(target, requests))
    bare = statistics.median(results["bare app"])
    print(f"{requests} requests x {rounds} rounds; per request (median of rounds, min in brackets):")
    for name, figures in results.items():
        median = statistics.median(figures)
        extra = "" if name == "bare app" else f"  -> adds {median - bare:.2f} µs"
        print(f"  {name:28s} {median:7.2f} µs  [{min(figures):.2f}]{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
