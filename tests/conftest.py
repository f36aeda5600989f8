"""Shared fixtures: the same test bodies run on SQLite and on real PostgreSQL (pgserver or
HONCHO_TEST_DATABASE_URL). Set HONCHO_TEST_BACKENDS=sqlite to skip PostgreSQL locally."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

# Test modules import their helpers (support, pg_support, api_helpers, sdk_helpers) by name; with
# importlib import mode (test basenames repeat across folders) those folders must be on the path. bench/ holds
# honcho_bench: the benchmark commands and the loopback fake model servers the tests share.
for folder in (Path(__file__).parent, Path(__file__).parent / "api", Path(__file__).parent / "sdk",
               Path(__file__).parents[1] / "bench"):
    sys.path.insert(0, str(folder))

from honcho_server.services.deps import Deps  # noqa: E402
from honcho_server.store.migrate import upgrade  # noqa: E402
from honcho_server.worker.runtime import Worker  # noqa: E402
from support import BACKENDS, api_client, fresh_database_url, new_deps  # noqa: E402

# Starts mypy in the background when tests/test_typecheck.py is selected (it overlaps with the other tests);
# app_server: the live server the honcho-cli and examples/ tests share; live_servers: the live servers the SDK suites
# (tests/sdk, tests/v1sdk) share.
pytest_plugins = ["typecheck_support", "app_server", "live_servers"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core, at most 4 (each starts its own PostgreSQL and live servers)."""
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(backend))
    upgrade(url)
    return url


@pytest.fixture(scope="session")
async def deps(database_url: str) -> AsyncIterator[Deps]:
    deps = new_deps(database_url)
    yield deps
    await deps.db.dispose()


@pytest.fixture(scope="session")
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(deps) as c:
        yield c


@pytest.fixture(scope="session")
async def auth_client(deps: Deps, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app with JWT auth enabled, sharing the database (and engine) of `client`."""
    from api_helpers import JWT_SECRET

    from honcho_server.api.app import create_app
    from honcho_server.config import Settings

    settings = Settings(db={"url": database_url}, auth={"enabled": True, "jwt_secret": JWT_SECRET})
    app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def worker(deps: Deps) -> Worker:
    return Worker(deps)


@pytest.fixture
def ws() -> str:
    """A workspace id no other test uses."""
    return f"ws-{uuid.uuid4().hex[:12]}"
