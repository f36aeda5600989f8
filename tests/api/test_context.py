"""Session context and summaries (spec §7.12-7.13): messages that fit a token budget, the summary chosen for
it, and a peer's representation and card counted against it; queue status saying whether reasoning runs."""

from __future__ import annotations

import re

import httpx
import pytest
from api_helpers import (
    add_messages,
    assert_message,
    bearer,
    create_session,
    expect,
    ids,
    msg,
    session_url,
    sign,
    ws_url,
)
from memory_helpers import store_conclusion, store_summary

from honcho_server.domain.tokens import count_tokens
from honcho_server.services.deps import Deps


async def _seed(client: httpx.AsyncClient, ws: str) -> list[dict]:
    texts = ["one two three", "four five", "six seven eight nine", "ten", "eleven twelve"]
    return await add_messages(client, ws, "s1", [msg("a" if i % 2 else "b", t) for i, t in enumerate(texts)])


def _fitting(created: list[dict], budget: int) -> list[str]:
    """Newest messages whose running token total, counted newest first, stays within the budget."""
    chosen, used = [], 0
    for m in reversed(created):
        used += m["token_count"]
        if used > budget:
            break
        chosen.append(m["id"])
    return chosen[::-1]


async def test_context_returns_newest_messages_that_fit_oldest_first(
    client: httpx.AsyncClient, ws: str
) -> None:
    created = await _seed(client, ws)
    total = sum(m["token_count"] for m in created)
    for budget in (0, 1, 3, 5, total - 1, total, 100_000):
        body = expect(await client.get(session_url(ws, "s1", "context"), params={"tokens": budget}), 200)
        assert set(body) == {"id", "messages", "summary", "peer_representation", "peer_card"}
        assert ids(body["messages"]) == _fitting(created, budget), budget
        assert (body["id"], body["summary"], body["peer_representation"], body["peer_card"]) == (
            "s1",
            None,
            None,
            None,
        )
    everything = expect(await client.get(session_url(ws, "s1", "context")), 200)
    assert everything["messages"] == created
    for m in everything["messages"]:
        assert_message(m, ws, "s1")


async def test_context_token_cap(client: httpx.AsyncClient, ws: str) -> None:
    await _seed(client, ws)
    expect(await client.get(session_url(ws, "s1", "context"), params={"tokens": 100_001}), 422)
    expect(await client.get(session_url(ws, "s1", "context"), params={"tokens": "many"}), 422)


async def test_context_of_unknown_session_is_empty(client: httpx.AsyncClient, ws: str) -> None:
    body = expect(await client.get(session_url(ws, "nope", "context"), params={"tokens": 50}), 200)
    assert body == {
        "id": "nope",
        "messages": [],
        "summary": None,
        "peer_representation": None,
        "peer_card": None,
    }


async def test_summaries_are_null_until_written(client: httpx.AsyncClient, ws: str) -> None:
    await _seed(client, ws)
    for session in ("s1", "nope"):
        body = expect(await client.get(session_url(ws, session, "summaries")), 200)
        assert body == {"id": session, "short_summary": None, "long_summary": None}


# ---- summaries, representation and card (spec 7.12) ---------------------------------------------------

CONTEXT_KEYS = ["id", "messages", "summary", "peer_representation", "peer_card"]
SUMMARY_KEYS = ["content", "message_id", "summary_type", "created_at", "token_count"]


async def _conversation(client: httpx.AsyncClient, ws: str, session: str = "s1") -> list[dict]:
    texts = [f"message number {i} says something about topic {i}" for i in range(1, 11)]
    return await add_messages(client, ws, session, [msg("alice" if i % 2 else "bob", t) for i, t in enumerate(texts)])


async def _context(client: httpx.AsyncClient, ws: str, session: str = "s1", **params: object) -> dict:
    body = expect(await client.get(session_url(ws, session, "context"), params=params), 200)
    assert list(body) == CONTEXT_KEYS
    return body


async def test_context_chooses_a_summary_and_starts_at_its_last_message(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    created = await _conversation(client, ws)
    await store_summary(deps, ws, "s1", "long", last_seq=4, message_id=created[3]["id"], token_count=8)
    await store_summary(deps, ws, "s1", "short", last_seq=6, message_id=created[5]["id"], token_count=5)

    # Budget 100: 40 for the summary; the long one fits and says more than the short one.
    body = await _context(client, ws, tokens=100)
    assert list(body["summary"]) == SUMMARY_KEYS
    assert (body["summary"]["summary_type"], body["summary"]["message_id"], body["summary"]["token_count"]) == (
        "honcho_chat_summary_long", created[3]["id"], 8)
    assert body["summary"]["content"] == "long summary up to 4"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["summary"]["created_at"])
    # Messages from the one the summary covers up to (inclusive), newest that fit in 100 - 8.
    assert ids(body["messages"]) == _fitting(created[3:], 92)
    assert ids(body["messages"])[0] == created[3]["id"]

    # Budget 15: 6 for the summary; the long one (8) is too big, the short one (5) fits.
    body = await _context(client, ws, tokens=15)
    assert body["summary"]["summary_type"] == "honcho_chat_summary_short"
    assert ids(body["messages"]) == _fitting(created[5:], 10)

    # Budget 10: 4 for the summary; neither fits, so messages from the start fill all 10.
    body = await _context(client, ws, tokens=10)
    assert body["summary"] is None and ids(body["messages"]) == _fitting(created, 10)

    # summary=false: no summary, the whole budget for messages.
    body = await _context(client, ws, tokens=100, summary="false")
    assert body["summary"] is None and ids(body["messages"]) == _fitting(created, 100)

    # A long summary no longer than the short one is not preferred.
    await store_summary(deps, ws, "s1", "long", last_seq=8, message_id=created[7]["id"], token_count=5)
    body = await _context(client, ws, tokens=100)
    assert body["summary"]["summary_type"] == "honcho_chat_summary_short"
    assert ids(body["messages"]) == _fitting(created[5:], 95)


async def _memory(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s2", {"alice": {}, "bob": {}})
    await store_conclusion(deps, ws, "bob", "bob", "bob is a chef", session="s1")
    await store_conclusion(deps, ws, "bob", "bob", "bob lives in Lyon", session="s2")
    await store_conclusion(deps, ws, "bob", "bob", "bob probably cooks French food", level="deductive",
                           session="s1")
    await store_conclusion(deps, ws, "alice", "bob", "bob makes great pasta", session="s1")
    expect(await client.put(ws_url(ws, "peers", "bob", "card"), json={"peer_card": ["Name: Bob", "Chef"]}), 200)
    expect(await client.put(ws_url(ws, "peers", "alice", "card"), params={"target": "bob"},
                            json={"peer_card": ["Bob: my friend"]}), 200)


def _facts(markdown: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in markdown.splitlines() if line.startswith("[")]


async def test_context_with_a_peer_target(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    created = await _conversation(client, ws)
    await _memory(client, deps, ws)
    await store_summary(deps, ws, "s1", "short", last_seq=6, message_id=created[5]["id"], token_count=5)
    body = await _context(client, ws, tokens=200, peer_target="bob")
    # Bob's own view: all his conclusions, his own card.
    assert _facts(body["peer_representation"]) == ["bob is a chef", "bob lives in Lyon",
                                                   "bob probably cooks French food"]
    assert body["peer_card"] == ["Name: Bob", "Chef"]
    # Both are counted against the budget before the summary and messages are chosen.
    left = 200 - count_tokens(body["peer_representation"]) - count_tokens("Name: Bob\nChef")
    assert body["summary"]["summary_type"] == "honcho_chat_summary_short"
    assert ids(body["messages"]) == _fitting(created[5:], left - 5)

    # Alice's view of bob.
    seen = await _context(client, ws, peer_target="bob", peer_perspective="alice")
    assert _facts(seen["peer_representation"]) == ["bob makes great pasta"]
    assert seen["peer_card"] == ["Bob: my friend"]

    # Confined to this session: explicit conclusions stamped with it only, and no card.
    confined = await _context(client, ws, peer_target="bob", limit_to_session="true")
    assert _facts(confined["peer_representation"]) == ["bob is a chef"]
    assert confined["peer_card"] is None
    listed = await _context(client, ws, peer_target="bob", sessions=["s1", "s2"])
    assert _facts(listed["peer_representation"]) == ["bob is a chef", "bob lives in Lyon"]
    assert listed["peer_card"] is None

    # Curation parameters reach the representation.
    assert len(_facts((await _context(client, ws, peer_target="bob", max_conclusions=1))["peer_representation"])) == 1

    # A representation that eats the budget leaves no room for summary or messages.
    tiny = await _context(client, ws, tokens=3, peer_target="bob")
    assert tiny["peer_representation"] and tiny["messages"] == [] and tiny["summary"] is None

    # An unknown target seen by a known peer: empty representation, no card; messages as usual.
    unknown = await _context(client, ws, tokens=100, peer_target="zed", peer_perspective="alice", summary="false")
    assert (unknown["peer_representation"], unknown["peer_card"]) == ("", None)
    assert ids(unknown["messages"]) == _fitting(created, 100)

    # An unknown session still gets the representation.
    elsewhere = await _context(client, ws, "nope", peer_target="bob")
    assert elsewhere["messages"] == [] and elsewhere["summary"] is None
    assert elsewhere["peer_card"] == ["Name: Bob", "Chef"]


@pytest.mark.parametrize("params", [
    {"peer_perspective": "alice"},
    {"sessions": ["s1"]},
    {"scope": "team"},
    {"peer_target": "bob", "scope": "team", "sessions": ["s1"]},
    {"peer_target": "bob", "scope": "team", "peer_perspective": "alice"},
    {"peer_target": "scope.team"},
    {"peer_target": "bob", "peer_perspective": "scope.team"},
    {"peer_target": "bob", "sessions": ["s2"]},
    {"peer_target": "bob", "sessions": ["s1"], "limit_to_session": "true"},
    {"peer_target": "bob", "sessions": ["s1", "not valid"]},
    {"peer_target": "bob", "sessions": ["s1", *(f"x{i}" for i in range(1000))]},
    {"peer_target": "bob", "search_top_k": 0},
    {"peer_target": "bob", "search_max_distance": 1.5},
    {"peer_target": "bob", "max_conclusions": 101},
])
async def test_context_refusals(client: httpx.AsyncClient, ws: str, params: dict) -> None:
    await _conversation(client, ws)
    expect(await client.get(session_url(ws, "s1", "context"), params=params), 422)


async def test_context_needs_the_observer(client: httpx.AsyncClient, ws: str) -> None:
    await _conversation(client, ws)
    assert "zed" in expect(await client.get(session_url(ws, "s1", "context"), params={
        "peer_target": "bob", "peer_perspective": "zed"}), 404)["detail"]
    # Without a perspective the target is the observer (its own view).
    expect(await client.get(session_url(ws, "s1", "context"), params={"peer_target": "zed"}), 404)
    expect(await client.get(session_url(f"{ws}-none", "s1", "context"), params={"peer_target": "alice"}), 404)


async def test_context_as_a_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await _conversation(client, ws)
    await _memory(client, deps, ws)
    await create_session(client, ws, "s3", {"bob": {}})
    url = session_url(ws, "s1", "context")
    alice = bearer(sign(w=ws, p="alice"))
    # A peer sees through its own eyes only.
    seen = expect(await auth_client.get(url, params={"peer_target": "bob", "peer_perspective": "alice"},
                                        headers=alice), 200)
    assert _facts(seen["peer_representation"]) == ["bob makes great pasta"]
    expect(await auth_client.get(url, params={"peer_target": "bob"}, headers=alice), 401)
    expect(await auth_client.get(url, params={"peer_target": "alice", "peer_perspective": "bob"}, headers=alice),
           401)
    # ... and only sessions it is in.
    expect(await auth_client.get(url, params={"peer_target": "bob", "peer_perspective": "alice",
                                              "sessions": ["s1", "s2"]}, headers=alice), 200)
    expect(await auth_client.get(url, params={"peer_target": "bob", "peer_perspective": "alice",
                                              "sessions": ["s1", "s3"]}, headers=alice), 401)
    expect(await auth_client.get(url, params={"peer_target": "bob", "scope": "team"}, headers=alice), 401)
    # A workspace key may take any view.
    expect(await auth_client.get(url, params={"peer_target": "bob"}, headers=bearer(sign(w=ws))), 200)


async def test_queue_status_says_whether_reasoning_runs(client: httpx.AsyncClient, ws: str) -> None:
    await _conversation(client, ws)
    body = expect(await client.get(ws_url(ws, "queue", "status")), 200)
    assert body["reasoning"] == "off" and "HONCHO_LLM__PROVIDER" in body["reasoning_detail"]
    assert {"total_work_units", "completed_work_units", "in_progress_work_units", "pending_work_units",
            "sessions"} <= set(body)
    health = expect(await client.get("/health"), 200)
    assert (health["reasoning"], health["reasoning_detail"]) == (body["reasoning"], body["reasoning_detail"])
