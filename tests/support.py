"""Helpers shared by test modules (importable by name: tests/ is on sys.path)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from honcho_server.config import Settings

BACKENDS = [b for b in os.environ.get("HONCHO_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


def fresh_database_url(backend: str, tmp_dir: Path) -> str:
    """A new, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}"
    import pg_support

    return pg_support.create_database(pg_support.start_postgres(), f"t_{uuid.uuid4().hex[:16]}")


def make_settings(url: str, **overrides: object) -> Settings:
    return Settings(db={"url": url}, **overrides)


@contextlib.asynccontextmanager
async def api_client(deps: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app built on `deps` (no server, no worker)."""
    from honcho_server.api.app import create_app

    app = create_app(deps.settings, deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@contextlib.asynccontextmanager
async def fresh_deps(backend: str, tmp_dir: Path) -> AsyncIterator[Any]:
    """Deps on a new database of `backend` in `tmp_dir`, migrated, disposed of on exit."""
    from honcho_server.store.migrate import upgrade

    url = fresh_database_url(backend, tmp_dir)
    upgrade(url)
    deps = new_deps(url)
    try:
        yield deps
    finally:
        await deps.db.dispose()


def new_deps(url: str, **overrides: object) -> Any:
    """Deps on a migrated database (the caller disposes of `deps.db`)."""
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database

    settings = make_settings(url, **overrides)
    return Deps(db=Database(settings.db.url, settings.db), settings=settings)


T = TypeVar("T")


def eventually(check: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.1,
               what: str = "condition") -> T:
    """Call ``check`` until it returns a truthy value (returned) or raise AssertionError at timeout.

    Exceptions raised by ``check`` count as "not yet"; the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
        time.sleep(interval)
