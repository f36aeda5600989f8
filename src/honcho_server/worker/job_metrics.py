"""How long background jobs take, by kind and outcome (per worker process; exposed at /metrics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from prometheus_client import Histogram

DURATION = Histogram(
    "honcho_reasoning_duration_seconds",
    "Run time of background jobs (every kind: representation, summary, dream, embed, deletions, webhooks...), "
    "by kind and outcome (ok, error, cancelled)",
    ["kind", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)


async def timed(kind: str, run: Awaitable[None]) -> None:
    """Await a job's handler, observing its duration whatever the outcome (exceptions propagate unchanged)."""
    began = time.perf_counter()
    outcome = "error"
    try:
        await run
        outcome = "ok"
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        DURATION.labels(kind, outcome).observe(time.perf_counter() - began)
