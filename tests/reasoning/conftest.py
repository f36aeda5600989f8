"""Reasoning tests run workers that claim every due job of their database: each module gets a database of its
own, so jobs other tests left behind (summaries, representation batches coming due) cannot take their scripted
model answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from honcho_server.services.deps import Deps
from support import api_client, fresh_deps


@pytest.fixture(scope="module")
async def deps(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deps]:
    async with fresh_deps(backend, tmp_path_factory.mktemp(f"reasoning-{backend}")) as deps:
        yield deps


@pytest.fixture(scope="module")
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(deps) as c:
        yield c
