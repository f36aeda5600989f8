"""v1 keys and authorization (docs/v1-api.md §3.9): admin-minted keys in v1 terms, each working where the policy
table says and a 401 elsewhere; user keys are peer keys (they read and chat, they cannot write messages)."""

from __future__ import annotations

import httpx
from api_helpers import bearer, expect, sign
from v1_route_helpers import messages_url, sessions_url, users_url

ADMIN = bearer(sign(ad=True))


async def _key(client: httpx.AsyncClient, **params: str) -> dict[str, str]:
    body = expect(await client.post("/v1/keys", params=params, headers=ADMIN), 200)
    assert set(body) == {"key"}
    return bearer(body["key"])


async def test_minted_keys_reach_what_the_policy_says(auth_client: httpx.AsyncClient, app_name: str) -> None:
    c = auth_client
    expect(await c.post("/v1/apps", json={"name": app_name}, headers=ADMIN), 200)
    for user in ("ada", "bob"):
        expect(await c.post(users_url(app_name), json={"name": user}, headers=ADMIN), 200)
    ada_s = expect(await c.post(sessions_url(app_name, "ada"), json={}, headers=ADMIN), 200)["id"]
    bob_s = expect(await c.post(sessions_url(app_name, "bob"), json={}, headers=ADMIN), 200)["id"]
    app_key = await _key(c, app_id=app_name)
    ada = await _key(c, app_id=app_name, user_id="ada")
    session = await _key(c, app_id=app_name, session_id=ada_s)
    # the app key: everything of its app, nothing else
    assert expect(await c.get("/v1/apps", headers=app_key), 200)["id"] == app_name  # 0.2.0 get() with no id
    expect(await c.post(users_url(app_name, "list"), json={}, headers=app_key), 200)
    expect(await c.post(messages_url(app_name, "ada", ada_s), json={"content": "hi", "is_user": True},
                        headers=app_key), 200)
    expect(await c.post("/v1/apps/list", json={}, headers=app_key), 401)
    expect(await c.post("/v1/apps", json={"name": f"{app_name}-other"}, headers=app_key), 401)
    expect(await c.get(f"/v1/apps/name/{app_name}-other", headers=app_key), 401)
    # the user key: its user and its sessions, read and chat, no writes of messages
    assert expect(await c.get(users_url(app_name), headers=ada), 200)["id"] == "ada"  # 0.2.0 get() with no id
    expect(await c.get(users_url(app_name, "ada"), headers=ada), 200)
    expect(await c.get(users_url(app_name, "bob"), headers=ada), 401)
    expect(await c.get(users_url(app_name, "name", "bob"), headers=ada), 401)
    expect(await c.post(users_url(app_name), json={"name": "bob"}, headers=ada), 401)  # not a 409: no peeking
    expect(await c.post(users_url(app_name), json={"name": "ada"}, headers=ada), 409)
    expect(await c.get(users_url(app_name, "get_or_create", "ada"), headers=ada), 200)
    expect(await c.get(users_url(app_name, "get_or_create", "cy"), headers=ada), 401)
    assert [s["id"] for s in (await page_with(c, sessions_url(app_name, "ada", "list"), ada))] == [ada_s]
    expect(await c.post(sessions_url(app_name, "bob", "list"), json={}, headers=ada), 401)
    expect(await c.get(sessions_url(app_name, "ada", ada_s), headers=ada), 200)
    expect(await c.get(sessions_url(app_name, "bob", bob_s), headers=ada), 401)
    expect(await c.post(messages_url(app_name, "ada", ada_s, "list"), json={}, headers=ada), 200)
    expect(await c.post(messages_url(app_name, "ada", ada_s), json={"content": "x", "is_user": True}, headers=ada),
           401)
    expect(await c.post(sessions_url(app_name, "ada"), json={}, headers=ada), 200)
    # the session key: its session only
    got = expect(await c.get(sessions_url(app_name, "ada"), headers=session), 200)  # 0.2.0 get() with no id
    assert got["id"] == ada_s
    expect(await c.post(messages_url(app_name, "ada", ada_s), json={"content": "x", "is_user": False},
                        headers=session), 200)
    expect(await c.get(sessions_url(app_name, "bob", bob_s), headers=session), 401)
    expect(await c.get(users_url(app_name, "ada"), headers=session), 401)
    # admin-only minting; bad keys
    expect(await c.post("/v1/keys", params={"app_id": app_name}, headers=app_key), 401)
    expired = bearer(sign(w=app_name, exp=978307200))
    expect(await c.get(f"/v1/apps/{app_name}", headers=expired), 401)
    expect(await c.get(f"/v1/apps/{app_name}"), 401)


async def page_with(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    found = expect(await c.post(url, json={}, headers=headers), 200)
    return list(found["items"])


async def test_key_errors(auth_client: httpx.AsyncClient, client: httpx.AsyncClient, app_name: str) -> None:
    for params in ({"app_id": app_name, "collection_id": "c"}, {"user_id": "ada"}, {"session_id": "s"}, {},
                   {"app_id": app_name, "expires_at": "2001-01-01T00:00:00Z"}, {"app_id": app_name,
                                                                                "expires_at": "soon"}):
        expect(await auth_client.post("/v1/keys", params=params, headers=ADMIN), 422)
    future = expect(await auth_client.post("/v1/keys", params={"app_id": app_name,
                                                               "expires_at": "2100-01-01T00:00:00+00:00"},
                                           headers=ADMIN), 200)
    assert future["key"].count(".") == 2
    expect(await client.post("/v1/keys", params={"app_id": app_name}), 405)  # auth off
