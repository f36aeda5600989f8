"""Fixtures for the SDK compatibility suite.

Every test in ``tests/sdk`` talks to a *real* ``honcho-server`` subprocess through the official
``honcho-ai`` SDK (and raw httpx for the few requests the SDK cannot produce).

* ``backend`` -- session-scoped, parametrized over ``sqlite`` and ``postgres``; every test id therefore
  carries ``[sqlite]`` / ``[postgres]`` (select one with ``-k sqlite``).  ``HONCHO_SDK_BACKENDS`` or
  ``HONCHO_TEST_BACKENDS`` (comma separated) narrows the list too.
* The live servers (``server``, ``auth_server``, ``reasoning_server``...) and ``make_client`` are the plugin
  tests/live_servers.py (shared with tests/v1sdk); the tail of a server's log is attached to every failing test's
  report.

Isolation between tests comes from unique workspace ids (see ``sdk_helpers.unique``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SDK_DIR = Path(__file__).resolve().parent
TESTS_DIR = SDK_DIR.parent
for _p in (str(TESTS_DIR), str(SDK_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from honcho import Honcho  # noqa: E402

from server_process import ServerProcess  # noqa: E402

ALL_BACKENDS = ("sqlite", "postgres")
_BACKENDS_ENV = (os.environ.get("HONCHO_SDK_BACKENDS") or os.environ.get("HONCHO_TEST_BACKENDS")
                 or ",".join(ALL_BACKENDS))
BACKENDS = tuple(b.strip() for b in _BACKENDS_ENV.split(",") if b.strip())


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def honcho(server: ServerProcess, make_client) -> Honcho:
    """An SDK client bound to a brand-new workspace on the no-auth server."""
    return make_client(server)


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[httpx.Client]:
    """Plain httpx client for requests the SDK cannot make."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as c:
        yield c
