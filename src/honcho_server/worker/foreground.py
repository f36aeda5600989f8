"""How busy this process's API is, so the in-process worker can give the requests the CPU first.

On a small machine the API, the database and the worker share the cores: embedding a batch (and, on
PostgreSQL, inserting its vectors into the HNSW index) while a bulk import is arriving slows the import several
times over. The worker therefore waits for a quiet moment before each round of jobs, for at most
`worker.yield_to_api_seconds`, so background work is delayed, never starved.
"""

from __future__ import annotations

import time
from typing import Any

QUIET_SECONDS = 0.05  # no request in flight and none finished for this long: the API is idle


class ApiActivity:
    """Counts requests in flight and remembers when the last one finished (one event loop: no locks)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_done = -float("inf")

    def busy(self) -> bool:
        return self.in_flight > 0 or time.monotonic() - self.last_done < QUIET_SECONDS

    def middleware(self, app: Any) -> Any:
        """Pure ASGI wrapper (no per-request objects beyond the call itself)."""

        async def tracked(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            self.in_flight += 1
            try:
                await app(scope, receive, send)
            finally:
                self.in_flight -= 1
                self.last_done = time.monotonic()

        return tracked
