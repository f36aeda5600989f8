"""The reserved collection `honcho` (docs/v1-api.md §3.7): its documents are the user's current conclusions about
itself in the active generation, read and written through the v3 conclusion services; workspace keys only."""

from __future__ import annotations

import httpx
from api_helpers import bearer, create_peer, create_session, expect, sign, workspace_pk, ws_url
from memory_helpers import hash_client, store_conclusion
from sqlalchemy import select
from v1_data_helpers import assert_document, contents, page, user_url, v3_conclusions

from honcho_server.domain.conclusions import NewConclusion
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import generations as generation_repo


async def test_documents_are_the_users_own_conclusions(client: httpx.AsyncClient, ws: str) -> None:
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    mine = await v3_conclusions(client, ws, ("alice likes tea", "alice", "alice"), ("alice runs", "alice", "alice"),
                                ("bob thinks alice is kind", "bob", "alice"), ("bob sails", "bob", "bob"))
    base = user_url(ws, "alice", "collections", "honcho", "documents")
    listed = await page(client, f"{base}/list")
    assert [d["id"] for d in listed["items"]] == mine[:2]  # oldest first, the same ids as v3
    assert contents(listed["items"]) == ["alice likes tea", "alice runs"]
    for item in listed["items"]:
        assert_document(item, ws, "alice", "honcho")
        assert item["metadata"] == {"level": "explicit", "session_id": None, "times_derived": 1}
    assert [d["id"] for d in (await page(client, f"{base}/list", reverse="true"))["items"]] == mine[1::-1]
    assert (await page(client, f"{base}/list", page=2, size=1))["items"][0]["id"] == mine[1]
    assert (await page(client, f"{base}/list", page=3, size=1))["items"] == []
    # The filter reaches the exposed metadata; other keys match nothing.
    assert (await page(client, f"{base}/list", {"filter": {"level": "explicit"}}))["total"] == 2
    assert (await page(client, f"{base}/list", {"filter": {"level": "deductive"}}))["total"] == 0
    assert (await page(client, f"{base}/list", {"filter": {"topic": "x"}}))["total"] == 0
    assert (await page(client, f"{base}/list", {"filter": {"OR": [{"level": "explicit"}, {"topic": "x"}]}}))[
        "total"] == 2
    expect(await client.post(f"{base}/list", json={"filter": {"level": "guess"}}), 422)
    # get: only her own about herself.
    got = expect(await client.get(f"{base}/{mine[0]}"), 200)
    assert (got["id"], got["content"]) == (mine[0], "alice likes tea")
    for other in (mine[2], mine[3], "nope"):
        expect(await client.get(f"{base}/{other}"), 404)
    expect(await client.delete(f"{base}/{mine[2]}"), 404)  # bob's view of alice is not hers
    assert (await page(client, user_url(ws, "bob", "collections", "honcho", "documents", "list")))["total"] == 1


async def test_create_delete_update(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    base = user_url(ws, "alice", "collections", "honcho", "documents")
    made = expect(await client.post(base, json={"content": "alice keeps bees", "metadata": {"ignored": 1}}), 200)
    assert_document(made, ws, "alice", "honcho")
    assert made["metadata"] == {"level": "explicit", "session_id": None, "times_derived": 1}
    v3 = expect(await client.get(ws_url(ws, "conclusions", made["id"])), 200)  # a v3 conclusion of (alice, alice)
    assert (v3["observer_id"], v3["observed_id"], v3["content"]) == ("alice", "alice", "alice keeps bees")
    assert "honcho" in expect(await client.put(f"{base}/{made['id']}", json={"content": "x"}), 422)["detail"]
    # A v1 delete is the v3 delete, with its receipt's counts.
    response = await client.delete(f"{base}/{made['id']}")
    assert expect(response, 200) == {"message": "Document deleted successfully"}
    assert "X-Honcho-Receipt" in response.headers
    expect(await client.get(ws_url(ws, "conclusions", made["id"])), 404)
    expect(await client.get(f"{base}/{made['id']}"), 404)
    expect(await client.post(base, json={"content": ""}), 422)
    expect(await client.post(user_url(ws, "nobody", "collections", "honcho", "documents"), json={"content": "x"}),
           404)


async def test_v3_deletion_shows_in_v1(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    (uid,) = await v3_conclusions(client, ws, ("alice likes tea", "alice", "alice"))
    base = user_url(ws, "alice", "collections", "honcho", "documents")
    expect(await client.get(f"{base}/{uid}"), 200)
    expect(await client.delete(ws_url(ws, "conclusions", uid)), 204)
    expect(await client.get(f"{base}/{uid}"), 404)
    assert (await page(client, f"{base}/list"))["total"] == 0


async def test_query(deps: Deps, ws: str) -> None:
    async with hash_client(deps) as client:
        for peer in ("alice", "bob"):
            await create_peer(client, ws, peer)
        await v3_conclusions(client, ws, ("alice drinks green tea", "alice", "alice"),
                             ("alice plays chess", "alice", "alice"), ("bob drinks green tea", "bob", "alice"))
        base = user_url(ws, "alice", "collections", "honcho", "documents")
        found = expect(await client.post(f"{base}/query", json={"query": "green tea", "top_k": 1}), 200)
        assert contents(found) == ["alice drinks green tea"]
        assert_document(found[0], ws, "alice", "honcho")
        everything = expect(await client.post(f"{base}/query", json={"query": "green tea chess"}), 200)
        assert sorted(contents(everything)) == ["alice drinks green tea", "alice plays chess"]
        assert expect(await client.post(f"{base}/query", json={"query": "tea", "filter": {"level": "deductive"}}),
                      200) == []
        expect(await client.post(f"{base}/query", json={"query": "tea", "top_k": 51}), 422)


async def test_workspace_keys_only(client: httpx.AsyncClient, v1_auth_client: httpx.AsyncClient, ws: str) -> None:
    """Like the v3 conclusion routes; the user's own key still reaches its stored collections."""
    await create_peer(client, ws, "alice")
    (uid,) = await v3_conclusions(client, ws, ("alice likes tea", "alice", "alice"))
    honcho = user_url(ws, "alice", "collections", "honcho", "documents")
    stored = expect(await client.post(user_url(ws, "alice", "collections"), json={"name": "n"}), 200)["id"]
    own = bearer(sign(w=ws, p="alice"))
    workspace = bearer(sign(w=ws))
    for method, url, body in (("POST", f"{honcho}/list", {}), ("POST", f"{honcho}/query", {"query": "tea"}),
                              ("GET", f"{honcho}/{uid}", None), ("POST", honcho, {"content": "x"}),
                              ("DELETE", f"{honcho}/{uid}", None)):
        expect(await v1_auth_client.request(method, url, json=body, headers=own), 401)
    expect(await v1_auth_client.post(f"{honcho}/list", json={}, headers=workspace), 200)
    expect(await v1_auth_client.get(user_url(ws, "alice", "collections", "honcho"), headers=own), 200)
    expect(await v1_auth_client.post(user_url(ws, "alice", "collections", stored, "documents"),
                                     json={"content": "x"}, headers=own), 200)
    expect(await v1_auth_client.get(ws_url(ws, "conclusions", uid)), 401)  # (no key at all)


async def test_derived_levels_and_the_active_generation_only(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}})
    derived = await store_conclusion(deps, ws, "alice", "alice", "alice is a morning person", level="deductive",
                                     session="s1", times_derived=3)
    (explicit,) = await v3_conclusions(client, ws, ("alice likes tea", "alice", "alice"))
    # A conclusion of another (not active) generation of the workspace is not hers to see here.
    pk = await workspace_pk(deps, ws)
    assert pk is not None
    async with deps.db.write() as conn:
        other = await generation_repo.create(conn, pk, number=2, name=None, recipe={}, fingerprint="", scope={},
                                             started_by="test", estimate=None, max_cost_usd=None, now=deps.now())
        peer = (await conn.execute(select(tables.peers.c.id).where(tables.peers.c.workspace_id == pk))).scalar_one()
        await conclusion_repo.insert(conn, pk, other.pk, [NewConclusion(
            observer_pk=peer, observed_pk=peer, session_pk=None, content="from g2", observed_at=deps.now())],
            deps.now())
    base = user_url(ws, "alice", "collections", "honcho", "documents")
    listed = (await page(client, f"{base}/list"))["items"]
    assert [d["id"] for d in listed] == [derived, explicit]
    assert listed[0]["metadata"] == {"level": "deductive", "session_id": "s1", "times_derived": 3}
    chosen = await page(client, f"{base}/list", {"filter": {"session_id": "s1", "times_derived": {"gte": 2}}})
    assert [d["id"] for d in chosen["items"]] == [derived]
    assert [d["id"] for d in (await page(client, f"{base}/list", {"filter": {"level": "explicit"}}))["items"]] == [
        explicit]
