"""v1 sessions and messages (docs/v1-api.md §1.4, §3.3-3.4): the assistant, `is_user` both ways, pagination, and
writes and deletions through one API seen through the other."""

from __future__ import annotations

import httpx
from api_helpers import add_messages, create_session, expect, msg
from v1_route_helpers import (
    MESSAGE_KEYS,
    SESSION_KEYS,
    messages_url,
    new_app,
    new_session,
    new_user,
    page,
    send,
    sessions_url,
    shaped,
    users_url,
)

from honcho_server.domain.ids import NAME_RE


async def _world(client: httpx.AsyncClient, app: str) -> str:
    await new_app(client, app)
    await new_user(client, app, "ada")
    return str((await new_session(client, app, "ada", metadata={"topic": "trip"}))["id"])


async def test_session_routes(client: httpx.AsyncClient, app_name: str) -> None:
    sid = await _world(client, app_name)
    assert NAME_RE.match(sid) and len(sid) == 21
    bare = await new_session(client, app_name, "ada")
    assert bare["metadata"] == {} and bare["user_id"] == "ada" and bare["app_id"] == app_name
    one = shaped(expect(await client.get(sessions_url(app_name, "ada", sid)), 200), SESSION_KEYS)
    assert (one["id"], one["is_active"], one["metadata"]) == (sid, True, {"topic": "trip"})
    assert expect(await client.get(sessions_url(app_name, "ada"), params={"session_id": sid}), 200) == one
    updated = expect(await client.put(sessions_url(app_name, "ada", sid), json={"metadata": {"topic": "x"}}), 200)
    assert updated["metadata"] == {"topic": "x"}
    expect(await client.put(sessions_url(app_name, "ada", sid), json={}), 422)  # metadata is required
    for active in (True, False):
        found = await page(client, sessions_url(app_name, "ada", "list"), {"is_active": active})
        assert [s["id"] for s in found["items"]] == [sid, bare["id"]]
    only = await page(client, sessions_url(app_name, "ada", "list"), {"filter": {"topic": "x"}})
    assert [s["id"] for s in only["items"]] == [sid]
    assert (await page(client, sessions_url(app_name, "ada", "list"), page=2))["items"] == []
    # a session the user is not in is a 404 under that user, and so is an unknown one
    await new_user(client, app_name, "bob")
    expect(await client.get(sessions_url(app_name, "bob", sid)), 404)
    expect(await client.get(sessions_url(app_name, "ada", "nope")), 404)
    expect(await client.post(sessions_url(app_name, "nobody"), json={}), 404)
    expect(await client.get(sessions_url(app_name, "ada")), 422)


async def test_messages_and_the_assistant(client: httpx.AsyncClient, app_name: str) -> None:
    sid = await _world(client, app_name)
    mine = await send(client, app_name, "ada", sid, "I moved to Lisbon", True, metadata={"n": 1})
    reply = await send(client, app_name, "ada", sid, "", False)  # empty content is allowed
    assert (mine["is_user"], mine["peer_id"], mine["session_id"], mine["user_id"]) == (True, "ada", sid, "ada")
    assert (reply["is_user"], reply["peer_id"], reply["content"]) == (False, "assistant", "")
    batch = expect(await client.post(messages_url(app_name, "ada", sid, "batch"), json={"messages": [
        {"content": f"m{i}", "is_user": i % 2 == 0, "metadata": {"n": i}} for i in range(3)]}), 200)
    assert [m["content"] for m in batch] == ["m0", "m1", "m2"]
    assert [m["is_user"] for m in batch] == [True, False, True]
    assert all(set(m) == MESSAGE_KEYS for m in batch)
    too_many = {"messages": [{"content": "x", "is_user": True}] * 101}
    expect(await client.post(messages_url(app_name, "ada", sid, "batch"), json=too_many), 422)
    expect(await client.post(messages_url(app_name, "ada", sid, "batch"), json={"messages": []}), 422)
    expect(await client.post(messages_url(app_name, "ada", sid), json={"content": "x" * 25_001, "is_user": True}),
           422)
    # get, update, list (pages, reverse, filter)
    got = shaped(expect(await client.get(messages_url(app_name, "ada", sid, mine["id"])), 200), MESSAGE_KEYS)
    assert got == mine
    changed = expect(await client.put(messages_url(app_name, "ada", sid, mine["id"]), json={"metadata": {"n": 9}}),
                     200)
    assert changed["metadata"] == {"n": 9}
    url = messages_url(app_name, "ada", sid, "list")
    everything = await page(client, url)
    assert [m["content"] for m in everything["items"]] == ["I moved to Lisbon", "", "m0", "m1", "m2"]
    assert [m["content"] for m in (await page(client, url, reverse="true", size=2))["items"]] == ["m2", "m1"]
    assert [m["content"] for m in (await page(client, url, size=2, page=3))["items"]] == ["m2"]
    assert (await page(client, url, size=2, page=4))["items"] == []
    assert [m["content"] for m in (await page(client, url, {"filter": {"n": 1}}))["items"]] == ["m1"]
    expect(await client.get(messages_url(app_name, "ada", sid, "nope")), 404)
    # the assistant: a v3 peer that observes nothing of itself, hidden from the v1 user routes
    peer = expect(await client.put(f"/v3/workspaces/{app_name}/peers/assistant", json={}), 200)
    assert peer["configuration"] == {"observe_me": False}
    users = await page(client, users_url(app_name, "list"))
    assert [u["id"] for u in users["items"]] == ["ada"]
    expect(await client.get(users_url(app_name, "assistant")), 404)
    expect(await client.get(users_url(app_name, "name", "assistant")), 404)
    for data in ("collections/list", "metamessages/list"):  # nor does it own v1 data
        expect(await client.post(users_url(app_name, "assistant", *data.split("/")), json={}), 404)
    # v3 sees the messages with their authors, and the assistant as a member
    v3 = expect(await client.post(f"/v3/workspaces/{app_name}/sessions/{sid}/messages/list", json={}), 200)
    assert [m["peer_id"] for m in v3["items"]] == ["ada", "assistant", "ada", "assistant", "ada"]
    members = expect(await client.get(f"/v3/workspaces/{app_name}/sessions/{sid}/peers"), 200)
    assert {p["id"] for p in members["items"]} == {"ada", "assistant"}


async def test_v3_writes_read_through_v1(client: httpx.AsyncClient, ws: str) -> None:
    """A v3 session with a user, the assistant and a third peer: `is_user` is relative to the path's user."""
    await create_session(client, ws, "chat", peers={"ada": {}, "bob": {}, "carol": {}})
    await add_messages(client, ws, "chat", [msg("ada", "hi"), msg("bob", "hello"), msg("carol", "hey")])
    for user, mine in (("ada", "hi"), ("bob", "hello")):
        found = await page(client, messages_url(ws, user, "chat", "list"))
        assert [(m["content"], m["is_user"], m["peer_id"]) for m in found["items"]] == [
            ("hi", mine == "hi", "ada"), ("hello", mine == "hello", "bob"), ("hey", False, "carol")]
        listed = await page(client, sessions_url(ws, user, "list"))
        assert [s["id"] for s in listed["items"]] == ["chat"]
    expect(await client.put(f"/v3/workspaces/{ws}/sessions/chat", json={"metadata": {"v": 3}}), 200)
    assert expect(await client.get(sessions_url(ws, "ada", "chat")), 200)["metadata"] == {"v": 3}
    app = expect(await client.get(f"/v1/apps/{ws}"), 200)
    assert (app["id"], app["name"]) == (ws, ws)
    assert expect(await client.get(users_url(ws, "carol")), 200)["name"] == "carol"


async def test_deletion_both_ways(client: httpx.AsyncClient, app_name: str) -> None:
    first = await _world(client, app_name)
    message = await send(client, app_name, "ada", first, "bye", True)
    deleted = await client.delete(sessions_url(app_name, "ada", first))
    assert expect(deleted, 200) == {"message": "Session deleted successfully"}
    expect(await client.get(sessions_url(app_name, "ada", first)), 404)
    expect(await client.get(messages_url(app_name, "ada", first, message["id"])), 404)
    expect(await client.put(f"/v3/workspaces/{app_name}/sessions/{first}", json={}), 404)
    expect(await client.delete(sessions_url(app_name, "ada", first)), 404)
    # deleted through v3: gone in v1
    second = (await new_session(client, app_name, "ada"))["id"]
    other = await send(client, app_name, "ada", second, "hi", True)
    kept = await send(client, app_name, "ada", second, "still here", True)
    expect(await client.delete(f"/v3/workspaces/{app_name}/sessions/{second}/messages/{other['id']}"), 200)
    expect(await client.get(messages_url(app_name, "ada", second, other["id"])), 404)
    expect(await client.get(messages_url(app_name, "ada", second, kept["id"])), 200)
    expect(await client.delete(f"/v3/workspaces/{app_name}/sessions/{second}"), 202)
    expect(await client.get(sessions_url(app_name, "ada", second)), 404)
    expect(await client.get(messages_url(app_name, "ada", second, kept["id"])), 404)
    assert (await page(client, sessions_url(app_name, "ada", "list")))["items"] == []


async def test_clone(client: httpx.AsyncClient, app_name: str) -> None:
    sid = await _world(client, app_name)
    sent = [await send(client, app_name, "ada", sid, f"m{i}", True) for i in range(3)]
    copy = shaped(expect(await client.get(sessions_url(app_name, "ada", sid, "clone"),
                                          params={"message_id": sent[1]["id"], "deep_copy": "false"}), 200),
                  SESSION_KEYS)
    assert copy["id"] != sid and copy["metadata"] == {"topic": "trip"} and copy["user_id"] == "ada"
    copied = await page(client, messages_url(app_name, "ada", copy["id"], "list"))
    assert [m["content"] for m in copied["items"]] == ["m0", "m1"]
    whole = expect(await client.get(sessions_url(app_name, "ada", sid, "clone")), 200)
    assert len((await page(client, messages_url(app_name, "ada", whole["id"], "list")))["items"]) == 3
    expect(await client.get(sessions_url(app_name, "ada", sid, "clone"), params={"message_id": "nope"}), 404)
