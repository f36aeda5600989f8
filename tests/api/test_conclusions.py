"""Conclusion routes (spec §9, §2.5, §4.1 conclusion filters) on both databases: create, list, get, delete,
semantic query; their 404s and 422s; an embedder that fails; workspace-level keys only."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import (
    PAGE_KEYS,
    UID_RE,
    add_messages,
    assert_page,
    bearer,
    create_peer,
    create_session,
    expect,
    msg,
    sign,
    ws_url,
)
from memory_helpers import HASH_DIMENSIONS, FailingEmbedder, client_with, hash_client, store_conclusion

from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.services.deps import Deps
from honcho_server.worker.runtime import Worker

CONCLUSION_KEYS = ["id", "content", "observer_id", "observed_id", "session_id", "level", "created_at",
                   "source_ids", "times_derived"]


def conclusion(content: str, observer: str = "alice", observed: str = "alice", **extra: object) -> dict:
    return {"content": content, "observer_id": observer, "observed_id": observed, **extra}


async def _setup(client: httpx.AsyncClient, ws: str) -> None:
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    await create_session(client, ws, "s1", {"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", {"alice": {}})


async def _create(client: httpx.AsyncClient, ws: str, items: list[dict], key: str = "conclusions") -> list[dict]:
    return expect(await client.post(ws_url(ws, "conclusions"), json={key: items}), 201)


async def _list(client: httpx.AsyncClient, ws: str, filters: dict | None = None, **params: object) -> dict:
    body = {"filters": filters} if filters is not None else None
    return expect(await client.post(ws_url(ws, "conclusions", "list"), json=body, params=params), 200)


def _cosine(a: str, b: str) -> float:
    embedder = HashEmbedder(HASH_DIMENSIONS)
    return sum(x * y for x, y in zip(embedder.embed_one(a), embedder.embed_one(b), strict=True))


def _contents(items: list[dict]) -> list[str]:
    return [c["content"] for c in items]


async def test_create_returns_explicit_conclusions_in_request_order(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    created = await _create(client, ws, [
        conclusion("alice drinks green tea", session_id="s1"),
        conclusion("bob is a carpenter", "alice", "bob"),
        conclusion("alice \x00likes rain"),
    ])
    assert _contents(created) == ["alice drinks green tea", "bob is a carpenter", "alice likes rain"]
    for c in created:
        assert list(c) == CONCLUSION_KEYS
        assert UID_RE.match(c["id"]) and c["created_at"].endswith("Z")
        assert (c["level"], c["times_derived"], c["source_ids"]) == ("explicit", 1, None)
    assert [(c["observer_id"], c["observed_id"], c["session_id"]) for c in created] == [
        ("alice", "alice", "s1"), ("alice", "bob", None), ("alice", "alice", None)]
    # The reference's older key is accepted too.
    old = await _create(client, ws, [conclusion("alice owns a bike")], key="observations")
    assert _contents(old) == ["alice owns a bike"]
    # No dedup on this path.
    again = await _create(client, ws, [conclusion("alice owns a bike")])
    assert again[0]["id"] != old[0]["id"]


async def test_list_is_newest_first_and_reverse_flips_it(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    for text in ("first", "second", "third"):
        await _create(client, ws, [conclusion(f"{text} fact")])
    page = await _list(client, ws)
    assert list(page) == PAGE_KEYS
    assert _contents(assert_page(page, total=3, page=1, size=50, pages=1)) == ["third fact", "second fact",
                                                                              "first fact"]
    assert _contents((await _list(client, ws, reverse=True))["items"]) == ["first fact", "second fact", "third fact"]
    second_page = await _list(client, ws, page=2, size=2)
    assert _contents(assert_page(second_page, total=3, page=2, size=2, pages=2)) == ["first fact"]
    # Unknown workspace: an empty page, not an error.
    assert_page(await _list(client, f"{ws}-none"), total=0, page=1, size=50, pages=0)


async def test_list_filters(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _setup(client, ws)
    a, b, c = await _create(client, ws, [
        conclusion("alice likes tea", session_id="s1"),
        conclusion("bob likes coffee", "alice", "bob", session_id="s2"),
        conclusion("bob sees alice hiking", "bob", "alice"),
    ])
    deduced = await store_conclusion(deps, ws, "alice", "alice", "alice enjoys hot drinks", level="deductive",
                                     source_ids=[a["id"]], times_derived=3)

    async def contents(filters: dict) -> list[str]:
        return _contents((await _list(client, ws, filters))["items"])

    assert await contents({"observer_id": "bob"}) == ["bob sees alice hiking"]
    assert await contents({"observer": "alice", "observed": "bob"}) == ["bob likes coffee"]
    assert await contents({"session_id": "s1"}) == ["alice likes tea"]
    assert await contents({"session_id": None, "observer_id": "alice"}) == ["alice enjoys hot drinks"]
    assert await contents({"level": "deductive"}) == ["alice enjoys hot drinks"]
    assert await contents({"level": {"in": ["explicit"]}, "observed_id": "alice"}) == ["bob sees alice hiking",
                                                                                     "alice likes tea"]
    assert await contents({"times_derived": {"gte": 2}}) == ["alice enjoys hot drinks"]
    assert await contents({"content": {"icontains": "COFFEE"}}) == ["bob likes coffee"]
    assert await contents({"id": {"in": [b["id"], c["id"]]}}) == ["bob sees alice hiking", "bob likes coffee"]
    # SDK 2.7 `derived()`: a bare id under `contains` on source_ids (spec 4.2, D6).
    derived = await _list(client, ws, {"source_ids": {"contains": a["id"]}, "observer_id": "alice",
                                       "observed_id": "alice"})
    assert [(x["id"], x["source_ids"], x["times_derived"]) for x in derived["items"]] == [(deduced, [a["id"]], 3)]
    assert await contents({"source_ids": {"contains": b["id"]}}) == []
    for bad in ({"level": "guess"}, {"colour": "red"}, {"observer_id": {"between": 1}}):
        expect(await client.post(ws_url(ws, "conclusions", "list"), json={"filters": bad}), 422)
    expect(await client.post(ws_url(ws, "conclusions", "list"), json={"filters": ["x"]}), 422)


async def test_get_one_and_delete(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    created, other = await _create(client, ws, [conclusion("alice likes tea", session_id="s1"),
                                                  conclusion("alice likes jazz")])
    url = ws_url(ws, "conclusions", created["id"])
    assert expect(await client.get(url), 200) == created
    assert (await client.delete(url)).status_code == 204
    assert "not found" in expect(await client.get(url), 404)["detail"]
    expect(await client.delete(url), 404)
    expect(await client.get(ws_url(ws, "conclusions", "nope")), 404)
    expect(await client.get(ws_url(f"{ws}-none", "conclusions", other["id"])), 404)
    expect(await client.delete(ws_url(f"{ws}-none", "conclusions", other["id"])), 404)
    assert [c["id"] for c in (await _list(client, ws))["items"]] == [other["id"]]


@pytest.mark.parametrize("body", [
    {"conclusions": []},
    {"conclusions": [conclusion(f"fact {i}") for i in range(101)]},
    {"conclusions": [conclusion("")]},
    {"conclusions": [conclusion("\x00")]},
    {"conclusions": [conclusion("x" * 65536)]},
    {"conclusions": [{"content": "no observer", "observed_id": "alice"}]},
    {"conclusions": [conclusion("fact", observer="")]},
    {"conclusions": "alice likes tea"},
    {},
])
async def test_create_refuses_malformed_bodies(client: httpx.AsyncClient, ws: str, body: dict) -> None:
    await _setup(client, ws)
    expect(await client.post(ws_url(ws, "conclusions"), json=body), 422)
    assert (await _list(client, ws))["total"] == 0


async def test_create_checks_what_it_names(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    # Longer than the embedder takes (8192 tokens by default), though under 65535 characters.
    too_long = expect(await client.post(ws_url(ws, "conclusions"), json={"conclusions": [
        conclusion("ok"), conclusion("word " * 9000)]}), 422)
    assert "conclusions[1].content" in too_long["detail"] and "8192" in too_long["detail"]
    for item, needle in ((conclusion("x", observer="carol"), "carol"), (conclusion("x", observed="dave"), "dave"),
                         (conclusion("x", session_id="s9"), "s9")):
        assert needle in expect(await client.post(ws_url(ws, "conclusions"), json={"conclusions": [
            conclusion("fine"), item]}), 404)["detail"]
    expect(await client.post(ws_url(ws, "conclusions"), json={"conclusions": [conclusion("x", observed="scope.a")]}),
           422)
    expect(await client.post(ws_url(f"{ws}-none", "conclusions"), json={"conclusions": [conclusion("x")]}), 404)
    # A session being deleted is gone already.
    expect(await client.delete(ws_url(ws, "sessions", "s2")), 202)
    expect(await client.post(ws_url(ws, "conclusions"), json={"conclusions": [conclusion("x", session_id="s2")]}),
           404)
    # Nothing of a refused batch was stored.
    assert (await _list(client, ws))["total"] == 0


async def test_query_orders_by_similarity(deps: Deps, ws: str) -> None:
    async with hash_client(deps) as client:
        await _setup(client, ws)
        await _create(client, ws, [
            conclusion("alice drinks green tea every morning"),
            conclusion("alice plays chess on weekends"),
            conclusion("alice drinks coffee after lunch"),
            conclusion("alice plays green tea chess"),
            conclusion("bob drinks green tea", "alice", "bob"),
            conclusion("alice plays the cello", "bob", "alice"),
        ])
        url = ws_url(ws, "conclusions", "query")
        pair = {"observer_id": "alice", "observed_id": "alice"}
        found = expect(await client.post(url, json={"query": "green tea", "filters": pair}), 200)
        # Exactly the collection's four, by cosine similarity to the query (the shorter text sharing both
        # words first), as the same embedder computes it.
        assert _contents(found)[:2] == ["alice plays green tea chess", "alice drinks green tea every morning"]
        assert _contents(found) == sorted(_contents(found), key=lambda text: -_cosine("green tea", text))
        assert len(found) == 4
        assert all(list(c) == CONCLUSION_KEYS for c in found)
        top = expect(await client.post(url, json={"query": "weekends", "top_k": 1, "filters": pair}), 200)
        assert _contents(top) == ["alice plays chess on weekends"]
        # `distance` (cosine) drops what shares no word with the query; other keys filter as in list.
        close = expect(await client.post(url, json={"query": "green tea", "distance": 0.9, "filters": pair}), 200)
        assert _contents(close) == [t for t in _contents(found) if 1 - _cosine("green tea", t) <= 0.9]
        assert _contents(close) == ["alice plays green tea chess", "alice drinks green tea every morning"]
        chess = expect(await client.post(url, json={"query": "chess", "filters": {
            **pair, "content": {"icontains": "green"}}}), 200)
        assert _contents(chess) == ["alice plays green tea chess", "alice drinks green tea every morning"]
        aliases = expect(await client.post(url, json={"query": "tea", "filters": {"observer": "alice",
                                                                                   "observed": "bob"}}), 200)
        assert _contents(aliases) == ["bob drinks green tea"]
        # Nothing to match: stop words only, unknown peers, unknown workspace.
        assert expect(await client.post(url, json={"query": "the and of", "filters": pair}), 200) == []
        assert expect(await client.post(url, json={"query": "tea", "filters": {"observer_id": "zed",
                                                                                "observed_id": "alice"}}), 200) == []
        assert expect(await client.post(ws_url(f"{ws}-none", "conclusions", "query"),
                                        json={"query": "tea", "filters": pair}), 200) == []


async def test_query_refusals(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    url = ws_url(ws, "conclusions", "query")
    pair = {"observer_id": "alice", "observed_id": "alice"}
    for filters in (None, {}, {"observer_id": "alice"}, {"observed": "alice"}, {"level": "explicit"}):
        detail = expect(await client.post(url, json={"query": "tea", "filters": filters}), 422)["detail"]
        assert "observer_id" in detail and "observed_id" in detail
    expect(await client.post(url, json={"query": "tea", "filters": {"observer_id": ["alice"],
                                                                     "observed_id": "alice"}}), 422)
    expect(await client.post(url, json={"query": "tea", "filters": {"observer_id": "alice", "observer": "bob",
                                                                     "observed_id": "alice"}}), 422)
    for body in ({"query": "tea", "top_k": 0, "filters": pair}, {"query": "tea", "top_k": 101, "filters": pair},
                 {"query": "tea", "distance": 1.5, "filters": pair}, {"query": "tea", "distance": -0.1},
                 {"filters": pair}, {"query": "tea", "filters": {**pair, "level": "guess"}}):
        expect(await client.post(url, json=body), 422)
    too_long = expect(await client.post(url, json={"query": "word " * 9000, "filters": pair}), 422)
    assert "8192" in too_long["detail"]


async def test_a_failing_embedder_never_fails_a_write(deps: Deps, ws: str) -> None:
    async with client_with(deps, FailingEmbedder()) as client:
        await _setup(client, ws)
        created = await _create(client, ws, [conclusion("alice drinks green tea"), conclusion("alice hates rain")])
        assert _contents((await _list(client, ws, reverse=True))["items"]) == _contents(created)
        # The query falls back to conclusions sharing a word with it, newest first.
        found = expect(await client.post(ws_url(ws, "conclusions", "query"), json={
            "query": "green tea please", "filters": {"observer_id": "alice", "observed_id": "alice"}}), 200)
        assert _contents(found) == ["alice drinks green tea"]
    # And the representation still lists them (by recency).
    rep = expect(await client_post_representation(deps, ws, "alice"), 200)["representation"]
    assert "alice drinks green tea" in rep and "alice hates rain" in rep


async def client_post_representation(deps: Deps, ws: str, peer: str) -> httpx.Response:
    async with client_with(deps, FailingEmbedder()) as client:
        return await client.post(ws_url(ws, "peers", peer, "representation"), json={"search_query": "tea"})


async def test_workspace_keys_only(client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    created = await _create(client, ws, [conclusion("alice likes tea")])
    url = ws_url(ws, "conclusions")
    for token in (sign(w=ws, p="alice"), sign(w=ws, s="s1"), sign(w=f"{ws}-other"), "garbage"):
        headers = bearer(token)
        expect(await auth_client.post(f"{url}/list", json={}, headers=headers), 401)
        expect(await auth_client.get(f"{url}/{created[0]['id']}", headers=headers), 401)
        expect(await auth_client.delete(f"{url}/{created[0]['id']}", headers=headers), 401)
        expect(await auth_client.post(url, json={"conclusions": [conclusion("x")]}, headers=headers), 401)
    expect(await auth_client.post(f"{url}/list", json={}), 401)
    ok = bearer(sign(w=ws))
    assert expect(await auth_client.post(f"{url}/list", json={}, headers=ok), 200)["total"] == 1
    assert expect(await auth_client.get(f"{url}/{created[0]['id']}", headers=ok), 200) == created[0]


async def test_conclusions_go_with_their_session(client: httpx.AsyncClient, ws: str, worker: Worker) -> None:
    """Deleting a session removes the conclusions stamped with it (spec 7.4); others stay."""
    await _setup(client, ws)
    await add_messages(client, ws, "s2", [msg("alice", "hello")])
    await _create(client, ws, [conclusion("from s2", session_id="s2"), conclusion("from nowhere")])
    expect(await client.delete(ws_url(ws, "sessions", "s2")), 202)
    await worker.drain()
    assert _contents((await _list(client, ws))["items"]) == ["from nowhere"]
