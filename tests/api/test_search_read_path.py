"""The read path's shortcuts change no answer, on both databases: a session scanned whole in one nearest-neighbour
query ranks exactly as the two-step path (top candidates, then the text-only candidates' cosines); repeated query
vectors come from memory, a failed embedding is not remembered; the full-text half runs while the query is still
being embedded."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import add_messages, msg

from honcho_server.embeddings.base import EmbeddingError, Purpose
from honcho_server.embeddings.query_cache import QueryCache
from honcho_server.search import messages as search_module
from honcho_server.search.messages import DEFAULT_FUSION, Fusion, MessageQuery, search_messages
from honcho_server.services import search as search_service
from honcho_server.services.deps import Deps
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.worker.runtime import Worker

WORDS = [
    "dog", "park", "garden", "rain", "coffee", "train", "ticket", "budget", "trip", "pottery", "Lisbon",
    "sourdough", "bread", "oven", "violin", "concert", "marathon", "knee", "doctor", "sister", "wedding", "dress",
    "tax", "deadline", "project", "manager", "laptop", "keyboard", "cat", "vet",
]
QUERIES = ["dog park", "tax deadline", "sourdough oven", "a trip to Lisbon", "violin concert tickets", "my knee",
           "wedding", "the cat", "keyboard laptop project", "rain"]


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))


@pytest.fixture
async def long_session(client: httpx.AsyncClient, ws: str, worker: Worker) -> str:
    """150 embedded messages in one session (more than a search's 100 candidates, fewer than `cover_rows`) and 4
    more that match by words but are not embedded yet."""
    rng = random.Random(15)
    await add_messages(client, ws, "long", [msg(rng.choice(["ann", "ben"]), _sentence(rng)) for _ in range(150)])
    await worker.drain()
    await add_messages(client, ws, "long", [msg("ann", f"{q} again, and again") for q in QUERIES[:4]])
    return ws


class Counting:
    """Wraps an embedder: counts the calls per purpose; `fail` makes query embeddings fail."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls, self.fail = inner, {"document": 0, "query": 0}, False
        self.model_id, self.dimensions = inner.model_id, inner.dimensions

    async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
        self.calls[purpose] += 1
        if self.fail and purpose == "query":
            raise EmbeddingError("the provider is down")
        return await self.inner.embed(texts, purpose)

    async def aclose(self) -> None:
        pass


def _own_deps(deps: Deps, embedder: Any) -> Deps:
    """The suite's database and settings with another embedder and an empty query cache."""
    return Deps(db=deps.db, settings=deps.settings, embedder_instance=embedder, vectors_ready=True)


async def _ranked(deps: Deps, ws: str, text: str, fusion: Fusion) -> list[str]:
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
    assert found is not None
    query = MessageQuery(text=text, workspace_pk=found.pk, workspace_name=ws, filters={"session_id": "long"},
                         limit=20)
    vector = (await deps.embedder.embed([text], "query"))[0]
    return [m.uid for m in await search_messages(deps.db, query, vector, fusion)]


async def test_a_session_scanned_whole_ranks_as_the_two_step_path(
    deps: Deps, long_session: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dialect = type(deps.db.dialect)
    lookups: list[int] = []
    original = dialect.similarities

    async def counted(self: Any, conn: Any, workspace_id: int, query: Any, ids: Any) -> dict[int, float]:
        lookups.append(len(ids))
        return await original(self, conn, workspace_id, query, ids)

    monkeypatch.setattr(dialect, "similarities", counted)
    assert DEFAULT_FUSION.candidates < 154 < DEFAULT_FUSION.cover_rows
    two_step = dataclasses.replace(DEFAULT_FUSION, cover_rows=0)
    for text in QUERIES:
        lookups.clear()
        whole = await _ranked(deps, long_session, text, DEFAULT_FUSION)
        assert lookups == [], "the whole-session scan needs no second lookup"
        stepped = await _ranked(deps, long_session, text, two_step)
        assert whole == stepped, text
        assert len(whole) == 20
    # The comparison meant something: the two-step path had text-only candidates to look up.
    lookups.clear()
    for text in QUERIES:
        await _ranked(deps, long_session, text, two_step)
    assert sum(lookups) > 0


async def test_repeated_queries_are_embedded_once_and_failures_not_remembered(
    deps: Deps, long_session: str,
) -> None:
    embedder = Counting(deps.embedder)
    own = _own_deps(deps, embedder)
    first = await search_service.search(own, long_session, "the dog park", None, 10, session="long")
    again = await search_service.search(own, long_session, "the dog park", None, 10, session="long")
    assert [m.uid for m in first] == [m.uid for m in again] and first
    assert embedder.calls["query"] == 1
    await search_service.search(own, long_session, "tax deadline", None, 10)
    assert embedder.calls["query"] == 2

    embedder.fail = True
    by_words = await search_service.search(own, long_session, "violin concert", None, 10, session="long")
    assert by_words, "a failing embedder leaves search by words"
    await search_service.search(own, long_session, "violin concert", None, 10, session="long")
    assert embedder.calls["query"] == 4, "a failed embedding is asked again"
    embedder.fail = False
    await search_service.search(own, long_session, "violin concert", None, 10, session="long")
    await search_service.search(own, long_session, "violin concert", None, 10, session="long")
    assert embedder.calls["query"] == 5


async def test_the_full_text_half_runs_while_the_query_is_embedded(
    deps: Deps, long_session: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    text_started = asyncio.Event()
    original = search_module.repo.text_candidates

    async def noted(*args: Any, **kwargs: Any) -> Any:
        text_started.set()
        return await original(*args, **kwargs)

    monkeypatch.setattr(search_module.repo, "text_candidates", noted)

    class Slow(Counting):
        """A remote embedder's round trip: the query's vector comes only after the full-text query has started
        (or never, and the search fails, if the text half waited for it)."""

        async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
            if purpose == "query":
                await asyncio.wait_for(text_started.wait(), timeout=60)
            return await super().embed(texts, purpose)

    own = _own_deps(deps, Slow(deps.embedder))
    found = await search_service.search(own, long_session, "sourdough oven", None, 10, session="long")
    assert found and text_started.is_set()
    assert own.embedder.calls["query"] == 1  # type: ignore[attr-defined]


def test_the_query_cache_is_bounded_and_keyed_by_model() -> None:
    cache = QueryCache(entries=2)
    a, b, c = (np.full(3, v, dtype=np.float32) for v in (1, 2, 3))
    cache.put("m1", "a", a)
    cache.put("m1", "b", b)
    assert cache.get("m2", "a") is None
    assert cache.get("m1", "a") is a  # now the most recent
    cache.put("m1", "c", c)
    assert cache.get("m1", "b") is None and cache.get("m1", "a") is a and len(cache) == 2
    with pytest.raises(ValueError):
        a[0] = 5  # shared by every caller: read-only
    QueryCache(entries=0).put("m1", "a", b)  # a cache of no entries keeps nothing
    assert len(QueryCache(entries=0)) == 0
