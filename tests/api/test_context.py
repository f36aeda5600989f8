"""Session context and summaries (spec §7.12-7.13), storage half: messages that fit a token budget."""

from __future__ import annotations

import httpx
from api_helpers import add_messages, assert_message, expect, ids, msg, session_url


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
