"""How busy this process's API is, so the in-process worker shares the CPU fairly with the requests.

On a small machine the API, the database and the worker share the cores: embedding a batch (and, on PostgreSQL,
inserting its vectors into the HNSW index) while a bulk import is arriving slows the import. Waiting for the API
to go quiet starves the worker under sustained writes instead (the backlog grows for as long as they last). So
the worker runs while requests are served, but after each round of jobs that overlapped them it rests in
proportion to the time the round took: with `worker.background_share` 0.5 it rests as long as it ran, so the
requests get at least the other half of the time and background work keeps moving. When it falls behind anyway
(it claimed a job due more than `BEHIND_SECONDS` ago: writes arrive faster than its share can handle) it skips the
rest until it has caught up, so the lag stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

QUIET_SECONDS = 0.05  # no request in flight and none finished for this long: the API is idle
BEHIND_SECONDS = 5.0  # a claimed job due longer ago than this: the worker is falling behind


class ApiActivity:
    """Counts requests in flight and started, and remembers when the last one finished (one event loop: no
    locks)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.started = 0
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
            self.started += 1
            try:
                await app(scope, receive, send)
            finally:
                self.in_flight -= 1
                self.last_done = time.monotonic()

        return tracked


class FairShare:
    """The rest owed after a round of jobs: none when the API stayed idle throughout, else the round's time scaled
    so the worker's share of the time is `share`."""

    def __init__(self, activity: ApiActivity, share: float) -> None:
        self.activity = activity
        self.share = share
        self._mark = (0, 0.0)

    def round_started(self) -> None:
        self._mark = (self.activity.started, time.monotonic())

    def rest_after_round(self, waited: float = 0.0) -> float:
        """`waited`: how long the round's longest-waiting job had been due when it was claimed."""
        started, at = self._mark
        overlapped = self.activity.started != started or self.activity.busy()
        if not overlapped or self.share >= 1 or waited > BEHIND_SECONDS:
            return 0.0
        return (time.monotonic() - at) * (1 - self.share) / self.share
