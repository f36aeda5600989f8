"""Fixtures of the v1 suite: the in-process clients of tests/api (auth off, and auth on over the same database)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # v1_route_helpers, whatever pytest's import mode

from api_helpers import JWT_SECRET

from honcho_server.api.app import create_app
from honcho_server.config import Settings
from honcho_server.services.deps import Deps


@pytest.fixture(scope="session")
async def auth_client(deps: Deps, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app with JWT auth enabled, sharing the database (and engine) of `client`."""
    settings = Settings(db={"url": database_url}, auth={"enabled": True, "jwt_secret": JWT_SECRET})
    app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def app_name() -> str:
    """An app name no other test uses."""
    return f"app-{uuid.uuid4().hex[:12]}"
