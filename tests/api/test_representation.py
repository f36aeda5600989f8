"""Working representations (spec §6.6, §15.2-15.3) and peer context (§6.9) on both databases: composition
(semantic, most reinforced and recent shares, deduplicated and backfilled), session allowlists, markdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_helpers import add_messages, bearer, create_peer, create_session, expect, msg, sign, ws_url
from memory_helpers import hash_client, store_conclusion

from honcho_server.services.deps import Deps

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rep_url(ws: str, peer: str) -> str:
    return ws_url(ws, "peers", peer, "representation")


async def representation(client: httpx.AsyncClient, ws: str, peer: str, **body: object) -> str:
    return expect(await client.post(rep_url(ws, peer), json=body), 200)["representation"]


def facts(markdown: str) -> list[str]:
    """The statements of explicit / deductive lines, in order (timestamps and citations dropped)."""
    out = []
    for line in markdown.splitlines():
        if line.startswith("["):
            text = line.split("] ", 1)[1]
            out.append(text.split(" (messages: ")[0])
    return out


async def _peers(client: httpx.AsyncClient, ws: str) -> None:
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    await create_session(client, ws, "s1", {"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", {"alice": {}, "bob": {}})


async def _numbered(deps: Deps, ws: str, count: int, **kw: object) -> list[str]:
    """`count` explicit self-conclusions of alice, 'fact 0' the oldest."""
    return [await store_conclusion(deps, ws, "alice", "alice", f"fact {i}", observed_at=at(i), **kw)
            for i in range(count)]


async def test_unknown_peers_have_an_empty_representation(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    assert await representation(client, ws, "alice") == ""
    assert await representation(client, ws, "nobody") == ""
    assert await representation(client, ws, "alice", target="nobody") == ""
    assert await representation(client, f"{ws}-none", "alice") == ""
    # No body at all is the default request.
    assert expect(await client.post(rep_url(ws, "alice")), 200) == {"representation": ""}


async def test_markdown_sections_premises_and_cited_messages(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await _peers(client, ws)
    m1, m2 = await add_messages(client, ws, "s1", [msg("alice", "I moved to Berlin"), msg("alice", "I work at home")])
    berlin = await store_conclusion(deps, ws, "alice", "alice", "alice lives in Berlin", session="s1",
                                    observed_at=at(1), message_ids=[m1["id"]])
    remote = await store_conclusion(deps, ws, "alice", "alice", "alice works from home", session="s1",
                                    observed_at=at(2), message_ids=[m1["id"], m2["id"]])
    await store_conclusion(deps, ws, "alice", "alice", "alice probably works remotely in Berlin", level="deductive",
                           observed_at=at(3), source_ids=[berlin, remote])
    await store_conclusion(deps, ws, "alice", "alice", "alice prefers quiet places", level="inductive",
                           observed_at=at(4), source_ids=[berlin, remote])
    await store_conclusion(deps, ws, "alice", "alice", "alice said she lives in Paris", level="contradiction",
                           observed_at=at(5), source_ids=[berlin])
    expected = "\n\n".join([
        "## Explicit Observations",
        f"[2026-03-01 09:01:00] alice lives in Berlin (messages: {m1['id']})\n"
        f"[2026-03-01 09:02:00] alice works from home (messages: {m1['id']}, {m2['id']})",
        "## Deductive Observations",
        "[2026-03-01 09:03:00] alice probably works remotely in Berlin\n   Premises:\n"
        "   - alice lives in Berlin\n   - alice works from home",
        "## Inductive Observations",
        " **Pattern** [medium]: alice prefers quiet places\n   **Sources**:\n"
        "   - alice lives in Berlin\n   - alice works from home",
        "## Contradictions",
        " **CONTRADICTION**: alice said she lives in Paris\n   **Conflicting statements**:\n"
        "   - alice lives in Berlin",
    ])
    assert await representation(client, ws, "alice") == expected


async def test_max_conclusions_keeps_the_newest(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _peers(client, ws)
    await _numbered(deps, ws, 110)
    default = facts(await representation(client, ws, "alice"))
    assert default == [f"fact {i}" for i in range(85, 110)]  # 25 by default (spec 6.6), oldest first
    assert facts(await representation(client, ws, "alice", max_conclusions=3)) == ["fact 107", "fact 108",
                                                                                   "fact 109"]
    assert len(facts(await representation(client, ws, "alice", max_conclusions=None))) == 100  # null: the max
    for bad in (0, 101, "many"):
        expect(await client.post(rep_url(ws, "alice"), json={"max_conclusions": bad}), 422)


async def test_most_frequent_share_and_backfill(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _peers(client, ws)
    await store_conclusion(deps, ws, "alice", "alice", "old and often said", observed_at=at(0), times_derived=9)
    await store_conclusion(deps, ws, "alice", "alice", "old and said twice", observed_at=at(1), times_derived=2)
    await _numbered(deps, ws, 6, times_derived=1)  # newer ones: fact 0..5 at minutes 0..5
    newest = ["fact 2", "fact 3", "fact 4", "fact 5"]
    assert facts(await representation(client, ws, "alice", max_conclusions=4)) == newest
    # Half goes to the most reinforced (spec 15.2), the rest to the newest.
    chosen = facts(await representation(client, ws, "alice", max_conclusions=4, include_most_frequent=True))
    assert sorted(chosen) == sorted(["old and often said", "old and said twice", "fact 4", "fact 5"])
    # When the most reinforced are also among the newest, the newest fill the room the overlap leaves.
    await store_conclusion(deps, ws, "alice", "alice", "new and often said", observed_at=at(10), times_derived=20)
    await store_conclusion(deps, ws, "alice", "alice", "new and said often", observed_at=at(11), times_derived=10)
    chosen = facts(await representation(client, ws, "alice", max_conclusions=4, include_most_frequent=True))
    assert chosen == ["fact 4", "fact 5", "new and often said", "new and said often"]


async def test_semantic_share(deps: Deps, ws: str) -> None:
    async with hash_client(deps) as client:
        await _peers(client, ws)
        await store_conclusion(deps, ws, "alice", "alice", "alice plays chess on weekends", observed_at=at(0))
        await _numbered(deps, ws, 5)  # fact 0 .. fact 4
        await store_conclusion(deps, ws, "alice", "alice", "alice keeps a chess diary", observed_at=at(1))
        # top_k 1: the closest match, however old, and the newest for the rest.
        chosen = facts(await representation(client, ws, "alice", max_conclusions=3, search_query="weekends",
                                            search_top_k=1))
        assert chosen == ["alice plays chess on weekends", "fact 3", "fact 4"]
        # Without top_k a third of the room is semantic (at least one).
        chosen = facts(await representation(client, ws, "alice", max_conclusions=6, search_query="chess"))
        assert sorted(chosen) == sorted(["alice plays chess on weekends", "alice keeps a chess diary", "fact 1",
                                         "fact 2", "fact 3", "fact 4"])
        # Matches too far away are left out; the newest take their place.
        far = facts(await representation(client, ws, "alice", max_conclusions=3, search_query="weekends",
                                         search_max_distance=0.0))
        assert far == ["fact 2", "fact 3", "fact 4"]
        # All three shares at once, none counted twice.
        everything = facts(await representation(client, ws, "alice", max_conclusions=100, search_query="chess",
                                                include_most_frequent=True))
        assert len(everything) == len(set(everything)) == 7



async def test_session_allowlist(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _peers(client, ws)
    await create_session(client, ws, "s3", {"alice": {}})
    await store_conclusion(deps, ws, "alice", "alice", "said in s1", session="s1", observed_at=at(1))
    await store_conclusion(deps, ws, "alice", "alice", "said in s2", session="s2", observed_at=at(2))
    await store_conclusion(deps, ws, "alice", "alice", "said nowhere", observed_at=at(3))
    await store_conclusion(deps, ws, "alice", "alice", "deduced in s1", session="s1", level="deductive",
                           observed_at=at(4))
    assert facts(await representation(client, ws, "alice")) == ["said in s1", "said in s2", "said nowhere",
                                                                 "deduced in s1"]
    for filters in ({"session_id": "s1"}, {"session_id": ["s1"]}, {"session_id": {"in": ["s1", "s1"]}}):
        assert facts(await representation(client, ws, "alice", filters=filters)) == ["said in s1"]
    assert facts(await representation(client, ws, "alice", session_id="s1")) == ["said in s1"]
    assert facts(await representation(client, ws, "alice", session_id="s2", filters={"session_id": ["s1", "s2"]})
                 ) == ["said in s2"]
    assert facts(await representation(client, ws, "alice", filters={"session_id": ["s2", "s1", "nope"]})) == [
        "said in s1", "said in s2"]
    for nothing in ({"filters": {"session_id": []}}, {"session_id": "s3"}, {"session_id": "nope"}):
        assert await representation(client, ws, "alice", **nothing) == ""
    expect(await client.post(rep_url(ws, "alice"), json={"session_id": "s2", "filters": {"session_id": ["s1"]}}),
           422)
    for bad in ({"peer_id": "alice"}, {"session_id": "s1", "level": "explicit"}, {"session_id": "*"},
                {"session_id": {"contains": "s"}}, {"session_id": [""]}, {"session_id": ["a b"]}, {"session_id": 3},
                {"session_id": None}, {"session_id": [f"s{i}" for i in range(1001)]}, {}):
        detail = expect(await client.post(rep_url(ws, "alice"), json={"filters": bad}), 422)["detail"]
        assert "session" in str(detail)


async def test_target_is_the_observed_peer(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _peers(client, ws)
    await store_conclusion(deps, ws, "alice", "bob", "bob cooks well", observed_at=at(1))
    await store_conclusion(deps, ws, "bob", "bob", "I cook for a living", observed_at=at(2))
    await store_conclusion(deps, ws, "bob", "alice", "alice likes bob's food", observed_at=at(3))
    assert facts(await representation(client, ws, "alice", target="bob")) == ["bob cooks well"]
    assert facts(await representation(client, ws, "bob")) == ["I cook for a living"]
    assert facts(await representation(client, ws, "bob", target="alice")) == ["alice likes bob's food"]
    assert await representation(client, ws, "alice") == ""


@pytest.mark.parametrize("body", [
    {"scope": "team", "session_id": "s1"}, {"scope": []}, {"target": "scope.team"}, {"search_top_k": 0},
    {"search_top_k": 101}, {"search_max_distance": 1.1}, {"filters": "s1"},
])
async def test_representation_refusals(client: httpx.AsyncClient, ws: str, body: dict) -> None:
    await create_peer(client, ws, "alice")
    expect(await client.post(rep_url(ws, "alice"), json=body), 422)


async def test_scope_peer_in_path_is_refused(client: httpx.AsyncClient, ws: str) -> None:
    expect(await client.post(rep_url(ws, "scope.team"), json={}), 422)
    expect(await client.get(ws_url(ws, "peers", "scope.team", "context")), 422)


async def test_representation_access(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await _peers(client, ws)
    await store_conclusion(deps, ws, "alice", "alice", "alice likes tea", observed_at=at(1))
    own = bearer(sign(w=ws, p="alice"))
    got = expect(await auth_client.post(rep_url(ws, "alice"), json={}, headers=own), 200)
    assert facts(got["representation"]) == ["alice likes tea"]
    expect(await auth_client.post(rep_url(ws, "alice"), json={}, headers=bearer(sign(w=ws, p="bob"))), 401)
    # Scopes need a workspace key before anything else is said about them.
    expect(await auth_client.post(rep_url(ws, "alice"), json={"scope": "team"}, headers=own), 401)
    expect(await auth_client.post(rep_url(ws, "alice"), json={"scope": "team"}, headers=bearer(sign(w=ws))), 404)


# ---- peer context (spec 6.9) ----------------------------------------------------------------------------


def context_url(ws: str, peer: str) -> str:
    return ws_url(ws, "peers", peer, "context")


async def test_peer_context(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _peers(client, ws)
    await _numbered(deps, ws, 105)
    await store_conclusion(deps, ws, "alice", "alice", "old and often said", observed_at=at(-10), times_derived=7)
    await store_conclusion(deps, ws, "alice", "bob", "bob cooks well", session="s1", observed_at=at(1))
    expect(await client.put(ws_url(ws, "peers", "alice", "card"), json={"peer_card": ["Name: Alice"]}), 200)
    own = expect(await client.get(context_url(ws, "alice")), 200)
    assert list(own) == ["peer_id", "target_id", "representation", "peer_card"]
    assert (own["peer_id"], own["target_id"], own["peer_card"]) == ("alice", "alice", ["Name: Alice"])
    # 100 by default, most reinforced included by default.
    assert len(facts(own["representation"])) == 100 and "old and often said" in facts(own["representation"])
    plain = expect(await client.get(context_url(ws, "alice"), params={"include_most_frequent": "false",
                                                                      "max_conclusions": 2}), 200)
    assert facts(plain["representation"]) == ["fact 103", "fact 104"]
    of_bob = expect(await client.get(context_url(ws, "alice"), params={"target": "bob"}), 200)
    assert of_bob == {"peer_id": "alice", "target_id": "bob",
                      "representation": of_bob["representation"], "peer_card": None}
    assert facts(of_bob["representation"]) == ["bob cooks well"]
    unknown = expect(await client.get(context_url(ws, "alice"), params={"target": "zed"}), 200)
    assert unknown == {"peer_id": "alice", "target_id": "zed", "representation": "", "peer_card": None}
    # Errors: the observer must exist; scopes and out-of-range numbers are refused.
    assert "zed" in expect(await client.get(context_url(ws, "zed")), 404)["detail"]
    expect(await client.get(context_url(f"{ws}-none", "alice")), 404)
    for params in ({"target": "scope.team"}, {"search_top_k": 0}, {"max_conclusions": 101},
                   {"search_max_distance": 2}):
        expect(await client.get(context_url(ws, "alice"), params=params), 422)


async def test_peer_context_search(deps: Deps, ws: str) -> None:
    async with hash_client(deps) as client:
        await _peers(client, ws)
        await store_conclusion(deps, ws, "alice", "alice", "alice plays chess on weekends", observed_at=at(0))
        await _numbered(deps, ws, 10)
        found = expect(await client.get(context_url(ws, "alice"), params={
            "search_query": "weekends", "search_top_k": 1, "max_conclusions": 2, "include_most_frequent": "false"}),
            200)
        assert facts(found["representation"]) == ["alice plays chess on weekends", "fact 9"]
