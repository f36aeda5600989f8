"""Fixtures of the v1 suite: the published v1 SDKs (`honcho-ai==0.0.19` and `==0.2.0`) drive live servers.

* Each SDK lives in its own virtualenv, made by the test run itself from PyPI (`python -m venv`, `pip install
  honcho-ai==<version>`) in a cache outside the source tree, `$XDG_CACHE_HOME/honcho-server-tests/v1sdk-<version>`
  (`~/.cache/...` by default): both versions and the v3 SDK the rest of the suite uses are the same top-level package
  `honcho`, so none can share an interpreter. A marker file makes later runs reuse the venv; a file lock keeps
  pytest-xdist workers (and two runs) from making it twice at once. A failed install fails the tests, with pip's
  output: it never skips.
* `driver.py` runs in that venv, one process per test module and version; `v1` is the proxy tests call it through,
  so they read like SDK code: `v1.call("apps.users.sessions.messages.create", session_id, app_id=..., ...)`.
* Tests are parametrised over `version` ("0.0.19", "0.2.0") and `backend` (sqlite, postgres). The live servers are
  tests/live_servers.py's (`server`, `reasoning_server`, `auth_server`); a module picks another than `server` by
  overriding `v1_server`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from server_process import ServerProcess

V1_DIR = Path(__file__).resolve().parent
if str(V1_DIR) not in sys.path:  # the test modules import v1_helpers by name
    sys.path.insert(0, str(V1_DIR))

from v1_helpers import V1, VERSIONS, DriverProcess, ensure_venv  # noqa: E402


@pytest.fixture(scope="session")
def v1_venvs() -> Callable[[str], Path]:
    """`v1_venvs(version)`: the python of that SDK's venv (made once per session at most)."""
    made: dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in made:
            made[version] = ensure_venv(version)
        return made[version]

    return get


@pytest.fixture(scope="module", params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def v1_server(server: ServerProcess) -> ServerProcess:
    """The live server `v1` drives; a module overrides this fixture to drive another."""
    return server


@pytest.fixture(scope="module")
def v1_api_key(v1_server: ServerProcess) -> str | None:
    """The key `v1` sends by default (none); a module on `auth_server` overrides it."""
    return None


@pytest.fixture(scope="module")
def v1_driver(version: str, v1_server: ServerProcess, v1_api_key: str | None, v1_venvs: Callable[[str], Path],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverProcess]:
    driver = DriverProcess(v1_venvs(version), version, v1_server.base_url, v1_api_key,
                           tmp_path_factory.mktemp("v1-driver"))
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def v1(v1_driver: DriverProcess) -> V1:
    """The SDK of this module and version, strict, no retries, bound to `v1_server`."""
    return V1(v1_driver)


@pytest.fixture
def v3(v1_server: ServerProcess) -> Iterator[httpx.Client]:
    """Raw HTTP against the same live server (`/v3/...`), for cross-reads."""
    with httpx.Client(base_url=v1_server.base_url, timeout=60.0) as client:
        yield client


