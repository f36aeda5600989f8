"""Full-text candidates on PostgreSQL stay bounded when words are common (store/dialect/pg_text.py
`text_search`): in a scope larger than SCAN_SCOPE_MAX, a word the statistics put in more than TEXT_RARE_MAX rows
only matches together with every other query word, and the all-words match is skipped when estimated above
TEXT_ALL_MAX rows; a smaller scope is scanned and matched on any word.

The thresholds are lowered here so that a 103-row table has common words; the rule is the same at 1M rows
(bench/search_1m.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from honcho_server.domain.ids import new_id
from honcho_server.store.dialect import pg_text as pg
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.repos import search as repo
from support import BACKENDS, fresh_database_url, make_settings

pytestmark = pytest.mark.skipif("postgres" not in BACKENDS, reason="PostgreSQL only")

T0 = datetime(2024, 5, 1, tzinfo=UTC)
CONTENTS = [f"zebra number {i} grazing" for i in range(100)] + [
    "a zebra and a quokka met",  # every word
    "the quokka smiled",  # the rare word only
    "walrus on the beach",  # neither
]


@pytest.fixture(scope="module")
async def db(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    url = fresh_database_url("postgres", Path(tmp_path_factory.mktemp("text_bounds")))
    upgrade(url)
    database = Database(url, make_settings(url).db)
    async with database.write() as conn:
        ws = (await conn.execute(text(
            "INSERT INTO workspaces (uid, name, metadata, configuration, created_at) "
            "VALUES (:u, 'w', '{}', '{}', :t) RETURNING id"), {"u": new_id(), "t": T0})).scalar_one()
        peer = (await conn.execute(text(
            "INSERT INTO peers (uid, workspace_id, name, metadata, configuration, created_at) "
            "VALUES (:u, :w, 'p', '{}', '{}', :t) RETURNING id"), {"u": new_id(), "w": ws, "t": T0})).scalar_one()
        # The special messages get a session each: a message is indexed with the turn before it (migration 0005).
        groups = [CONTENTS[:100]] + [[c] for c in CONTENTS[100:]]
        for n, group in enumerate(groups):
            session = (await conn.execute(text(
                "INSERT INTO sessions (uid, workspace_id, name, metadata, configuration, last_seq, message_count, "
                "created_at) VALUES (:u, :w, :name, '{}', '{}', :n, :n, :t) RETURNING id"),
                {"u": new_id(), "w": ws, "name": f"s{n}", "n": len(group), "t": T0})).scalar_one()
            for seq, content in enumerate(group, start=1):
                await conn.execute(text(
                    "INSERT INTO messages (uid, workspace_id, session_id, peer_id, seq, content, metadata, "
                    "token_count, created_at) VALUES (:u, :w, :s, :p, :q, :c, '{}', 1, :t)"),
                    {"u": new_id(), "w": ws, "s": session, "p": peer, "q": seq, "c": content,
                     "t": T0 + timedelta(seconds=seq)})
    async with database.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE messages"))
    yield database, ws
    await database.dispose()


async def _candidates(db, words: list[str], scope_rows: int | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    database, ws = db
    async with database.read() as conn:
        where = repo.scope(database.dialect, ws, "w", None, [])
        found = await repo.text_candidates(conn, database.dialect, "w", where, words, 100, scope_rows)
    return [m.content for m, _ in found]


async def test_small_tables_match_any_word(db) -> None:  # type: ignore[no-untyped-def]
    assert len(await _candidates(db, ["zebra"])) == 100
    assert set(await _candidates(db, ["quokka", "walrus"])) == {CONTENTS[101], CONTENTS[102], CONTENTS[100]}


async def test_common_words_match_only_with_every_word(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pg, "TEXT_RARE_MAX", 10)
    monkeypatch.setattr(pg, "TEXT_ALL_MAX", 10)
    monkeypatch.setattr(pg, "SCAN_SCOPE_MAX", 50)  # the workspace's 103 rows count as a large scope
    # "zebra" is in ~101 rows: common. All words first, then the rare word's other message.
    assert await _candidates(db, ["zebra", "quokka"]) == [CONTENTS[100], CONTENTS[101]]
    # A common word alone would match ~101 rows: over TEXT_ALL_MAX, so no candidates (vectors still answer).
    assert await _candidates(db, ["zebra"]) == []
    assert await _candidates(db, ["walrus"]) == [CONTENTS[102]]


async def test_a_small_workspace_finds_a_word_common_in_the_database(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A word common across the database (here: by the lowered thresholds) is still found in a workspace small
    enough to scan: seen in the suite as a 3-message workspace's "dogs" missing from its search once other tests
    had filled the database with dogs."""
    monkeypatch.setattr(pg, "TEXT_RARE_MAX", 10)
    monkeypatch.setattr(pg, "TEXT_ALL_MAX", 10)
    assert len(await _candidates(db, ["zebra"])) == 100
    assert (await _candidates(db, ["zebra", "quokka"]))[:2] == [CONTENTS[100], CONTENTS[101]]
    assert set(await _candidates(db, ["quokka", "walrus"])) == {CONTENTS[101], CONTENTS[102], CONTENTS[100]}


async def test_pool_caps_the_rows_ranked(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pg, "TEXT_POOL", 5)
    assert len(await _candidates(db, ["zebra"])) == 5
    # The all-words rows go into the pool before the any-word ones.
    assert (await _candidates(db, ["zebra", "quokka"]))[0] == CONTENTS[100]


@pytest.mark.parametrize("words", [["zebra"], ["zebra", "quokka"], ["quokka", "walrus"], ["grazing", "number"],
                                   ["absent"]])
async def test_a_small_scope_scanned_ranks_like_the_index(db, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    # A scope known to be small (a session's message counter) is scanned row by row instead of using the GIN
    # index: the same rows in the same order.
    assert await _candidates(db, words, scope_rows=103) == await _candidates(db, words)
