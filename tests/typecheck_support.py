"""A pytest plugin (loaded by conftest.py) that type-checks the package in the background.

mypy needs ~40 s of CPU from a cold cache. When tests/test_typecheck.py is among the collected tests, mypy starts
as soon as collection ends, at low priority, and runs while the (mostly I/O-bound) tests do; the test only
waits for its verdict. Nothing starts when the test is not selected. Under pytest-xdist (the suite's default) the
worker that gets the test runs mypy first thing while the other workers run the rest.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_FILE = "test_typecheck.py"
WAIT_SECONDS = 900  # far beyond a cold run on a busy 2-core machine (~3 min); a hang fails the test


@dataclass
class Run:
    """A mypy subprocess writing its report to a file (a pipe left unread could fill and stall it)."""

    process: subprocess.Popen[bytes]
    workdir: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def report(self) -> Path:
        return self.workdir / "mypy.txt"


@dataclass(frozen=True)
class Verdict:
    returncode: int
    output: str
    seconds: float


_RUN = pytest.StashKey[Run]()


def mypy_missing() -> bool:
    return importlib.util.find_spec("mypy") is None


def _start() -> Run:
    """mypy on the package with pyproject.toml's [tool.mypy] settings and a cache of its own (a cold run)."""
    workdir = Path(tempfile.mkdtemp(prefix="honcho-mypy-"))
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(workdir / "cache"), "--no-color-output"]
    with open(workdir / "mypy.txt", "wb") as report:
        process = subprocess.Popen(command, cwd=ROOT, stdout=report, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    # Niced: it yields the CPU to the tests it runs alongside, whose servers and workers have deadlines.
    with contextlib.suppress(AttributeError, OSError):  # no setpriority on Windows
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
    return Run(process, workdir)


def _xdist_worker() -> bool:
    """Under pytest-xdist every worker collects every test, but only one runs the type check: it starts mypy itself
    (the other worker keeps running tests meanwhile), and first, so that nothing waits for it at the end."""
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or mypy_missing() or _xdist_worker():
        return
    if any(item.path.name == TEST_FILE for item in session.items):
        session.config.stash[_RUN] = _start()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In one process, run the type check last, so that it waits for the background mypy as little as possible;
    under xdist, first."""
    items.sort(key=lambda item: (item.path.name == TEST_FILE) != _xdist_worker())


def verdict(config: pytest.Config) -> Verdict:
    """Wait for the background run (started here if collection did not start it) and read its report."""
    run = config.stash.get(_RUN, None) or config.stash.setdefault(_RUN, _start())
    try:
        returncode = run.process.wait(timeout=max(1.0, WAIT_SECONDS - (time.monotonic() - run.started)))
    except subprocess.TimeoutExpired:
        run.process.kill()
        run.process.wait()
        returncode = -1
    return Verdict(returncode, run.report.read_text(errors="replace"), time.monotonic() - run.started)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(_RUN, None)
    if run is None:
        return
    if run.process.poll() is None:  # the session ended early (-x, Ctrl-C): do not leave mypy behind
        run.process.kill()
        run.process.wait()
    shutil.rmtree(run.workdir, ignore_errors=True)
