"""Reasoning tests run workers that claim every due job of their database: each module gets a database of its
own, so jobs other tests left behind (summaries, representation batches coming due) cannot take their scripted
model answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from honcho_server.api.app import create_app
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from support import fresh_database_url, make_settings


@pytest.fixture(scope="module")
async def deps(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deps]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(f"reasoning-{backend}"))
    upgrade(url)
    settings = make_settings(url)
    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    yield deps
    await deps.db.dispose()


@pytest.fixture(scope="module")
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(deps.settings, deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c
