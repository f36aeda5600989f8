"""v1 user collections (docs/v1-api.md §1.4, §3.6-3.7): create (409 on a taken name, without retries), get by id
in the path (0.0.19) and in the query (0.2.0), by name, list with the reserved `honcho` first, update, delete."""

from __future__ import annotations

import httpx
from api_helpers import create_peer, expect
from v1_data_helpers import assert_collection, conflict, page, user_url


async def test_create_get_update_delete(client: httpx.AsyncClient, ws: str) -> None:
    peer = await create_peer(client, ws, "alice")
    await create_peer(client, ws, "bob")
    base = user_url(ws, "alice", "collections")
    made = expect(await client.post(base, json={"name": "notes", "metadata": {"k": 1}}), 200)
    assert_collection(made, ws, "alice")
    assert (made["name"], made["metadata"], len(made["id"])) == ("notes", {"k": 1}, 21)
    bare = expect(await client.post(base, json={"name": "my notes/with space"}), 200)
    assert bare["metadata"] == {}
    conflict(await client.post(base, json={"name": "notes"}))
    expect(await client.post(user_url(ws, "bob", "collections"), json={"name": "notes"}), 200)  # per user
    # get: 0.0.19 (path), 0.2.0 (query), by name; another user's collection is not hers.
    assert expect(await client.get(f"{base}/{made['id']}"), 200) == made
    assert expect(await client.get(base, params={"collection_id": made["id"]}), 200) == made
    assert expect(await client.get(f"{base}/name/notes"), 200) == made
    assert expect(await client.get(f"{base}/name/my notes/with space"), 404)["detail"]  # '/' is not served
    assert expect(await client.get(f"{base}/name/{bare['name'].split('/')[0]}"), 404)
    expect(await client.get(base), 422)  # 0.2.0 without collection_id: keys name no collection
    for url in (f"{base}/nope", user_url(ws, "bob", "collections", made["id"]), f"{base}/name/nope"):
        expect(await client.get(url), 404)
    expect(await client.get(base, params={"collection_id": "nope"}), 404)
    # update: rename and metadata, each when given; a taken name is a 409.
    renamed = expect(await client.put(f"{base}/{made['id']}", json={"name": "journal"}), 200)
    assert (renamed["id"], renamed["name"], renamed["metadata"]) == (made["id"], "journal", {"k": 1})
    same = expect(await client.put(f"{base}/{made['id']}", json={"name": None, "metadata": {"k": 2}}), 200)
    assert (same["name"], same["metadata"]) == ("journal", {"k": 2})
    assert expect(await client.put(f"{base}/{made['id']}", json={"name": "journal"}), 200)["name"] == "journal"
    conflict(await client.put(f"{base}/{made['id']}", json={"name": bare["name"]}))
    expect(await client.put(f"{base}/nope", json={"name": "x"}), 404)
    # delete
    assert expect(await client.delete(f"{base}/{made['id']}"), 200) == {"message": "Collection deleted successfully"}
    expect(await client.get(f"{base}/{made['id']}"), 404)
    expect(await client.delete(f"{base}/{made['id']}"), 404)
    assert peer["id"] == "alice"


async def test_the_reserved_collection(client: httpx.AsyncClient, ws: str) -> None:
    peer = await create_peer(client, ws, "alice")
    base = user_url(ws, "alice", "collections")
    honcho = {"id": "honcho", "app_id": ws, "user_id": "alice", "name": "honcho", "metadata": {},
              "created_at": peer["created_at"]}
    assert expect(await client.get(f"{base}/honcho"), 200) == honcho
    assert expect(await client.get(base, params={"collection_id": "honcho"}), 200) == honcho
    assert expect(await client.get(f"{base}/name/honcho"), 200) == honcho
    for response in (await client.post(base, json={"name": "honcho"}),
                     await client.put(f"{base}/honcho", json={"metadata": {"x": 1}}),
                     await client.delete(f"{base}/honcho")):
        assert "honcho" in expect(response, 422)["detail"]
    made = expect(await client.post(base, json={"name": "notes"}), 200)
    expect(await client.put(f"{base}/{made['id']}", json={"name": "honcho"}), 422)


async def test_list_pages_with_honcho_first(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    base = user_url(ws, "alice", "collections")
    names = [f"c{i}" for i in range(5)]
    for i, name in enumerate(names):
        expect(await client.post(base, json={"name": name, "metadata": {"even": i % 2 == 0}}), 200)
    everything = await page(client, f"{base}/list")
    assert [c["name"] for c in everything["items"]] == ["honcho", *names]
    assert (everything["total"], everything["pages"]) == (6, 1)
    # Explicit pages of 4: the reserved collection takes the first slot; a page past the end is empty.
    walked = [[c["name"] for c in (await page(client, f"{base}/list", page=n, size=4))["items"]] for n in (1, 2, 3)]
    assert walked == [["honcho", "c0", "c1", "c2"], ["c3", "c4"], []]
    backwards = [[c["name"] for c in (await page(client, f"{base}/list", page=n, size=4, reverse="true"))["items"]]
                 for n in (1, 2)]
    assert backwards == [["c4", "c3", "c2", "c1"], ["c0", "honcho"]]
    single = [(await page(client, f"{base}/list", page=n, size=1))["items"][0]["name"] for n in range(1, 7)]
    assert single == ["honcho", *names]
    # A filter selects on metadata: the reserved collection has none, so it is left out.
    even = await page(client, f"{base}/list", {"filter": {"even": True}})
    assert ([c["name"] for c in even["items"]], even["total"]) == (["c0", "c2", "c4"], 3)
    unfiltered = await page(client, f"{base}/list", {"filter": {}})
    assert (unfiltered["items"][0]["name"], unfiltered["total"]) == ("honcho", 6)
    expect(await client.post(f"{base}/list", json={"filter": {"even": {"in": 3}}}), 422)
    expect(await client.post(f"{base}/list", json={}, params={"size": 101}), 422)
    expect(await client.post(user_url(ws, "nobody", "collections", "list"), json={}), 404)


async def test_refusals(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    base = user_url(ws, "alice", "collections")
    for body in ({}, {"name": ""}, {"name": "x" * 513}, {"name": "x", "metadata": []}):
        expect(await client.post(base, json=body), 422)
    expect(await client.post(user_url(ws, "nobody", "collections"), json={"name": "x"}), 404)
    expect(await client.post(user_url(f"{ws}-none", "alice", "collections"), json={"name": "x"}), 404)
    assert (await page(client, f"{base}/list"))["total"] == 1  # only `honcho`: nothing refused was stored
