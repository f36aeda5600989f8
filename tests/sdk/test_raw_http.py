"""Wire-level checks the SDK cannot express: malformed bodies, wrong types, empty bodies, status codes.

Everything here uses plain httpx against the no-auth server. No request may ever produce a 5xx.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from sdk_helpers import unique

pytestmark = pytest.mark.sdk

JSON = {"Content-Type": "application/json"}
PAGE_KEYS = {"items", "total", "page", "size", "pages"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def call(client: httpx.Client, method: str, url: str, **kw) -> httpx.Response:
    r = client.request(method, url, **kw)
    assert r.status_code < 500, f"{method} {url} -> {r.status_code} {r.text[:500]}"
    return r


def expect_422_list(r: httpx.Response) -> list:
    assert r.status_code == 422, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:500]}"
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), list) and body["detail"], body
    for err in body["detail"]:
        assert {"type", "loc", "msg"} <= set(err), err
    return body["detail"]


def expect_detail(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:500]}"
    body = r.json()
    assert isinstance(body, dict) and "detail" in body, body
    return body["detail"]


@pytest.fixture
def ws(raw: httpx.Client) -> str:
    w = unique("rawws")
    r = call(raw, "POST", "/v3/workspaces", json={"id": w})
    assert r.status_code == 201, r.text
    return w


def _peer_ids(raw, ws) -> list[str]:
    r = call(raw, "POST", f"/v3/workspaces/{ws}/peers/list")
    assert r.status_code == 200
    return [p["id"] for p in r.json()["items"]]


def _message_count(raw, ws, sid) -> int:
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/{sid}/messages/list", json={})
    assert r.status_code == 200
    return r.json()["total"]


# ----------------------------------------------------------------------------------------------
# Response shapes and create statuses
# ----------------------------------------------------------------------------------------------
def test_create_statuses_and_shapes(raw):
    w = unique("rawws")
    r1 = call(raw, "POST", "/v3/workspaces", json={"id": w})
    assert r1.status_code == 201
    body = r1.json()
    assert {"id", "metadata", "configuration", "created_at"} <= set(body)
    assert body["id"] == w and body["metadata"] == {} and body["configuration"] == {}
    assert ISO_Z.match(body["created_at"]), body["created_at"]
    assert call(raw, "POST", "/v3/workspaces", json={"id": w}).status_code == 200

    r = call(raw, "POST", f"/v3/workspaces/{w}/peers", json={"id": "alice", "metadata": {"a": 1}})
    assert r.status_code == 201
    peer = r.json()
    assert {"id", "workspace_id", "created_at", "metadata", "configuration"} <= set(peer)
    assert peer["workspace_id"] == w and ISO_Z.match(peer["created_at"])
    assert set(peer["configuration"]) <= {"observe_me"}
    assert call(raw, "POST", f"/v3/workspaces/{w}/peers", json={"id": "alice"}).status_code == 200

    r = call(raw, "POST", f"/v3/workspaces/{w}/sessions", json={"id": "s1"})
    assert r.status_code == 201
    sess = r.json()
    assert {"id", "is_active", "workspace_id", "metadata", "configuration", "created_at"} <= set(sess)
    assert sess["is_active"] is True and ISO_Z.match(sess["created_at"])
    assert call(raw, "POST", f"/v3/workspaces/{w}/sessions", json={"id": "s1"}).status_code == 200

    r = call(raw, "POST", f"/v3/workspaces/{w}/sessions/s1/messages",
             json={"messages": [{"peer_id": "alice", "content": "hi", "created_at": "2024-01-01T00:00:00Z"}]})
    assert r.status_code == 201
    [msg] = r.json()
    assert {"id", "content", "peer_id", "session_id", "metadata", "created_at", "workspace_id",
            "token_count"} <= set(msg)
    assert len(msg["id"]) == 21 and re.fullmatch(r"[A-Za-z0-9_-]+", msg["id"])
    assert msg["created_at"] == "2024-01-01T00:00:00Z"

    r = call(raw, "POST", f"/v3/workspaces/{w}/peers/list")
    assert r.status_code == 200
    page = r.json()
    assert set(page) >= PAGE_KEYS
    assert (page["total"], page["page"], page["size"], page["pages"]) == (1, 1, 50, 1)


def test_messages_route_accepts_trailing_slash(raw, ws):
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages/",
             json={"messages": [{"peer_id": "alice", "content": "hi"}]})
    assert r.status_code == 201, r.text
    assert _message_count(raw, ws, "s1") == 1


def test_empty_page_shape(raw, ws):
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/list")
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0, "page": 1, "size": 50, "pages": 0}
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/list?page=4&size=10")
    assert r.json()["items"] == [] and r.json()["page"] == 4


# ----------------------------------------------------------------------------------------------
# Malformed and mistyped input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b'{"id": ', b"{not json}", b"[1, 2"], ids=["truncated", "garbage", "unclosed"])
def test_malformed_json_is_422(raw, ws, body):
    expect_422_list(call(raw, "POST", "/v3/workspaces", content=body, headers=JSON))
    expect_422_list(call(raw, "POST", f"/v3/workspaces/{ws}/peers", content=body, headers=JSON))
    expect_422_list(call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages", content=body, headers=JSON))
    expect_422_list(call(raw, "POST", f"/v3/workspaces/{ws}/peers/list", content=body, headers=JSON))
    expect_422_list(call(raw, "PUT", f"/v3/workspaces/{ws}", content=body, headers=JSON))
    assert _peer_ids(raw, ws) == []
    assert call(raw, "POST", f"/v3/workspaces/{ws}/sessions/list").json()["total"] == 0


def _case(case_id: str, path: str, body) -> object:
    return pytest.param(path, body, id=case_id)


@pytest.mark.parametrize(("path", "body"), [
    _case("ws-id-int", "/v3/workspaces", {"id": 123}),
    _case("ws-id-empty", "/v3/workspaces", {"id": ""}),
    _case("ws-id-missing", "/v3/workspaces", {}),
    _case("ws-metadata-str", "/v3/workspaces", {"id": "ok-id", "metadata": "not an object"}),
    _case("ws-metadata-list", "/v3/workspaces", {"id": "ok-id", "metadata": ["list"]}),
    _case("ws-config-type", "/v3/workspaces",
          {"id": "ok-id", "configuration": {"summary": {"messages_per_short_summary": "many"}}}),
    _case("peer-id-list", "/v3/workspaces/{ws}/peers", {"id": ["alice"]}),
    _case("peer-metadata-int", "/v3/workspaces/{ws}/peers", {"id": "alice", "metadata": 5}),
    _case("peer-config-type", "/v3/workspaces/{ws}/peers", {"id": "alice", "configuration": {"observe_me": "perhaps"}}),
    _case("session-peers-list", "/v3/workspaces/{ws}/sessions", {"id": "s", "peers": ["alice"]}),
    _case("session-peer-config-type", "/v3/workspaces/{ws}/sessions",
          {"id": "s", "peers": {"alice": {"observe_others": "yes please"}}}),
    _case("session-config-type", "/v3/workspaces/{ws}/sessions",
          {"id": "s", "configuration": {"reasoning": {"enabled": "maybe"}}}),
    _case("messages-str", "/v3/workspaces/{ws}/sessions/s/messages", {"messages": "hello"}),
    _case("message-no-content", "/v3/workspaces/{ws}/sessions/s/messages", {"messages": [{"peer_id": "alice"}]}),
    _case("message-content-int", "/v3/workspaces/{ws}/sessions/s/messages",
          {"messages": [{"peer_id": "alice", "content": 5}]}),
    _case("message-no-author", "/v3/workspaces/{ws}/sessions/s/messages", {"messages": [{"content": "x"}]}),
    _case("message-bad-created_at", "/v3/workspaces/{ws}/sessions/s/messages",
          {"messages": [{"peer_id": "alice", "content": "x", "created_at": "yesterday-ish"}]}),
    _case("message-metadata-str", "/v3/workspaces/{ws}/sessions/s/messages",
          {"messages": [{"peer_id": "alice", "content": "x", "metadata": "m"}]}),
    _case("messages-empty", "/v3/workspaces/{ws}/sessions/s/messages", {"messages": []}),
    _case("messages-missing", "/v3/workspaces/{ws}/sessions/s/messages", {}),
    _case("filters-str", "/v3/workspaces/{ws}/peers/list", {"filters": "id=alice"}),
    _case("filters-list", "/v3/workspaces/{ws}/peers/list", {"filters": ["alice"]}),
    _case("filters-int", "/v3/workspaces/{ws}/sessions/list", {"filters": 3}),
])
def test_wrong_types_are_422(raw, ws, path, body):
    r = call(raw, "POST", path.format(ws=ws), json=body)
    expect_detail(r, 422)
    assert _peer_ids(raw, ws) == []
    assert call(raw, "POST", f"/v3/workspaces/{ws}/sessions/list").json()["total"] == 0
    assert call(raw, "POST", "/v3/workspaces/list", json={"filters": {"id": "ok-id"}}).json()["total"] == 0


def test_101_messages_in_one_request_is_422_and_nothing_stored(raw, ws):
    msgs = [{"peer_id": "alice", "content": f"m{i}"} for i in range(101)]
    expect_422_list(call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages", json={"messages": msgs}))
    assert _message_count(raw, ws, "s1") == 0
    assert call(raw, "POST", f"/v3/workspaces/{ws}/sessions/list").json()["total"] == 0
    assert _peer_ids(raw, ws) == []
    # exactly 100 is fine
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages", json={"messages": msgs[:100]})
    assert r.status_code == 201 and len(r.json()) == 100
    assert _message_count(raw, ws, "s1") == 100


@pytest.mark.parametrize("query", ["page=0", "size=0", "size=101", "page=abc", "size=-5", "reverse=sideways"])
def test_bad_pagination_params_are_422(raw, ws, query):
    expect_422_list(call(raw, "POST", f"/v3/workspaces/{ws}/peers/list?{query}"))


def test_metadata_limits_on_the_wire(raw, ws):
    too_many = {f"k{i}": i for i in range(101)}
    r = call(raw, "PUT", f"/v3/workspaces/{ws}", json={"metadata": too_many})
    assert r.status_code == 422
    assert call(raw, "POST", "/v3/workspaces", json={"id": ws}).json()["metadata"] == {}
    r = call(raw, "POST", f"/v3/workspaces/{ws}/peers", json={"id": "alice", "metadata": {"a": "x\u0000y"}})
    assert r.status_code == 201 and r.json()["metadata"] == {"a": "xy"}  # NUL stripped


# ----------------------------------------------------------------------------------------------
# Empty bodies (the SDK sends Content-Type: application/json on body-less POSTs)
# ----------------------------------------------------------------------------------------------
def test_empty_body_with_json_content_type_on_list_routes(raw, ws):
    call(raw, "POST", f"/v3/workspaces/{ws}/sessions", json={"id": "s1", "peers": {"alice": {}}})
    call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages",
         json={"messages": [{"peer_id": "alice", "content": "hello"}]})
    routes = ["/v3/workspaces/list", f"/v3/workspaces/{ws}/peers/list", f"/v3/workspaces/{ws}/sessions/list",
              f"/v3/workspaces/{ws}/sessions/s1/messages/list", f"/v3/workspaces/{ws}/peers/alice/sessions"]
    for route in routes:
        for body in (b"", b"null", b"{}", b'{"filters": null}', b'{"filters": {}}'):
            r = call(raw, "POST", route, content=body, headers=JSON)
            assert r.status_code == 200, f"{route} body={body!r} -> {r.status_code} {r.text[:300]}"
            assert set(r.json()) >= PAGE_KEYS
            assert r.json()["total"] >= 1, route
    # clone: a body-less POST with the JSON content type
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/clone", content=b"", headers=JSON)
    assert r.status_code == 201, r.text
    # a list call with no content type at all is fine too
    assert call(raw, "POST", f"/v3/workspaces/{ws}/peers/list").status_code == 200


def test_unknown_body_fields_are_ignored(raw, ws):
    r = call(raw, "POST", f"/v3/workspaces/{ws}/peers", json={"id": "alice", "surprise": True})
    assert r.status_code == 201
    r = call(raw, "POST", f"/v3/workspaces/{ws}/peers/list", json={"filters": None, "extra": 1})
    assert r.status_code == 200 and r.json()["total"] == 1


# ----------------------------------------------------------------------------------------------
# Routing and disabled features
# ----------------------------------------------------------------------------------------------
def test_unknown_route_and_wrong_method(raw, ws):
    assert expect_detail(call(raw, "GET", "/v3/nothing-here"), 404) == "Not Found"
    assert expect_detail(call(raw, "GET", f"/v3/workspaces/{ws}/peers/list"), 405) == "Method Not Allowed"
    assert call(raw, "GET", "/health").json()["status"] == "ok"


def test_keys_route_disabled_without_auth(raw, ws):
    r = call(raw, "POST", f"/v3/keys?workspace_id={ws}")
    assert expect_detail(r, 405) == "Feature is disabled"


def test_delete_session_peers_takes_json_array_body(raw, ws):
    call(raw, "POST", f"/v3/workspaces/{ws}/sessions", json={"id": "s1", "peers": {"alice": {}, "bob": {}}})
    r = call(raw, "DELETE", f"/v3/workspaces/{ws}/sessions/s1/peers", json=["bob"])
    assert r.status_code == 200, r.text
    items = call(raw, "GET", f"/v3/workspaces/{ws}/sessions/s1/peers").json()["items"]
    assert [p["id"] for p in items] == ["alice"]
    r = call(raw, "DELETE", f"/v3/workspaces/{ws}/sessions/s1/peers", json={"bob": {}})
    assert r.status_code == 422


# ----------------------------------------------------------------------------------------------
# Configuration written by raw clients must never break the SDK's strict parsing (spec 3.5, 17.3)
# ----------------------------------------------------------------------------------------------
def test_configuration_written_raw_stays_sdk_parseable(raw, ws, server, make_client):
    # unknown keys inside a known section: rejected or dropped, never echoed
    r = call(raw, "PUT", f"/v3/workspaces/{ws}",
             json={"configuration": {"summary": {"enabled": True, "bogus": 1}, "legacy_flag": {"x": 1}}})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["configuration"]["summary"] == {"enabled": True}
        assert r.json()["configuration"]["legacy_flag"] == {"x": 1}  # unknown top-level keys are kept
    # null sub-fields are dropped before storing
    r = call(raw, "PUT", f"/v3/workspaces/{ws}", json={"configuration": {"reasoning": {"enabled": None}}})
    assert r.status_code == 200 and r.json()["configuration"]["reasoning"] == {}
    # an empty update is a no-op
    before = call(raw, "POST", "/v3/workspaces", json={"id": ws}).json()
    r = call(raw, "PUT", f"/v3/workspaces/{ws}", json={})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("metadata", "configuration")} == {
        k: before[k] for k in ("metadata", "configuration")}

    # peer configuration: only observe_me may ever come back
    r = call(raw, "POST", f"/v3/workspaces/{ws}/peers",
             json={"id": "alice", "configuration": {"observe_me": False, "extra": 1}})
    assert r.status_code in (201, 422), r.text
    r = call(raw, "PUT", f"/v3/workspaces/{ws}/peers/bob", json={"configuration": {"observe_me": True, "x": 2}})
    assert r.status_code in (200, 422), r.text
    for p in call(raw, "POST", f"/v3/workspaces/{ws}/peers/list").json()["items"]:
        assert set(p["configuration"]) <= {"observe_me"}, p

    # and the SDK can read everything back
    h = make_client(server, workspace_id=ws)
    h.get_configuration()
    list(h.peers())
    for p in h.peers():
        p.get_configuration()


def test_update_message_with_null_metadata_is_a_no_op(raw, ws):
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages",
             json={"messages": [{"peer_id": "alice", "content": "hi", "metadata": {"k": 1}}]})
    mid = r.json()[0]["id"]
    r = call(raw, "PUT", f"/v3/workspaces/{ws}/sessions/s1/messages/{mid}", json={"metadata": None})
    assert r.status_code == 200 and r.json()["metadata"] == {"k": 1}
    r = call(raw, "PUT", f"/v3/workspaces/{ws}/sessions/s1/messages/{mid}", json={"metadata": "nope"})
    assert r.status_code == 422


def test_message_created_at_is_returned_in_utc(raw, ws):
    """Spec 1.3: response datetimes are UTC with a ``Z`` suffix, whatever offset the client sent."""
    sent = ["2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00.5Z", "2024-04-30T23:30:00-10:30"]
    expected = [datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC),
                datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)]
    r = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages",
             json={"messages": [{"peer_id": "alice", "content": str(i), "created_at": c} for i, c in enumerate(sent)]})
    assert r.status_code == 201
    listed = call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages/list").json()["items"]
    got = call(raw, "GET", f"/v3/workspaces/{ws}/sessions/s1/messages/{listed[0]['id']}").json()
    for where, stamps in (("create response", [m["created_at"] for m in r.json()]),
                          ("list", [m["created_at"] for m in listed]), ("get", [got["created_at"]])):
        assert all(ISO_Z.match(x) for x in stamps), (where, stamps)
        assert [datetime.fromisoformat(x.replace("Z", "+00:00")) for x in stamps] == expected[:len(stamps)], where


@pytest.mark.parametrize(("tokens", "status", "count"), [(0, 200, 0), (-5, 200, 0), (100_001, 422, None),
                                                         ("lots", 422, None)])
def test_context_tokens_param_on_the_wire(raw, ws, tokens, status, count):
    call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages",
         json={"messages": [{"peer_id": "alice", "content": "hello there"}]})
    r = call(raw, "GET", f"/v3/workspaces/{ws}/sessions/s1/context", params={"tokens": tokens})
    assert r.status_code == status, r.text
    if count is not None:
        body = r.json()
        assert body["id"] == "s1" and len(body["messages"]) == count and body["summary"] is None


def test_success_status_codes(raw, ws):
    """Spec 5-8: the exact 2xx codes of the write routes."""
    base = f"/v3/workspaces/{ws}"
    assert call(raw, "POST", f"{base}/sessions", json={"id": "s1"}).status_code == 201
    assert call(raw, "POST", f"{base}/sessions/s1/peers", json={"alice": {}, "bob": {}}).status_code == 200
    assert call(raw, "PUT", f"{base}/sessions/s1/peers", json={"alice": {}}).status_code == 200
    r = call(raw, "PUT", f"{base}/sessions/s1/peers/alice/config", json={"observe_others": True})
    assert r.status_code == 204 and r.content == b""
    r = call(raw, "GET", f"{base}/sessions/s1/peers/alice/config")
    assert r.status_code == 200 and r.json()["observe_others"] is True and "observe_me" in r.json()
    assert call(raw, "PUT", f"{base}/sessions/s1", json={"metadata": {"a": 1}}).status_code == 200
    assert call(raw, "PUT", f"{base}/peers/alice", json={"metadata": {"a": 1}}).status_code == 200
    r = call(raw, "POST", f"{base}/sessions/s1/clone")
    assert r.status_code == 201 and r.json()["id"] != "s1"
    clone = r.json()["id"]
    r = call(raw, "DELETE", f"{base}/sessions/{clone}")
    assert r.status_code == 202 and isinstance(r.json().get("message"), str)
    r = call(raw, "DELETE", f"{base}/sessions/s1")
    assert r.status_code == 202
    r = call(raw, "DELETE", base)
    assert r.status_code == 202 and isinstance(r.json().get("message"), str)


def test_summaries_and_context_shapes(raw, ws):
    call(raw, "POST", f"/v3/workspaces/{ws}/sessions/s1/messages",
         json={"messages": [{"peer_id": "alice", "content": "hello"}]})
    r = call(raw, "GET", f"/v3/workspaces/{ws}/sessions/s1/summaries")
    assert r.status_code == 200 and r.json() == {"id": "s1", "short_summary": None, "long_summary": None}
    r = call(raw, "GET", f"/v3/workspaces/{ws}/sessions/s1/context")
    body = r.json()
    assert r.status_code == 200 and set(body) >= {"id", "messages", "summary", "peer_representation", "peer_card"}
    assert body["summary"] is None and body["peer_representation"] is None and body["peer_card"] is None
    assert [m["content"] for m in body["messages"]] == ["hello"]
    r = call(raw, "GET", f"/v3/workspaces/{ws}/queue/status")
    assert r.status_code == 200
    q = r.json()
    assert all(type(q[k]) is int for k in ("total_work_units", "completed_work_units", "in_progress_work_units",
                                           "pending_work_units"))
