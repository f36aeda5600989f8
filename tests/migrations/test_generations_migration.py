"""Migration 0015 puts the memory a database already holds into generation 1 of each workspace, active, and a
workspace created afterwards starts with its own generation 1; going back keeps the active generation's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from honcho_server.store.engine import Database
from honcho_server.store.migrate import downgrade, upgrade
from support import fresh_database_url, make_settings

NOW = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)

# A workspace with two peers, a session, a summary, a conclusion and a card, written as the 0014 schema stores them.
SEED = [
    "INSERT INTO workspaces (id, uid, name, metadata, configuration, created_at) "
    "VALUES (7, 'w7aaaaaaaaaaaaaaaaaaa', 'old', '{}', '{}', :now)",
    "INSERT INTO peers (id, uid, workspace_id, name, metadata, configuration, created_at) "
    "VALUES (70, 'p70aaaaaaaaaaaaaaaaaa', 7, 'alice', '{}', '{}', :now)",
    "INSERT INTO peers (id, uid, workspace_id, name, metadata, configuration, created_at) "
    "VALUES (71, 'p71aaaaaaaaaaaaaaaaaa', 7, 'bob', '{}', '{}', :now)",
    "INSERT INTO sessions (id, uid, workspace_id, name, metadata, configuration, created_at) "
    "VALUES (700, 's700aaaaaaaaaaaaaaaaa', 7, 'trip', '{}', '{}', :now)",
    "INSERT INTO summaries (workspace_id, session_id, kind, content, last_seq, message_uid, token_count, created_at) "
    "VALUES (7, 700, 'short', 'they talked', 3, 'm3aaaaaaaaaaaaaaaaaaa', 2, :now)",
    "INSERT INTO conclusions (uid, workspace_id, observer_id, observed_id, session_id, level, content, fingerprint, "
    "observed_at, metadata, created_at) VALUES ('c1aaaaaaaaaaaaaaaaaaa', 7, 71, 70, 700, 'explicit', "
    "'alice lives in Lisbon', 'f', :now, '{}', :now)",
    "INSERT INTO peer_cards (workspace_id, observer_id, observed_id, entries, updated_at) "
    "VALUES (7, 71, 70, '[\"lives in Lisbon\"]', :now)",
]


@pytest.fixture
def url(backend: str, tmp_path: Path) -> str:
    return fresh_database_url(backend, tmp_path)


async def _rows(url: str, sql: str) -> list[Any]:
    db = Database(url, make_settings(url).db)
    try:
        async with db.engine.connect() as conn:
            return list(await conn.execute(text(sql)))
    finally:
        await db.dispose()


async def _seed(url: str) -> None:
    # As each database stores a time: SQLAlchemy's SQLite text form, or a timestamptz.
    now: Any = NOW.strftime("%Y-%m-%d %H:%M:%S.%f") if url.startswith("sqlite") else NOW
    db = Database(url, make_settings(url).db)
    try:
        async with db.engine.begin() as conn:
            for sql in SEED:
                await conn.execute(text(sql), {"now": now})
    finally:
        await db.dispose()


async def test_existing_memory_becomes_generation_1_and_back(url: str) -> None:
    upgrade(url, "0014")
    await _seed(url)
    upgrade(url)
    [(gen_id, number, state, recipe)] = await _rows(
        url, "SELECT id, number, state, recipe FROM generations WHERE workspace_id = 7")
    assert (number, state) == (1, "active")
    assert "inferred" in str(recipe)
    for table in ("summaries", "conclusions", "peer_cards"):
        assert [r[0] for r in await _rows(url, f"SELECT generation_id FROM {table}")] == [gen_id], table

    downgrade(url, "0014")
    assert len(await _rows(url, "SELECT * FROM conclusions")) == 1
    assert len(await _rows(url, "SELECT * FROM peer_cards")) == 1
    assert len(await _rows(url, "SELECT * FROM summaries")) == 1


async def test_a_new_workspace_starts_with_its_own_active_generation(url: str) -> None:
    from honcho_server.services import workspaces
    from honcho_server.services.deps import Deps

    upgrade(url)
    settings = make_settings(url)
    deps = Deps(db=Database(url, settings.db), settings=settings)
    try:
        for name in ("a", "b"):
            await workspaces.get_or_create(deps, name, None, None)
        await workspaces.get_or_create(deps, "a", None, None)  # exists: no second generation
    finally:
        await deps.db.dispose()
    found = await _rows(url, "SELECT w.name, g.number, g.state FROM generations g JOIN workspaces w "
                             "ON w.id = g.workspace_id ORDER BY w.name")
    assert [tuple(r) for r in found] == [("a", 1, "active"), ("b", 1, "active")]


async def test_derived_writes_land_in_their_workspaces_active_generation(client: Any, deps: Any, ws: str) -> None:
    """Conclusions (several in one statement), a card and a summary written in two workspaces each carry the
    active generation of their own workspace."""
    from api_helpers import create_peer, expect, ws_url
    from memory_helpers import store_summary

    for name in (ws, f"{ws}-2"):
        for peer in ("alice", "bob"):
            await create_peer(client, name, peer)
        items = [{"content": f"fact {i}", "observer_id": "alice", "observed_id": "bob"} for i in range(3)]
        expect(await client.post(ws_url(name, "conclusions"), json={"conclusions": items}), 201)
        expect(await client.put(ws_url(name, "peers", "alice", "card"), json={"peer_card": ["Name: Alice"]}), 200)
        expect(await client.post(ws_url(name, "sessions"), json={"id": "s1"}), 201)
        await store_summary(deps, name, "s1", "short", last_seq=1, message_id="m1", token_count=2)
    async with deps.db.read() as conn:
        for table in ("conclusions", "peer_cards", "summaries"):
            rows = list(await conn.execute(text(
                f"SELECT w.name, g.number, g.state FROM {table} r JOIN generations g ON g.id = r.generation_id "
                f"JOIN workspaces w ON w.id = r.workspace_id AND w.id = g.workspace_id "
                f"WHERE w.name IN (:a, :b)"), {"a": ws, "b": f"{ws}-2"}))
            per_workspace = 3 if table == "conclusions" else 1
            assert sorted(tuple(r) for r in rows) == sorted(
                [(ws, 1, "active")] * per_workspace + [(f"{ws}-2", 1, "active")] * per_workspace), table
