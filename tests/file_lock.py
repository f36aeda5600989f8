"""`file_lock`: an exclusive lock between every process of the suite (pytest-xdist workers, and two pytest runs at
once), held while something shared outside a test's own directory is checked or installed (tests/ts/node_modules,
apt-get, the v1 SDKs' virtualenvs)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def file_lock(name: str, *, per_checkout: bool = True) -> Iterator[None]:
    """An exclusive lock named `name` (per checkout unless told otherwise) outside the tree, shared by every process
    of the suite."""
    key = "-" + hashlib.sha256(str(_CHECKOUT).encode()).hexdigest()[:16] if per_checkout else ""
    with open(Path(tempfile.gettempdir()) / f"honcho-server-{name}{key}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
