"""One set of counters for all the processes of `serve --processes N` (prometheus_client's multiprocess mode).

The processes share one port, so a scrape reaches whichever of them accepts the connection: with counters kept
in each process's memory, every scrape would show another process's counts. `serve` therefore gives its processes
a fresh directory in PROMETHEUS_MULTIPROC_DIR before starting them; each process's counters and histograms live in
files there, and /metrics adds up all the files (a process that exits keeps its counts). An operator who sets the
variable themselves (e.g. to a tmpfs) keeps their directory; it must be emptied before each start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when a process first creates its metrics


@contextlib.contextmanager
def shared_counters() -> Iterator[None]:
    """For the duration of a multi-process `serve`: a fresh directory for the processes' counters (removed after)."""
    if os.environ.get(ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="honcho-metrics-")
    os.environ[ENV] = path
    try:
        yield
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def process_registry() -> Any:
    """What /metrics collects its counters from: all processes' files in multiprocess mode, else this process's."""
    path = os.environ.get(ENV)
    if not path:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return registry
