"""Scenarios 14-16 of docs/v1-api.md §4.2: one memory behind both APIs. What a v1 SDK writes, v3 reads (raw HTTP on
the same live server); what v3 writes, the v1 SDKs read; deleting through either cascades to both. (The worker's
derivation from v1 messages is in test_memory_chat.py, on the reasoning server.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from v1_helpers import V1, V1Error, eventually, unique

pytestmark = pytest.mark.sdk


def _ok(r: httpx.Response, *statuses: int) -> Any:
    assert r.status_code in (statuses or (200,)), f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


def _v3_messages(v3: httpx.Client, app_id: str, session_id: str) -> list[dict[str, Any]]:
    return _ok(v3.post(f"/v3/workspaces/{app_id}/sessions/{session_id}/messages/list", json={}))["items"]


def _v3_members(v3: httpx.Client, app_id: str, session_id: str) -> list[str]:
    return [p["id"] for p in _ok(v3.get(f"/v3/workspaces/{app_id}/sessions/{session_id}/peers"))["items"]]


def _gone(call: Any) -> bool:
    try:
        call()
    except V1Error as e:
        return e.type == "NotFoundError"
    return False


def _meta(v1: V1, app_id: str, user_id: str, session_id: str, message_id: str) -> Any:
    if v1.v019:
        return v1.call("apps.users.sessions.metamessages.create", session_id, app_id=app_id, user_id=user_id,
                       content="meta", message_id=message_id, metamessage_type="note")
    return v1.call("apps.users.metamessages.create", user_id, app_id=app_id, content="meta",
                   metamessage_type="note", message_id=message_id)


def _user_metas(v1: V1, app_id: str, user_id: str) -> list[str]:
    return [m.id for m in v1.call("apps.users.metamessages.list", user_id, app_id=app_id)["items"]]


# --------------------------------------------------------------------------------------------------
# 14. v1 -> v3
# --------------------------------------------------------------------------------------------------
def test_what_v1_writes_v3_reads(v1: V1, v3: httpx.Client) -> None:
    app = v1.new_app(metadata={"from": "v1"})
    user = v1.new_user(app.id, metadata={"tier": "gold"})
    session = v1.new_session(app.id, user.id, metadata={"topic": "tea"})
    hello = v1.say(app.id, user.id, session.id, "I brew oolong every morning")
    reply = v1.say(app.id, user.id, session.id, "Oolong is a fine choice", is_user=False)
    assert _ok(v3.post("/v3/workspaces", json={"id": app.id}))["metadata"] == {"from": "v1"}
    assert _ok(v3.post(f"/v3/workspaces/{app.id}/peers", json={"id": user.id}))["metadata"] == {"tier": "gold"}
    members = _v3_members(v3, app.id, session.id)
    assistant = next(m for m in members if m != user.id)
    assert sorted(members) == sorted([user.id, assistant]) and assistant.startswith("assistant")
    messages = _v3_messages(v3, app.id, session.id)
    assert [(m["id"], m["peer_id"], m["content"]) for m in messages] == [
        (hello.id, user.id, hello.content), (reply.id, assistant, reply.content)]
    session_v3 = _ok(v3.post(f"/v3/workspaces/{app.id}/sessions", json={"id": session.id}))
    assert session_v3["metadata"] == {"topic": "tea"}

    def found() -> bool:
        hits = _ok(v3.post(f"/v3/workspaces/{app.id}/sessions/{session.id}/search", json={"query": "oolong"}))
        return hello.id in [h["id"] for h in hits]

    eventually(found, what="v3 search finding a v1 message")


# --------------------------------------------------------------------------------------------------
# 15. v3 -> v1
# --------------------------------------------------------------------------------------------------
def test_what_v3_writes_v1_reads(v1: V1, v3: httpx.Client) -> None:
    ws = unique("v3ws")
    _ok(v3.post("/v3/workspaces", json={"id": ws, "metadata": {"made": "v3"}}), 201)
    for peer in ("alice", "carol", "assistant"):
        _ok(v3.post(f"/v3/workspaces/{ws}/peers", json={"id": peer}), 201)
    _ok(v3.post(f"/v3/workspaces/{ws}/sessions", json={"id": "s1", "peers": {"alice": {}, "carol": {},
                                                                               "assistant": {}}}), 201)
    made = _ok(v3.post(f"/v3/workspaces/{ws}/sessions/s1/messages", json={"messages": [
        {"peer_id": "alice", "content": "hi all"}, {"peer_id": "assistant", "content": "hello"},
        {"peer_id": "carol", "content": "hey"}]}), 201)
    assert v1.get_app(ws).metadata == {"made": "v3"}
    for who in ("alice", "carol"):
        assert [s.id for s in v1.call("apps.users.sessions.list", who, app_id=ws)["items"]] == ["s1"]
        assert v1.get_session(ws, who, "s1").user_id == who
        listed = v1.call("apps.users.sessions.messages.list", "s1", app_id=ws, user_id=who)["items"]
        assert [m.id for m in listed] == [m["id"] for m in made]
        assert [m.is_user for m in listed] == [m["peer_id"] == who for m in made]
        assert [m.get("peer_id") for m in listed] == ["alice", "assistant", "carol"]
    _ok(v3.put(f"/v3/workspaces/{ws}/peers/alice", json={"metadata": {"v3": "updated"}}))
    _ok(v3.put(f"/v3/workspaces/{ws}/sessions/s1", json={"metadata": {"v3": "session"}}))
    _ok(v3.put(f"/v3/workspaces/{ws}", json={"metadata": {"v3": "workspace"}}))
    assert v1.get_user(ws, "alice").metadata == {"v3": "updated"}
    assert v1.get_session(ws, "alice", "s1").metadata == {"v3": "session"}
    assert v1.get_app(ws).metadata == {"v3": "workspace"}


# --------------------------------------------------------------------------------------------------
# 16. Deletion across
# --------------------------------------------------------------------------------------------------
def test_a_v1_session_delete_is_a_v3_session_delete(v1: V1, v3: httpx.Client) -> None:
    app, user, session = v1.world()
    v1.say(app.id, user.id, session.id, "soon gone")
    v1.call("apps.users.sessions.delete", session.id, app_id=app.id, user_id=user.id)
    members = v3.get(f"/v3/workspaces/{app.id}/sessions/{session.id}/peers")  # v3: a gone session has none
    assert members.status_code == 404 or members.json()["items"] == []
    assert v3.post(f"/v3/workspaces/{app.id}/sessions/list", json={}).json()["items"] == [] or session.id not in [
        s["id"] for s in v3.post(f"/v3/workspaces/{app.id}/sessions/list", json={}).json()["items"]]
    r = v3.post(f"/v3/workspaces/{app.id}/sessions/{session.id}/messages/list", json={})
    assert r.status_code == 404 or r.json()["items"] == []


def test_a_v3_session_delete_reaches_v1(v1: V1, v3: httpx.Client) -> None:
    app, user, session = v1.world()
    message = v1.say(app.id, user.id, session.id, "soon gone")
    meta = _meta(v1, app.id, user.id, session.id, message.id)
    _ok(v3.delete(f"/v3/workspaces/{app.id}/sessions/{session.id}"), 202)
    with pytest.raises(V1Error) as e:
        v1.get_session(app.id, user.id, session.id)
    assert e.value.type == "NotFoundError"
    eventually(lambda: _gone(lambda: v1.call("apps.users.sessions.messages.get", message.id, app_id=app.id,
                                             user_id=user.id, session_id=session.id)), what="message gone")
    eventually(lambda: meta.id not in _user_metas(v1, app.id, user.id), what="metamessage gone")


def test_a_v3_message_delete_reaches_v1(v1: V1, v3: httpx.Client) -> None:
    app, user, session = v1.world()
    keep = v1.say(app.id, user.id, session.id, "stays")
    drop = v1.say(app.id, user.id, session.id, "goes")
    meta = _meta(v1, app.id, user.id, session.id, drop.id)
    kept_meta = _meta(v1, app.id, user.id, session.id, keep.id)
    _ok(v3.delete(f"/v3/workspaces/{app.id}/sessions/{session.id}/messages/{drop.id}"), 200, 202)
    eventually(lambda: _gone(lambda: v1.call("apps.users.sessions.messages.get", drop.id, app_id=app.id,
                                             user_id=user.id, session_id=session.id)), what="message gone")
    eventually(lambda: _user_metas(v1, app.id, user.id) == [kept_meta.id], what="only the kept metamessage")
    assert meta.id not in _user_metas(v1, app.id, user.id)
    listed = v1.call("apps.users.sessions.messages.list", session.id, app_id=app.id, user_id=user.id)["items"]
    assert [m.id for m in listed] == [keep.id]


def test_a_v3_workspace_delete_reaches_v1(v1: V1, v3: httpx.Client) -> None:
    app, user, session = v1.world()
    collection = v1.call("apps.users.collections.create", user.id, app_id=app.id, name=unique("c"))
    v1.call("apps.users.collections.documents.create", collection.id, app_id=app.id, user_id=user.id,
            content="a fact")
    _ok(v3.delete(f"/v3/workspaces/{app.id}/sessions/{session.id}"), 202)

    def workspace_deleted() -> bool:
        return v3.delete(f"/v3/workspaces/{app.id}").status_code in (200, 202, 204)

    eventually(workspace_deleted, what="v3 workspace delete accepted (once its sessions are purged)")
    eventually(lambda: _gone(lambda: v1.get_app(app.id)), what="app gone")
    assert _gone(lambda: v1.get_collection(app.id, user.id, collection.id))
    assert _gone(lambda: v1.call("apps.get_by_name", app.name))
