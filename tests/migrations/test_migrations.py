"""Migrations run on both databases, can be undone and redone, and match the tables in code."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from honcho_server.store.engine import Database
from honcho_server.store.migrate import downgrade, schema_drift, upgrade
from support import fresh_database_url, make_settings


@pytest.fixture
def blank_url(backend: str, tmp_path) -> str:
    return fresh_database_url(backend, tmp_path)


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_creates_schema_without_drift(blank_url: str) -> None:
    upgrade(blank_url)
    db = Database(blank_url, make_settings(blank_url).db)
    try:
        assert {"workspaces", "peers", "sessions", "session_peers", "messages", "jobs"} <= await _tables(db)
        assert await schema_drift(db.engine) == []
    finally:
        await db.dispose()


async def test_downgrade_then_upgrade_again(blank_url: str) -> None:
    upgrade(blank_url)
    downgrade(blank_url, "base")
    db = Database(blank_url, make_settings(blank_url).db)
    try:
        assert await _tables(db) <= {"alembic_version"}
        upgrade(blank_url)
        assert await schema_drift(db.engine) == []
    finally:
        await db.dispose()
