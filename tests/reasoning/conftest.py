"""Reasoning tests run workers that claim every due job of their database: each module gets a database of its
own, so jobs other tests left behind (summaries, representation batches coming due) cannot take their scripted
model answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from honcho_server.services.deps import Deps
from honcho_server.store.migrate import upgrade
from support import api_client, fresh_database_url, new_deps


@pytest.fixture(scope="module")
async def deps(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deps]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(f"reasoning-{backend}"))
    upgrade(url)
    deps = new_deps(url)
    yield deps
    await deps.db.dispose()


@pytest.fixture(scope="module")
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(deps) as c:
        yield c
