"""JWT authentication and authorization against a server started with auth enabled (spec 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from honcho import Peer, Session
from honcho.api_types import SessionPeerConfig
from honcho.http.exceptions import AuthenticationError
from sdk_helpers import admin_key, contents, ids, mint, unique

pytestmark = pytest.mark.sdk


@pytest.fixture
def secret(auth_server) -> str:
    return auth_server.secret


@pytest.fixture
def admin(auth_server, make_client, secret):
    """Admin client on a fresh workspace that already holds peers alice/bob and session s1 with a message."""
    h = make_client(auth_server, api_key=admin_key(secret))
    s = h.session("s1", peers=["alice", "bob"])
    s.add_messages([h.peer("alice").message("hello from alice")])
    h.session("s2", peers=["bob"])
    return h


@pytest.fixture
def http(auth_server):
    with httpx.Client(base_url=auth_server.base_url, timeout=30.0) as c:
        yield c


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_needs_no_token(http):
    assert http.get("/health").json()["status"] == "ok"


def test_no_token_is_rejected(auth_server, make_client, http):
    h = make_client(auth_server)  # no api key
    with pytest.raises(AuthenticationError):
        h.get_metadata()
    with pytest.raises(AuthenticationError):
        list(h.workspaces())
    r = http.post("/v3/workspaces", json={"id": unique("ws")})
    assert r.status_code == 401 and r.json() == {"detail": "No access token provided"}
    r = http.post("/v3/workspaces/list", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = http.post("/v3/workspaces/list", headers={"Authorization": "Bearer"})
    assert r.status_code == 401 and r.json() == {"detail": "No access token provided"}


@pytest.mark.parametrize("key_kind", ["garbage", "wrong-secret", "peer-without-workspace", "expired"])
def test_invalid_tokens_are_rejected(auth_server, make_client, secret, key_kind):
    key = {
        "garbage": "not-a-jwt",
        "wrong-secret": admin_key(secret + "-other"),
        "peer-without-workspace": mint(secret, p="alice"),
        "expired": mint(secret, ad=True, exp=int((datetime.now(UTC) - timedelta(hours=1)).timestamp())),
    }[key_kind]
    h = make_client(auth_server, api_key=key)
    with pytest.raises(AuthenticationError):
        h.get_metadata()


def test_admin_token_works_everywhere(admin, auth_server, make_client, secret):
    s = admin.session("s1")
    assert contents(s.messages()) == ["hello from alice"]
    assert set(ids(admin.peers())) == {"alice", "bob"}
    assert admin.workspace_id in list(admin.workspaces(filters={"id": admin.workspace_id}))
    admin.peer("alice").set_metadata({"by": "admin"})
    s.set_peer_configuration("bob", SessionPeerConfig(observe_others=True))
    assert s.get_peer_configuration("bob").observe_others is True
    assert admin.queue_status().total_work_units >= 0
    # and in any other workspace
    other = make_client(auth_server, api_key=admin_key(secret))
    other.set_metadata({"x": 1})
    assert other.get_metadata() == {"x": 1}


def test_workspace_token_is_confined_to_its_workspace(admin, auth_server, make_client, secret, http):
    ws = admin.workspace_id
    key = mint(secret, w=ws)
    h = make_client(auth_server, workspace_id=ws, api_key=key)
    h.set_metadata({"by": "ws-token"})
    assert h.get_metadata() == {"by": "ws-token"}
    assert set(ids(h.peers())) == {"alice", "bob"}
    assert set(ids(h.sessions())) == {"s1", "s2"}
    s = h.session("s1")
    s.add_messages(h.peer("carol").message("carol was here"))
    assert contents(s.messages()) == ["hello from alice", "carol was here"]
    h.peer("alice").set_metadata({"by": "ws-token"})

    # listing workspaces is admin-only
    with pytest.raises(AuthenticationError):
        list(h.workspaces())

    # another workspace (existing or not) is out of reach
    other_ws = make_client(auth_server, api_key=admin_key(secret))
    other_ws.set_metadata({"secret": True})
    intruder = make_client(auth_server, workspace_id=other_ws.workspace_id, api_key=key)
    with pytest.raises(AuthenticationError):
        intruder.get_metadata()
    with pytest.raises(AuthenticationError):
        make_client(auth_server, workspace_id=unique("new"), api_key=key).peer("x")
    # routes of the other workspace directly (the SDK would stop at its implicit workspace call)
    other = other_ws.workspace_id
    assert http.post(f"/v3/workspaces/{other}/peers/list", headers=_bearer(key)).status_code == 401
    assert http.put(f"/v3/workspaces/{other}", json={"metadata": {"secret": False}},
                    headers=_bearer(key)).status_code == 401
    assert http.get(f"/v3/workspaces/{other}/queue/status", headers=_bearer(key)).status_code == 401
    assert other_ws.get_metadata() == {"secret": True}


def test_peer_token_acts_only_as_its_peer(admin, auth_server, make_client, secret):
    ws = admin.workspace_id
    h = make_client(auth_server, workspace_id=ws, api_key=mint(secret, w=ws, p="alice"))

    alice = h.peer("alice")  # get-or-create of its own peer
    alice.set_metadata({"mood": "curious"})
    assert alice.get_metadata() == {"mood": "curious"}
    assert ids(alice.sessions()) == ["s1"]

    with pytest.raises(AuthenticationError):
        h.peer("bob")
    with pytest.raises(AuthenticationError):
        Peer("bob", h).set_metadata({"hacked": True})
    with pytest.raises(AuthenticationError):
        list(Peer("bob", h).sessions())
    with pytest.raises(AuthenticationError):
        list(h.peers())  # workspace-level route
    with pytest.raises(AuthenticationError):
        list(h.sessions())

    # member reads in a session alice belongs to; writes need a session/workspace key
    s1 = Session("s1", h)
    assert contents(s1.messages()) == ["hello from alice"]
    assert set(ids(s1.peers())) == {"alice", "bob"}
    assert s1.get_peer_configuration("alice") is not None
    with pytest.raises(AuthenticationError):
        s1.get_peer_configuration("bob")  # only its own config
    with pytest.raises(AuthenticationError):
        s1.add_messages(alice.message("written with a peer key"))
    # not a member of s2
    with pytest.raises(AuthenticationError):
        list(Session("s2", h).messages())

    # a peer key may create a new session (spec 7.2), but not join or change one it is not in (README)
    h.session("alice-made-this")
    assert "alice-made-this" in ids(admin.sessions())
    with pytest.raises(AuthenticationError):
        h.session("s2", peers=["alice"])
    assert set(ids(admin.session("s2").peers())) == {"bob"}

    assert admin.peer("bob").get_metadata() == {}
    assert contents(admin.session("s1").messages()) == ["hello from alice"]

    # member reads need an *active* membership
    admin.session("s1").remove_peers("alice")
    with pytest.raises(AuthenticationError):
        list(s1.messages())
    with pytest.raises(AuthenticationError):
        s1.peers()


def test_session_token_is_limited_to_its_session(admin, auth_server, make_client, secret):
    ws = admin.workspace_id
    h = make_client(auth_server, workspace_id=ws, api_key=mint(secret, w=ws, s="s1"))

    s1 = h.session("s1")
    s1.add_messages(Peer("bob", h).message("bob via session key"))
    assert contents(s1.messages()) == ["hello from alice", "bob via session key"]
    s1.set_metadata({"by": "session-token"})
    assert s1.get_metadata() == {"by": "session-token"}
    assert set(ids(s1.peers())) == {"alice", "bob"}
    assert s1.context().messages[-1].content == "bob via session key"

    with pytest.raises(AuthenticationError):
        h.session("s2")
    with pytest.raises(AuthenticationError):
        list(Session("s2", h).messages())
    with pytest.raises(AuthenticationError):
        Session("s2", h).add_messages(Peer("bob", h).message("nope"))
    with pytest.raises(AuthenticationError):
        list(h.peers())
    with pytest.raises(AuthenticationError):
        h.session("s3")  # cannot create other sessions either
    # existing peers can be fetched; a session key creates no new peer (README, Authentication)
    assert h.peer("alice").id == "alice"
    with pytest.raises(AuthenticationError):
        h.peer("zed")
    assert set(ids(admin.peers())) == {"alice", "bob"}
    assert set(ids(admin.sessions())) == {"s1", "s2"}


def test_keys_endpoint_mints_usable_keys(admin, auth_server, make_client, secret, http):
    ws = admin.workspace_id
    admin_headers = _bearer(admin_key(secret))

    r = http.post("/v3/keys", params={"workspace_id": ws}, headers=admin_headers)
    assert r.status_code == 200, r.text
    ws_key = r.json()["key"]
    h = make_client(auth_server, workspace_id=ws, api_key=ws_key)
    assert set(ids(h.peers())) == {"alice", "bob"}
    with pytest.raises(AuthenticationError):
        make_client(auth_server, api_key=ws_key).get_metadata()

    r = http.post("/v3/keys", params={"workspace_id": ws, "peer_id": "alice"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    peer_h = make_client(auth_server, workspace_id=ws, api_key=r.json()["key"])
    peer_h.peer("alice").set_metadata({"via": "minted key"})
    with pytest.raises(AuthenticationError):
        Peer("bob", peer_h).set_metadata({"via": "minted key"})
    assert admin.peer("alice").get_metadata() == {"via": "minted key"}

    r = http.post("/v3/keys", params={"workspace_id": ws, "session_id": "s2"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    sess_h = make_client(auth_server, workspace_id=ws, api_key=r.json()["key"])
    assert contents(Session("s2", sess_h).messages()) == []
    with pytest.raises(AuthenticationError):
        list(Session("s1", sess_h).messages())

    # only admins may mint keys
    r = http.post("/v3/keys", params={"workspace_id": ws}, headers=_bearer(ws_key))
    assert r.status_code == 401
    r = http.post("/v3/keys", params={"workspace_id": ws})
    assert r.status_code == 401

    # argument validation
    assert http.post("/v3/keys", headers=admin_headers).status_code == 422
    assert http.post("/v3/keys", params={"peer_id": "alice"}, headers=admin_headers).status_code == 422
    assert http.post("/v3/keys", params={"session_id": "s1"}, headers=admin_headers).status_code == 422


def test_keys_with_expiry(admin, auth_server, make_client, secret, http):
    """Keys minted with expires_at carry an ISO-string exp; the server must honour it (spec 13.1, 17.2)."""
    ws = admin.workspace_id
    headers = _bearer(admin_key(secret))
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = http.post("/v3/keys", params={"workspace_id": ws, "expires_at": future}, headers=headers)
    assert r.status_code == 200, r.text
    assert set(ids(make_client(auth_server, workspace_id=ws, api_key=r.json()["key"]).peers())) == {
        "alice", "bob"}

    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = http.post("/v3/keys", params={"workspace_id": ws, "expires_at": past}, headers=headers)
    if r.status_code == 200:  # minting an already-expired key may be refused; if not, it must not work
        with pytest.raises(AuthenticationError):
            make_client(auth_server, workspace_id=ws, api_key=r.json()["key"]).get_metadata()
    else:
        assert r.status_code == 422

    # a hand-minted token with an ISO-string exp in the past is rejected too
    iso_expired = mint(secret, w=ws, exp=past)
    with pytest.raises(AuthenticationError):
        make_client(auth_server, workspace_id=ws, api_key=iso_expired).get_metadata()
    iso_valid = mint(secret, w=ws, exp=future)
    assert make_client(auth_server, workspace_id=ws, api_key=iso_valid).get_metadata() == {}


def test_empty_string_claims_are_absent(admin, auth_server, make_client, secret):
    """Spec 13.1: empty ``w``/``p``/``s`` claims are treated as absent."""
    ws = admin.workspace_id
    h = make_client(auth_server, workspace_id=ws, api_key=mint(secret, w=ws, p="", s="", ad=False))
    assert set(ids(h.peers())) == {"alice", "bob"}  # a plain workspace key
    with pytest.raises(AuthenticationError):
        make_client(auth_server, api_key=mint(secret, w="", ad=False)).get_metadata()


def test_session_token_can_upload_and_read_context(admin, auth_server, make_client, secret):
    ws = admin.workspace_id
    h = make_client(auth_server, workspace_id=ws, api_key=mint(secret, w=ws, s="s2"))
    s2 = Session("s2", h)
    [m] = s2.upload_file(("n.txt", b"uploaded with a session key", "text/plain"), peer="bob")
    assert s2.get_message(m.id).content == "uploaded with a session key"
    assert contents(s2.context().messages) == ["uploaded with a session key"]
    assert s2.summaries().short_summary is None
    with pytest.raises(AuthenticationError):
        s2.queue_status()  # queue status is a workspace-level route (spec 5.6: ws)
    with pytest.raises(AuthenticationError):
        Session("s1", h).upload_file(("n.txt", b"nope", "text/plain"), peer="bob")
