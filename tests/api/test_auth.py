"""Authentication and authorization (spec §13, §10.C) on an app with JWT auth enabled.

Data is seeded through the auth-less `client` (same database); the checks go through `auth_client`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_helpers import (
    add_messages,
    bearer,
    create_session,
    expect,
    messages_url,
    msg,
    session_url,
    sign,
    ws_url,
)

NOT_PERMITTED = {"detail": "JWT not permissioned for this resource"}
ADMIN = bearer(sign(t="", ad=True))


def _detail(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    return response.json()["detail"]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, ws: str) -> dict[str, str]:
    """Session `s1` with members alice and bob (bob has left), session `s2` with carol; one message each."""
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {}})
    s1 = await add_messages(client, ws, "s1", [msg("alice", "hi")])
    expect(await client.request("DELETE", session_url(ws, "s1", "peers"), json=["bob"]), 200)
    s2 = await add_messages(client, ws, "s2", [msg("carol", "yo")])
    return {"s1": s1[0]["id"], "s2": s2[0]["id"]}


async def test_missing_or_malformed_token_is_401(auth_client: httpx.AsyncClient, ws: str) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = await auth_client.post(ws_url(ws, "peers", "list"), headers=headers)
        assert _detail(response) == "No access token provided"


async def test_invalid_token_is_401(auth_client: httpx.AsyncClient, ws: str) -> None:
    import jwt

    forged = jwt.encode({"ad": True}, "another-secret-of-sufficient-length!!", algorithm="HS256")
    for token in ("not-a-jwt", forged):
        response = await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(token))
        assert _detail(response) == "Invalid JWT"
    orphan = sign(p="alice")
    assert _detail(await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(orphan))) == (
        "Invalid JWT scope: peer/session token missing workspace"
    )


async def test_expired_tokens(auth_client: httpx.AsyncClient, ws: str) -> None:
    past, future = "2001-01-01T00:00:00Z", (datetime.now(UTC) + timedelta(days=1)).isoformat()
    url = ws_url(ws, "peers", "list")
    assert _detail(await auth_client.post(url, headers=bearer(sign(w=ws, exp=past)))) == "JWT expired"
    assert _detail(await auth_client.post(url, headers=bearer(sign(w=ws, exp=978307200)))) == "JWT expired"
    expect(await auth_client.post(url, headers=bearer(sign(w=ws, exp=future))), 200)


async def test_admin_can_do_everything(auth_client: httpx.AsyncClient, ws: str, seeded: dict) -> None:
    expect(await auth_client.post("/v3/workspaces/list", headers=ADMIN), 200)
    expect(await auth_client.post("/v3/workspaces", json={"id": ws}, headers=ADMIN), 200)
    expect(
        await auth_client.post(messages_url(ws, "s1"), json={"messages": [msg("alice", "x")]}, headers=ADMIN),
        201,
    )
    expect(await auth_client.post(messages_url(ws, "s2", "list"), headers=ADMIN), 200)
    expect(await auth_client.get(ws_url(ws, "queue", "status"), headers=ADMIN), 200)


async def test_workspace_token(auth_client: httpx.AsyncClient, ws: str, seeded: dict) -> None:
    own = bearer(sign(w=ws))
    expect(await auth_client.post("/v3/workspaces", json={"id": ws}, headers=own), 200)
    expect(await auth_client.put(ws_url(ws), json={}, headers=own), 200)
    expect(await auth_client.post(ws_url(ws, "peers", "list"), headers=own), 200)
    expect(
        await auth_client.post(messages_url(ws, "s1"), json={"messages": [msg("dan", "x")]}, headers=own), 201
    )
    expect(await auth_client.get(messages_url(ws, "s2", seeded["s2"]), headers=own), 200)

    other = "other-" + ws
    assert (await auth_client.post(ws_url(other, "peers", "list"), headers=own)).json() == NOT_PERMITTED
    assert _detail(await auth_client.delete(ws_url(other), headers=own)) == NOT_PERMITTED["detail"]
    response = await auth_client.post("/v3/workspaces", json={"id": other}, headers=own)
    assert _detail(response) == "Unauthorized access to resource"
    response = await auth_client.post(ws_url(other, "sessions"), json={"id": "s"}, headers=own)
    assert _detail(response) == "Unauthorized access to resource"


async def test_listing_workspaces_needs_admin(auth_client: httpx.AsyncClient, ws: str) -> None:
    for token in (sign(w=ws), sign(w=ws, p="alice"), sign(w=ws, s="s1")):
        response = await auth_client.post("/v3/workspaces/list", headers=bearer(token))
        assert _detail(response) == "Resource requires admin privileges"


async def test_peer_token_on_its_own_peer(auth_client: httpx.AsyncClient, ws: str, seeded: dict) -> None:
    alice = bearer(sign(w=ws, p="alice"))
    expect(
        await auth_client.put(ws_url(ws, "peers", "alice"), json={"metadata": {"x": 1}}, headers=alice), 200
    )
    expect(await auth_client.post(ws_url(ws, "peers", "alice", "sessions"), headers=alice), 200)
    expect(await auth_client.post(ws_url(ws, "peers"), json={"id": "alice"}, headers=alice), 200)
    assert (
        _detail(await auth_client.put(ws_url(ws, "peers", "carol"), json={}, headers=alice))
        == (NOT_PERMITTED["detail"])
    )
    response = await auth_client.post(ws_url(ws, "peers"), json={"id": "carol"}, headers=alice)
    assert _detail(response) == "Unauthorized access to resource"
    assert (
        _detail(await auth_client.post(ws_url(ws, "peers", "list"), headers=alice)) == NOT_PERMITTED["detail"]
    )


MEMBER_READS = [
    ("POST", "messages/list"),
    ("GET", "messages/{message}"),
    ("GET", "peers"),
    ("GET", "context"),
    ("GET", "summaries"),
]


async def _member_read(
    client: httpx.AsyncClient, ws: str, session: str, message: str, token: str
) -> list[int]:
    statuses = []
    for method, path in MEMBER_READS:
        url = session_url(ws, session, path.format(message=message))
        statuses.append((await client.request(method, url, headers=bearer(token))).status_code)
    return statuses


async def test_peer_token_reads_sessions_it_is_an_active_member_of(
    auth_client: httpx.AsyncClient,
    ws: str,
    seeded: dict,
) -> None:
    alice, bob = sign(w=ws, p="alice"), sign(w=ws, p="bob")
    assert await _member_read(auth_client, ws, "s1", seeded["s1"], alice) == [200] * len(MEMBER_READS)
    assert await _member_read(auth_client, ws, "s2", seeded["s2"], alice) == [401] * len(MEMBER_READS)
    assert await _member_read(auth_client, ws, "s1", seeded["s1"], bob) == [401] * len(
        MEMBER_READS
    )  # has left

    config = session_url(ws, "s1", "peers", "{}", "config").format
    expect(await auth_client.get(config("alice"), headers=bearer(alice)), 200)
    assert _detail(await auth_client.get(config("bob"), headers=bearer(alice))) == NOT_PERMITTED["detail"]


async def test_peer_token_cannot_write_to_sessions(
    auth_client: httpx.AsyncClient, ws: str, seeded: dict
) -> None:
    alice = bearer(sign(w=ws, p="alice"))
    writes = [
        ("POST", messages_url(ws, "s1"), {"messages": [msg("alice", "x")]}),
        ("PUT", messages_url(ws, "s1", seeded["s1"]), {"metadata": {}}),
        ("PUT", session_url(ws, "s1"), {}),
        ("POST", session_url(ws, "s1", "peers"), {"alice": {}}),
        ("PUT", session_url(ws, "s1", "peers", "alice", "config"), {}),
        ("DELETE", session_url(ws, "s1"), None),
    ]
    for method, url, body in writes:
        response = await auth_client.request(method, url, json=body, headers=alice)
        assert _detail(response) == NOT_PERMITTED["detail"], (method, url)
    response = await auth_client.post(
        ws_url(ws, "sessions"), json={"id": "s1", "scopes": ["x"]}, headers=alice
    )
    assert _detail(response) == "Scope membership requires a workspace-level key"


async def test_session_token_only_reaches_its_session(
    auth_client: httpx.AsyncClient, ws: str, seeded: dict
) -> None:
    token = bearer(sign(w=ws, s="s1"))
    expect(await auth_client.post(messages_url(ws, "s1", "list"), headers=token), 200)
    expect(
        await auth_client.post(messages_url(ws, "s1"), json={"messages": [msg("alice", "x")]}, headers=token),
        201,
    )
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s1"}, headers=token), 200)
    expect(await auth_client.put(session_url(ws, "s1"), json={}, headers=token), 200)

    assert (
        _detail(await auth_client.post(messages_url(ws, "s2", "list"), headers=token))
        == NOT_PERMITTED["detail"]
    )
    for url in (ws_url(ws, "peers", "list"), ws_url(ws, "sessions", "list")):
        assert _detail(await auth_client.post(url, headers=token)) == NOT_PERMITTED["detail"]
    response = await auth_client.post(ws_url(ws, "sessions"), json={"id": "s2"}, headers=token)
    assert _detail(response) == "Unauthorized access to resource"


async def test_keys_are_minted_by_admins(auth_client: httpx.AsyncClient, ws: str, seeded: dict) -> None:
    key = expect(await auth_client.post("/v3/keys", params={"workspace_id": ws}, headers=ADMIN), 200)
    assert set(key) == {"key"}
    expect(await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(key["key"])), 200)

    peer_key = expect(
        await auth_client.post("/v3/keys", params={"workspace_id": ws, "peer_id": "alice"}, headers=ADMIN),
        200,
    )["key"]
    expect(await auth_client.post(messages_url(ws, "s1", "list"), headers=bearer(peer_key)), 200)
    assert (
        _detail(await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(peer_key)))
        == (NOT_PERMITTED["detail"])
    )

    # A key that would be expired from the start is refused; an expired one is refused at use.
    refused = await auth_client.post("/v3/keys", params={"workspace_id": ws, "expires_at": "2001-01-01"},
                                     headers=ADMIN)
    assert expect(refused, 422) == {"detail": "expires_at must be in the future"}
    expired = sign(w=ws, exp=978307200)
    assert (
        _detail(await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(expired))) == "JWT expired"
    )
    for exp in (float("inf"), float("nan")):  # "exp":Infinity is not a key that never expires
        never = sign(w=ws, exp=exp)
        response = await auth_client.post(ws_url(ws, "peers", "list"), headers=bearer(never))
        assert (response.status_code, _detail(response)) == (401, "Invalid JWT")


async def test_key_minting_errors(client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str) -> None:
    body = expect(await auth_client.post("/v3/keys", params={"peer_id": "alice"}, headers=ADMIN), 422)
    assert body == {"detail": "workspace_id is required when scoping a key to a peer or session"}
    body = expect(await auth_client.post("/v3/keys", headers=ADMIN), 422)
    assert body == {"detail": "At least one of workspace_id, peer_id, or session_id must be provided"}
    response = await auth_client.post("/v3/keys", params={"workspace_id": ws}, headers=bearer(sign(w=ws)))
    assert _detail(response) == "Resource requires admin privileges"
    assert expect(await client.post("/v3/keys", params={"workspace_id": ws}), 405) == {
        "detail": "Feature is disabled"
    }


async def test_auth_disabled_treats_everyone_as_admin(client: httpx.AsyncClient, ws: str) -> None:
    expect(await client.post("/v3/workspaces/list", headers=bearer("garbage")), 200)
    expect(await client.post(ws_url(ws, "peers", "list"), headers=bearer(sign(w="elsewhere"))), 200)


async def test_health_needs_no_token(auth_client: httpx.AsyncClient) -> None:
    expect(await auth_client.get("/health"), 200)
