"""v1 metamessages in both SDKs' shapes (docs/v1-api.md §1.4, §3.5): 0.0.19's session routes (a message required)
and user-level list, 0.2.0's user-level create / get / update / list; links checked against the user's sessions."""

from __future__ import annotations

import httpx
from api_helpers import bearer, expect, sign
from v1_data_helpers import assert_metamessage, page, user_url, world


async def test_0019_session_routes(client: httpx.AsyncClient, ws: str) -> None:
    ids = await world(client, ws)
    base = user_url(ws, "alice", "sessions", "s1", "metamessages")
    made = expect(await client.post(base, json={"content": "thinking", "message_id": ids["s1"][0],
                                                "metamessage_type": "thought", "metadata": {"n": 1}}), 200)
    assert_metamessage(made, ws, "alice")
    assert (made["session_id"], made["message_id"], made["label"], made["content"], made["metadata"]) == (
        "s1", ids["s1"][0], "thought", "thinking", {"n": 1})
    second = expect(await client.post(base, json={"content": "x", "message_id": ids["s1"][2],
                                                  "metamessage_type": "note"}), 200)
    assert second["metadata"] == {}
    # get: the required message_id must be the metamessage's.
    got = expect(await client.get(f"{base}/{made['id']}", params={"message_id": ids["s1"][0]}), 200)
    assert got == made
    expect(await client.get(f"{base}/{made['id']}", params={"message_id": ids["s1"][2]}), 404)
    expect(await client.get(f"{base}/{made['id']}"), 422)  # message_id is required
    expect(await client.get(user_url(ws, "bob", "sessions", "s1", "metamessages", made["id"]),
                            params={"message_id": ids["s1"][0]}), 404)  # another user's
    # update re-links within the session.
    moved = expect(await client.put(f"{base}/{made['id']}", json={"message_id": ids["s1"][2],
                                                                   "metamessage_type": "idea"}), 200)
    assert (moved["message_id"], moved["metamessage_type"], moved["label"], moved["metadata"]) == (
        ids["s1"][2], "idea", "idea", {"n": 1})
    expect(await client.put(f"{base}/{made['id']}", json={"metadata": {}}), 422)  # message_id is required
    expect(await client.put(f"{base}/{made['id']}", json={"message_id": ids["s3"][0]}), 422)  # another session's
    expect(await client.put(f"{base}/{made['id']}", json={"message_id": "nope"}), 404)
    # list: by type, by message, with paging in the query.
    listed = await page(client, f"{base}/list")
    assert [m["id"] for m in listed["items"]] == [made["id"], second["id"]]
    assert (await page(client, f"{base}/list", {"metamessage_type": "idea"}))["total"] == 1
    by_message = await page(client, f"{base}/list", {"message_id": ids["s1"][2]})
    assert [m["id"] for m in by_message["items"]] == [made["id"], second["id"]]
    assert (await page(client, f"{base}/list", {"message_id": ids["s1"][1]}))["items"] == []
    newest = await page(client, f"{base}/list", reverse="true", size=1, page=1)
    assert ([m["id"] for m in newest["items"]], newest["total"], newest["pages"]) == ([second["id"]], 2, 2)
    assert (await page(client, f"{base}/list", page=3, size=1))["items"] == []  # past the end: 200, empty


async def test_0019_session_route_refusals(client: httpx.AsyncClient, ws: str) -> None:
    ids = await world(client, ws)
    body = {"content": "x", "message_id": ids["s1"][0], "metamessage_type": "note"}
    # Not a member (s2 is bob's only), unknown session, user or app: 404.
    for url in (user_url(ws, "alice", "sessions", "s2", "metamessages"),
                user_url(ws, "alice", "sessions", "nope", "metamessages"),
                user_url(ws, "carol", "sessions", "s1", "metamessages"),
                user_url(f"{ws}-none", "alice", "sessions", "s1", "metamessages")):
        expect(await client.post(url, json=body), 404)
        expect(await client.post(f"{url}/list", json={}), 404)
    base = user_url(ws, "alice", "sessions", "s1", "metamessages")
    expect(await client.post(base, json={**body, "message_id": ids["s3"][0]}), 422)  # a message of another session
    expect(await client.post(base, json={**body, "message_id": "nope"}), 404)
    for bad in ({"content": "x", "metamessage_type": "note"}, {**body, "metamessage_type": ""},
                {**body, "metamessage_type": "t" * 51}, {**body, "content": "x" * 50_001}, {**body, "metadata": 3}):
        expect(await client.post(base, json=bad), 422)
    for params in ({"page": 0}, {"size": 101}, {"size": 0}):
        expect(await client.post(f"{base}/list", json={}, params=params), 422)
    expect(await client.post(f"{base}/list", json={"filter": {"n": {"in": 3}}}), 422)


async def test_0020_user_routes(client: httpx.AsyncClient, ws: str) -> None:
    ids = await world(client, ws)
    base = user_url(ws, "alice", "metamessages")
    bare = expect(await client.post(base, json={"content": "a", "metamessage_type": "note"}), 200)
    assert_metamessage(bare, ws, "alice")
    assert (bare["session_id"], bare["message_id"], bare["metadata"]) == (None, None, {})
    in_session = expect(await client.post(base, json={"content": "b", "metamessage_type": "note",
                                                      "session_id": "s3", "metadata": {"topic": "x"}}), 200)
    assert (in_session["session_id"], in_session["message_id"]) == ("s3", None)
    on_message = expect(await client.post(base, json={"content": "c", "metamessage_type": "thought",
                                                      "message_id": ids["s1"][1]}), 200)
    assert (on_message["session_id"], on_message["message_id"]) == ("s1", ids["s1"][1])  # the session inferred
    both = expect(await client.post(base, json={"content": "d", "metamessage_type": "thought", "session_id": "s1",
                                                "message_id": ids["s1"][0], "metadata": {"topic": "y"}}), 200)
    assert expect(await client.get(f"{base}/{both['id']}"), 200) == both
    # Lists: all, by session, by message, by type, by metadata; unknown names match nothing.
    assert [m["content"] for m in (await page(client, f"{base}/list"))["items"]] == ["a", "b", "c", "d"]
    assert [m["content"] for m in (await page(client, f"{base}/list", {"session_id": "s1"}))["items"]] == ["c", "d"]
    assert [m["content"] for m in (await page(client, f"{base}/list", {
        "session_id": "s1", "message_id": ids["s1"][0]}))["items"]] == ["d"]
    assert [m["content"] for m in (await page(client, f"{base}/list", {"metamessage_type": "thought"}))[
        "items"]] == ["c", "d"]
    assert [m["content"] for m in (await page(client, f"{base}/list", {"filter": {"topic": "x"}}))["items"]] == ["b"]
    assert [m["content"] for m in (await page(client, f"{base}/list", {"filter": None}))["items"]] == [
        "a", "b", "c", "d"]
    assert (await page(client, f"{base}/list", {"session_id": "nope"}))["total"] == 0
    # 0.0.19's session list shows only those tied to a message; its user-level list shows all.
    session_list = await page(client, user_url(ws, "alice", "sessions", "s1", "metamessages", "list"))
    assert [m["content"] for m in session_list["items"]] == ["c", "d"]
    assert (await page(client, user_url(ws, "alice", "sessions", "s3", "metamessages", "list")))["items"] == []
    # bob sees none of alice's.
    assert (await page(client, user_url(ws, "bob", "metamessages", "list")))["total"] == 0
    expect(await client.get(user_url(ws, "bob", "metamessages", bare["id"])), 404)


async def test_0020_update_tells_absent_from_null(client: httpx.AsyncClient, ws: str) -> None:
    ids = await world(client, ws)
    base = user_url(ws, "alice", "metamessages")
    made = expect(await client.post(base, json={"content": "c", "metamessage_type": "t", "metadata": {"k": 1},
                                                "message_id": ids["s1"][0]}), 200)
    url = f"{base}/{made['id']}"
    # Absent fields, and null metadata / type: unchanged.
    assert expect(await client.put(url, json={}), 200) == made
    assert expect(await client.put(url, json={"metadata": None, "metamessage_type": None}), 200) == made
    changed = expect(await client.put(url, json={"metadata": {"k": 2}, "metamessage_type": "u"}), 200)
    assert (changed["metadata"], changed["label"], changed["message_id"], changed["session_id"]) == (
        {"k": 2}, "u", ids["s1"][0], "s1")
    # Re-link to a message of another session of hers: the session follows.
    moved = expect(await client.put(url, json={"message_id": ids["s3"][0]}), 200)
    assert (moved["message_id"], moved["session_id"]) == (ids["s3"][0], "s3")
    # A session that disagrees with the message: 422; one she is not in, or an unknown message: 404.
    expect(await client.put(url, json={"session_id": "s1"}), 422)
    expect(await client.put(url, json={"message_id": ids["s3"][0], "session_id": "s1"}), 422)
    expect(await client.put(url, json={"message_id": ids["s3"][0], "session_id": None}), 422)
    expect(await client.put(url, json={"session_id": None}), 422)  # the message would be outside its session
    expect(await client.put(url, json={"message_id": ids["s2"][0]}), 404)  # bob's session
    expect(await client.put(url, json={"message_id": "nope"}), 404)
    # message_id null unlinks the message (the session stays); session_id null then unlinks the session.
    unlinked = expect(await client.put(url, json={"message_id": None}), 200)
    assert (unlinked["message_id"], unlinked["session_id"]) == (None, "s3")
    assert expect(await client.put(url, json={"session_id": None}), 200)["session_id"] is None
    relinked = expect(await client.put(url, json={"session_id": "s1"}), 200)
    assert (relinked["message_id"], relinked["session_id"]) == (None, "s1")
    expect(await client.put(url, json={"session_id": "s2"}), 404)
    both_null = expect(await client.put(url, json={"message_id": None, "session_id": None}), 200)
    assert (both_null["message_id"], both_null["session_id"], both_null["content"]) == (None, None, "c")
    expect(await client.put(f"{base}/nope", json={}), 404)


async def test_0020_create_refusals(client: httpx.AsyncClient, ws: str) -> None:
    ids = await world(client, ws)
    base = user_url(ws, "alice", "metamessages")
    body = {"content": "x", "metamessage_type": "note"}
    expect(await client.post(base, json={**body, "session_id": "s1", "message_id": ids["s3"][0]}), 422)
    expect(await client.post(base, json={**body, "message_id": ids["s2"][0]}), 404)  # a session she is not in
    expect(await client.post(base, json={**body, "session_id": "s2"}), 404)
    expect(await client.post(base, json={**body, "message_id": "nope"}), 404)
    expect(await client.post(user_url(ws, "nobody", "metamessages"), json=body), 404)
    expect(await client.post(base, json={"content": "x"}), 422)
    expect(await client.get(f"{base}/nope"), 404)
    assert (await page(client, f"{base}/list"))["total"] == 0  # nothing of the refusals was stored


async def test_keys(client: httpx.AsyncClient, v1_auth_client: httpx.AsyncClient, ws: str) -> None:
    """ws+peer: the app's key and the user's own; another user's key and a session key get 401."""
    ids = await world(client, ws)
    body = {"content": "x", "metamessage_type": "note", "message_id": ids["s1"][0]}
    for claims, status in (({"w": ws}, 200), ({"w": ws, "p": "alice"}, 200), ({"w": ws, "p": "bob"}, 401),
                           ({"w": ws, "s": "s1"}, 401), ({"w": f"{ws}-other"}, 401)):
        headers = bearer(sign(**claims))
        expect(await v1_auth_client.post(user_url(ws, "alice", "metamessages"), json=body, headers=headers), status)
        expect(await v1_auth_client.post(user_url(ws, "alice", "sessions", "s1", "metamessages"), json=body,
                                         headers=headers), status)
