"""Message search (spec 5.5, 6.10, 7.14): found by its words as soon as the create call returns, scoped by
route, filtered by the DSL, on both databases."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import add_messages, expect, msg, session_url, ws_url

DOCS = [
    ("alice", "s1", "My dog Biscuit loves running in the park"),
    ("bob", "s1", "I went hiking in the Dolomites last summer"),
    ("alice", "s2", "Dogs are the best companions, especially golden retrievers"),
    ("carol", "s2", "Sourdough baking takes patience and a warm kitchen"),
]


@pytest.fixture
async def corpus(client: httpx.AsyncClient, ws: str) -> str:
    for peer, session, text in DOCS:
        await add_messages(client, ws, session, [msg(peer, text, metadata={"peer": peer})])
    return ws


async def _search(client: httpx.AsyncClient, url: str, query: str, **body: object) -> list[str]:
    found = expect(await client.post(url, json={"query": query, **body}), 200)
    return [m["content"] for m in found]


async def test_found_by_stemmed_words_right_after_create(client: httpx.AsyncClient, corpus: str) -> None:
    # Word matches rank first; their neighbours in the conversation may follow as context.
    hits = await _search(client, ws_url(corpus, "search"), "What did I say about my dogs?")
    assert set(hits[:2]) == {DOCS[0][2], DOCS[2][2]}
    assert (await _search(client, ws_url(corpus, "search"), "hiking"))[0] == DOCS[1][2]


async def test_results_are_complete_messages(client: httpx.AsyncClient, corpus: str) -> None:
    found = expect(await client.post(ws_url(corpus, "search"), json={"query": "sourdough", "limit": 1}), 200)
    assert len(found) == 1
    assert found[0]["peer_id"] == "carol" and found[0]["session_id"] == "s2" and found[0]["workspace_id"] == corpus
    assert set(found[0]) == {"id", "content", "peer_id", "session_id", "metadata", "created_at", "workspace_id",
                             "token_count"}


async def test_session_and_peer_routes_pin_their_scope(client: httpx.AsyncClient, corpus: str) -> None:
    assert set(await _search(client, session_url(corpus, "s1", "search"), "dog")) <= {DOCS[0][2], DOCS[1][2]}
    peer_url = ws_url(corpus, "peers", "bob", "search")
    assert await _search(client, peer_url, "summer dog") == [DOCS[1][2]]
    # A caller's filter cannot widen the pinned scope.
    hits = await _search(client, session_url(corpus, "s1", "search"), "dog", filters={"session_id": "s2"})
    assert hits[0] == DOCS[0][2] and set(hits) <= {DOCS[0][2], DOCS[1][2]}


async def test_filters_apply(client: httpx.AsyncClient, corpus: str) -> None:
    url = ws_url(corpus, "search")
    assert await _search(client, url, "sourdough", filters={"peer_id": "bob"}) == []
    assert (await _search(client, url, "dog", filters={"session_id": "s2"}))[0] == DOCS[2][2]
    assert await _search(client, url, "dog", filters={"metadata": {"peer": "alice"}}, limit=1) != []
    expect(await client.post(url, json={"query": "dog", "filters": {"bogus": 1}}), 422)


async def test_limit_stop_words_and_empty_queries(client: httpx.AsyncClient, corpus: str) -> None:
    url = ws_url(corpus, "search")
    assert len(await _search(client, url, "dog dogs park hiking", limit=1)) == 1
    assert await _search(client, url, "the of and") == []  # no message holds that text
    assert await _search(client, url, "") == []
    assert await _search(client, url, "   ") == []
    expect(await client.post(url, json={"query": "dog", "limit": 101}), 422)
    expect(await client.post(url, json={"query": "dog", "limit": 0}), 422)


async def test_deleted_sessions_and_other_workspaces_are_invisible(
    client: httpx.AsyncClient, corpus: str, ws: str
) -> None:
    expect(await client.delete(session_url(corpus, "s2")), 202)
    hits = await _search(client, ws_url(corpus, "search"), "dogs")
    assert hits[0] == DOCS[0][2] and DOCS[2][2] not in hits
    other = f"{ws}-other"
    await add_messages(client, other, "s1", [msg("zed", "dogs everywhere")])
    assert await _search(client, ws_url(corpus, "search"), "everywhere") == []


async def test_scope_rules(client: httpx.AsyncClient, corpus: str) -> None:
    url = ws_url(corpus, "search")
    expect(await client.post(url, json={"query": "dog", "scope": "nope"}), 404)
    expect(await client.post(url, json={"query": "dog", "scope": "nope", "filters": {"session_id": "s1"}}), 422)


async def test_peer_perspective_sees_only_what_the_peer_was_there_for(
    client: httpx.AsyncClient, corpus: str
) -> None:
    """Only messages of sessions the peer belongs to, written while it was a member (spec 4.5)."""
    url = ws_url(corpus, "search")
    await add_messages(client, corpus, "s1", [msg("alice", "Biscuit the dog got a new collar")])
    # bob joined s1 with his own message: alice's earlier dog message predates him; s2 he never joined.
    bob_sees = await _search(client, url, "dogs", filters={"peer_perspective": "bob"})
    assert bob_sees[0] == "Biscuit the dog got a new collar"
    assert DOCS[0][2] not in bob_sees and DOCS[2][2] not in bob_sees
    assert {DOCS[0][2], DOCS[2][2], "Biscuit the dog got a new collar"} <= set(
        await _search(client, url, "dogs", filters={"peer_perspective": "alice"}))


async def test_punctuation_and_syntax_characters_are_just_text(client: httpx.AsyncClient, corpus: str) -> None:
    url = ws_url(corpus, "search")
    for nasty in ['"dog', "dog*", "NEAR(dog park)", "dog AND -park", "(((", "dog's", "' OR 1=1 --", "col:dog"]:
        expect(await client.post(url, json={"query": nasty}), 200)


async def test_index_holds_the_sender_and_the_turn_being_answered(client: httpx.AsyncClient, ws: str) -> None:
    await add_messages(client, ws, "chat", [msg("alice", "What did you think of the Hamilton show yesterday?"),
                                            msg("bob", "I absolutely loved it, the cast was great"),
                                            msg("carol", "Unrelated: the printer is jammed again")])
    url = ws_url(ws, "search")
    # The reply shares no word with the query; it is found through the question it answers.
    hits = await _search(client, url, "Hamilton", limit=2)
    assert hits == ["What did you think of the Hamilton show yesterday?", "I absolutely loved it, the cast was great"]
    assert (await _search(client, url, "carol printer", limit=1)) == ["Unrelated: the printer is jammed again"]
    assert (await _search(client, url, "bob", limit=1)) == ["I absolutely loved it, the cast was great"]


async def test_a_query_of_stop_words_matches_its_text_literally(client: httpx.AsyncClient, corpus: str) -> None:
    """Nothing to look up in the index ("the"): before any message is embedded, the messages holding the query
    as a substring, case-insensitively (the reference does the same), on every search route."""
    url = ws_url(corpus, "search")
    with_the = {DOCS[0][2], DOCS[1][2], DOCS[2][2]}  # "in the park", "the Dolomites", "are the best"
    # The matches first; a neighbour in the conversation may follow as context, as for any query.
    assert set((await _search(client, url, "the"))[:3]) == with_the
    assert set((await _search(client, url, "THE "))[:3]) == with_the
    assert len(await _search(client, url, "the", limit=2)) == 2
    assert await _search(client, url, "the", filters={"peer_id": "carol"}) == []
    assert (await _search(client, session_url(corpus, "s2", "search"), "the"))[0] == DOCS[2][2]
    assert await _search(client, ws_url(corpus, "peers", "bob", "search"), "The") == [DOCS[1][2]]
    assert (await _search(client, url, "are the"))[0] == DOCS[2][2]
    # LIKE's wildcards are just characters.
    assert await _search(client, url, "%") == []
    assert await _search(client, url, "_") == []
