"""Fixtures of the v1 data suite: an auth-enabled app over the same database as `client`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the modules import `v1_data_helpers` by name

from api_helpers import JWT_SECRET

from honcho_server.api.app import create_app
from honcho_server.config import Settings
from honcho_server.services.deps import Deps


@pytest.fixture(scope="session")
async def v1_auth_client(deps: Deps, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db={"url": database_url}, auth={"enabled": True, "jwt_secret": JWT_SECRET})
    app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c
