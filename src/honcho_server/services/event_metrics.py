"""Messages written, counted after their transaction commits (per process; exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS_WRITTEN = Counter(
    "honcho_events_written_total",
    "Messages written by this process (POST .../messages and uploads; counted once committed)")
