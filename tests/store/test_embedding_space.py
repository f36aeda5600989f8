"""The embedding model in use is recorded; another model or size is refused with an error naming `reembed`,
and `reembed` switches the database over, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from honcho_server.cli.main import app
from honcho_server.errors import EmbeddingSpaceMismatch
from honcho_server.services import conclusions, embedding, messages, search
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.repos.embeddings import recorded_space
from honcho_server.store.tables import conclusions as conclusions_table
from honcho_server.worker.runtime import Worker
from support import fresh_database_url, make_settings

HASH_64 = {"provider": "hash", "dimensions": 64}
HASH_32 = {"provider": "hash", "dimensions": 32}


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> str:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    return url


@pytest.fixture
async def open_deps(fresh_url: str) -> AsyncIterator[Callable[[dict], Deps]]:
    made: list[Deps] = []

    def open_(embedding: dict) -> Deps:
        settings = make_settings(fresh_url, embedding=embedding)
        made.append(Deps(db=Database(settings.db.url, settings.db), settings=settings))
        return made[-1]

    yield open_
    for deps in made:
        await deps.aclose()


async def _seed(deps: Deps) -> None:
    new = [messages.NewMessage(content=f"note {i} about gardening tomatoes", peer_name="ann", metadata={})
           for i in range(30)]
    await messages.create(deps, "w", "s", new)
    await Worker(deps).drain()


async def test_processes_starting_together_record_the_model_once(open_deps: Callable[[dict], Deps]) -> None:
    # A server and a worker (two engines here) both find no model recorded; neither may fail on the other's row.
    first, second, third = open_deps(HASH_64), open_deps(HASH_64), open_deps(HASH_64)
    assert await asyncio.gather(*(embedding.prepare_vectors(d) for d in (first, second, third))) == [True] * 3
    async with first.db.read() as conn:
        assert await recorded_space(conn) == embedding.configured_space(first.embedder)


async def test_first_start_records_the_model(open_deps: Callable[[dict], Deps]) -> None:
    deps = open_deps(HASH_64)
    assert await embedding.prepare_vectors(deps)
    async with deps.db.read() as conn:
        space = await recorded_space(conn)
        assert space is not None and space.dimensions == 64 and space.model_id == deps.embedder.model_id
        assert await deps.db.dialect.vector_table_dimensions(conn) == 64
    # A second start with the same embedder is fine and keeps the vectors.
    await _seed(deps)
    again = open_deps(HASH_64)
    assert await embedding.prepare_vectors(again)
    async with again.db.read() as conn:
        assert await again.db.dialect.count_vectors(conn) == 30


async def test_another_dimension_is_refused_naming_reembed(open_deps: Callable[[dict], Deps]) -> None:
    await _seed(open_deps(HASH_64))
    other = open_deps(HASH_32)
    with pytest.raises(EmbeddingSpaceMismatch, match="honcho-server reembed") as err:
        await embedding.prepare_vectors(other)
    assert "64 dimensions" in str(err.value) and "32 dimensions" in str(err.value)
    # Search refuses too rather than mixing vectors.
    with pytest.raises(EmbeddingSpaceMismatch):
        await search.search(other, "w", "tomatoes", None, 5)


async def test_reembed_switches_model_and_search_keeps_working(open_deps: Callable[[dict], Deps]) -> None:
    first = open_deps(HASH_64)
    await _seed(first)
    await conclusions.create(first, "w", [conclusions.ConclusionInput(content="ann grows tomatoes",
                                                                      observer="ann", observed="ann")])
    switched = open_deps(HASH_32)
    seen: list[tuple[int, int]] = []
    assert await embedding.reembed_all(switched, lambda done, total: seen.append((done, total))) == 30
    assert seen[-1] == (30, 30)
    async with switched.db.read() as conn:
        assert (await recorded_space(conn)).dimensions == 32
        assert await switched.db.dialect.vector_table_dimensions(conn) == 32
        assert await switched.db.dialect.count_vectors(conn) == 30
    fresh = open_deps(HASH_32)
    assert await embedding.prepare_vectors(fresh)
    hits = await search.search(fresh, "w", "gardening tomatoes", None, 5)
    assert len(hits) == 5
    async with fresh.db.read() as conn:  # conclusions carry their vector on their row: replaced too
        (blob,) = (await conn.execute(select(conclusions_table.c.embedding))).scalars()
    assert len(blob) == 32 * 4
    with pytest.raises(EmbeddingSpaceMismatch):
        await embedding.prepare_vectors(open_deps(HASH_64))


async def test_embed_job_is_idempotent(open_deps: Callable[[dict], Deps]) -> None:
    deps = open_deps(HASH_64)
    await _seed(deps)
    from honcho_server.queue.jobs import ClaimedJob

    async with deps.db.read() as conn:
        before = await deps.db.dialect.count_vectors(conn)
    session_pk = (await search.search(deps, "w", "tomatoes", None, 1))[0].session_pk
    job = ClaimedJob(id=0, kind="embed", work_unit_key="x", payload={"first_seq": 1, "last_seq": 30}, attempts=1,
                     workspace_pk=None, session_pk=session_pk)
    await embedding.embed_new_messages(deps, job)
    await embedding.embed_new_messages(deps, job)
    async with deps.db.read() as conn:
        assert await deps.db.dialect.count_vectors(conn) == before == 30


def test_cli_refuses_to_start_and_reembed_fixes_it(fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("HONCHO_EMBEDDING__PROVIDER", "hash")
    monkeypatch.setenv("HONCHO_EMBEDDING__DIMENSIONS", "64")
    assert runner.invoke(app, ["worker", "--once", "--db", fresh_url]).exit_code == 0
    monkeypatch.setenv("HONCHO_EMBEDDING__DIMENSIONS", "32")
    refused = runner.invoke(app, ["worker", "--once", "--db", fresh_url])
    assert refused.exit_code == 2 and "honcho-server reembed" in refused.output
    done = runner.invoke(app, ["reembed", "--db", fresh_url])
    assert done.exit_code == 0, done.output
    assert "re-embedded 0 messages" in done.output
    assert runner.invoke(app, ["worker", "--once", "--db", fresh_url]).exit_code == 0
