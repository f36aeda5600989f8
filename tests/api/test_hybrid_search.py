"""Hybrid search once the worker has embedded messages (default local embedder), on both databases: found by
meaning without shared words, filters applied to the vector side too, fresh messages still found by words."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import add_messages, expect, msg, session_url, ws_url

from honcho_server.worker.runtime import Worker

DOCS = [
    ("alice", "s1", "My dog Biscuit loves running in the park", "2024-01-01T10:00:00Z"),
    ("bob", "s1", "I went hiking in the Dolomites last summer", "2024-01-02T10:00:00Z"),
    ("carol", "s2", "Sourdough baking takes patience and a warm kitchen", "2024-01-03T10:00:00Z"),
    ("alice", "s2", "Dogs are the best companions, especially golden retrievers", "2024-01-04T10:00:00Z"),
    ("bob", "s3", "The quarterly tax filing deadline is next Tuesday", "2024-01-05T10:00:00Z"),
]
SOURDOUGH, RETRIEVERS = DOCS[2][2], DOCS[3][2]


@pytest.fixture
async def embedded(client: httpx.AsyncClient, ws: str, worker: Worker) -> str:
    for peer, session, text, at in DOCS:
        await add_messages(client, ws, session, [msg(peer, text, created_at=at, metadata={"n": len(text)})])
    await worker.drain()
    return ws


async def _search(client: httpx.AsyncClient, url: str, query: str, **body: object) -> list[str]:
    return [m["content"] for m in expect(await client.post(url, json={"query": query, **body}), 200)]


async def test_found_by_meaning_without_shared_words(client: httpx.AsyncClient, embedded: str) -> None:
    url = ws_url(embedded, "search")
    assert (await _search(client, url, "bread", limit=1)) == [SOURDOUGH]
    assert (await _search(client, url, "oven", limit=1)) == [SOURDOUGH]
    assert (await _search(client, url, "puppy", limit=1)) == [RETRIEVERS]


async def test_words_and_meaning_agree_on_the_best_match(client: httpx.AsyncClient, embedded: str) -> None:
    hits = await _search(client, ws_url(embedded, "search"), "When is the tax deadline?")
    assert hits[0] == DOCS[4][2]


async def test_filters_restrict_the_vector_side(client: httpx.AsyncClient, embedded: str) -> None:
    url = ws_url(embedded, "search")
    assert set(await _search(client, url, "bread", filters={"session_id": "s1"})) <= {DOCS[0][2], DOCS[1][2]}
    assert set(await _search(client, url, "bread", filters={"peer_id": "bob"})) <= {DOCS[1][2], DOCS[4][2]}
    assert await _search(client, url, "bread", filters={"peer_id": "nobody"}) == []
    assert await _search(client, url, "bread", filters={"session_id": {"in": ["missing"]}}) == []
    late = await _search(client, url, "bread", filters={"created_at": {"gte": "2024-01-04T00:00:00Z"}})
    assert set(late) <= {DOCS[3][2], DOCS[4][2]} and late
    # A filter the vector index cannot apply itself is still applied to every result.
    only = await _search(client, url, "bread", filters={"metadata": {"n": len(RETRIEVERS)}})
    assert only == [RETRIEVERS]
    combined = await _search(client, url, "dog", filters={"AND": [{"peer_id": "alice"}, {"session_id": "s2"}]})
    assert combined == [RETRIEVERS]


async def test_session_and_peer_routes_pin_the_vector_side(client: httpx.AsyncClient, embedded: str) -> None:
    assert set(await _search(client, session_url(embedded, "s3", "search"), "bread")) == {DOCS[4][2]}
    peer_hits = await _search(client, ws_url(embedded, "peers", "carol", "search"), "puppy")
    assert peer_hits == [SOURDOUGH]


async def test_limit_and_no_duplicates(client: httpx.AsyncClient, embedded: str) -> None:
    url = ws_url(embedded, "search")
    every = await _search(client, url, "dog park hiking bread tax", limit=50)
    assert len(every) == len(set(every)) == len(DOCS)
    assert len(await _search(client, url, "dog", limit=2)) == 2


async def test_new_message_found_by_words_before_it_is_embedded(
    client: httpx.AsyncClient, embedded: str,
) -> None:
    await add_messages(client, embedded, "s3", [msg("dave", "Zanzibar spice markets smell of cloves")])
    hits = await _search(client, ws_url(embedded, "search"), "zanzibar cloves")
    assert hits[0] == "Zanzibar spice markets smell of cloves"


async def test_deleted_session_never_returned(client: httpx.AsyncClient, embedded: str, worker: Worker) -> None:
    expect(await client.delete(session_url(embedded, "s2")), 202)
    url = ws_url(embedded, "search")
    assert SOURDOUGH not in await _search(client, url, "bread", limit=50)
    await worker.drain()  # purged: its vectors are gone too
    assert SOURDOUGH not in await _search(client, url, "bread", limit=50)


async def test_a_query_without_content_words_falls_back_to_its_text_then_to_meaning(
    client: httpx.AsyncClient, ws: str, worker: Worker,
) -> None:
    """A query of stop words only ("the") has nothing for the index: the messages holding it literally until
    messages are embedded, then the nearest messages by meaning too (the reference answers both ways)."""
    await add_messages(client, ws, "s1", [msg("alice", "What is it that you want?")])
    await add_messages(client, ws, "s2", [msg("carol", SOURDOUGH), msg("alice", RETRIEVERS)])
    url = ws_url(ws, "search")
    assert await _search(client, url, "what is it") == ["What is it that you want?"]
    carol = ws_url(ws, "peers", "carol", "search")
    assert await _search(client, carol, "the") == []  # her message does not contain "the"
    assert (await _search(client, session_url(ws, "s2", "search"), "the"))[0] == RETRIEVERS
    await worker.drain()
    assert await _search(client, carol, "the") == [SOURDOUGH]
    assert set(await _search(client, session_url(ws, "s2", "search"), "the")) == {SOURDOUGH, RETRIEVERS}
    assert len(await _search(client, url, "the", limit=2)) == 2
    assert set(await _search(client, url, "what is it?", limit=10)) == {"What is it that you want?", SOURDOUGH,
                                                                        RETRIEVERS}
    assert await _search(client, url, "the", filters={"peer_id": "nobody"}) == []
    assert await _search(client, url, "") == []
    # Filters are still checked.
    bad = await client.post(url, json={"query": "what is it?", "filters": {"created_at": {"gte": "not a date"}}})
    assert bad.status_code == 422
