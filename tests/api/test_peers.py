"""Peers (spec §6.1-6.4): get-or-create, validation, list, update, sessions of a peer."""

from __future__ import annotations

import httpx
from api_helpers import (
    assert_page,
    assert_peer,
    create_peer,
    create_session,
    expect,
    ids,
    session_url,
    ws_url,
)


async def test_get_or_create_201_then_200(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await client.post(ws_url(ws, "peers"), json={"id": "alice"}), 201)
    assert_peer(created, ws, "alice")
    assert (created["metadata"], created["configuration"]) == ({}, {})
    existing = expect(await client.post(ws_url(ws, "peers"), json={"name": "alice"}), 200)
    assert existing == created
    # The workspace was created silently.
    expect(await client.post("/v3/workspaces", json={"id": ws}), 200)


async def test_get_or_create_replaces_metadata_and_configuration_when_given(
    client: httpx.AsyncClient,
    ws: str,
) -> None:
    await create_peer(client, ws, "alice", metadata={"a": 1, "b": 2}, configuration={"observe_me": True})
    body = expect(await client.post(ws_url(ws, "peers"), json={"id": "alice", "metadata": {"c": 3}}), 200)
    assert (body["metadata"], body["configuration"]) == ({"c": 3}, {"observe_me": True})
    update = {"id": "alice", "configuration": {"observe_me": False}, "metadata": None}
    body = expect(await client.post(ws_url(ws, "peers"), json=update), 200)
    assert (body["metadata"], body["configuration"]) == ({"c": 3}, {"observe_me": False})


async def test_configuration_other_than_observe_me_is_422(client: httpx.AsyncClient, ws: str) -> None:
    for config in ({"observe_others": True}, {"observe_me": True, "x": 1}, {"observe_me": "maybe"}):
        expect(await client.post(ws_url(ws, "peers"), json={"id": "p", "configuration": config}), 422)
        expect(await client.put(ws_url(ws, "peers", "p"), json={"configuration": config}), 422)


async def test_invalid_and_reserved_names_are_422(client: httpx.AsyncClient, ws: str) -> None:
    for bad in ("", "has space", "a/b", "x" * 513, "scope.team"):
        expect(await client.post(ws_url(ws, "peers"), json={"id": bad}), 422)
    expect(await client.put(ws_url(ws, "peers", "scope.team"), json={}), 422)
    expect(await client.put(ws_url(ws, "peers", "bad name"), json={}), 422)


async def test_list_with_filters_and_kind(client: httpx.AsyncClient, ws: str) -> None:
    for i, name in enumerate(("ann", "bob", "cyd")):
        await create_peer(client, ws, name, metadata={"team": "red" if i < 2 else "blue", "n": i})
    url = ws_url(ws, "peers", "list")

    assert ids(assert_page(expect(await client.post(url), 200), total=3, page=1, size=50, pages=1)) == [
        "ann",
        "bob",
        "cyd",
    ]
    red = expect(await client.post(url, json={"filters": {"metadata": {"team": "red"}}}), 200)
    assert ids(red["items"]) == ["ann", "bob"]
    some = expect(await client.post(url, json={"filters": {"id": {"in": ["cyd", "ann"]}}}), 200)
    assert ids(some["items"]) == ["ann", "cyd"]
    numeric = expect(await client.post(url, json={"filters": {"metadata": {"n": {"gte": 1}}}}), 200)
    assert ids(numeric["items"]) == ["bob", "cyd"]
    everyone = expect(await client.post(url, json={"kind": "all"}), 200)
    assert ids(everyone["items"]) == ["ann", "bob", "cyd"]
    scopes = expect(await client.post(url, json={"kind": "scope"}), 200)
    assert assert_page(scopes, total=0, page=1, size=50, pages=0) == []
    expect(await client.post(url, json={"kind": "robots"}), 422)
    expect(await client.post(url, json={"filters": {"peer_id": "ann"}}), 422)


async def test_list_unknown_workspace_is_empty(client: httpx.AsyncClient, ws: str) -> None:
    body = expect(await client.post(ws_url(ws, "peers", "list")), 200)
    assert assert_page(body, total=0, page=1, size=50, pages=0) == []


async def test_more_than_100_peers_paginate(client: httpx.AsyncClient, ws: str) -> None:
    names = [f"p{i:03d}" for i in range(105)]
    await create_session(client, ws, "bulk", peers={n: {} for n in names})
    url = ws_url(ws, "peers", "list")
    first = expect(await client.post(url, params={"size": 100}), 200)
    assert ids(assert_page(first, total=105, page=1, size=100, pages=2)) == names[:100]
    second = expect(await client.post(url, params={"size": 100, "page": 2}), 200)
    assert ids(assert_page(second, total=105, page=2, size=100, pages=2)) == names[100:]
    default = expect(await client.post(url), 200)
    assert len(assert_page(default, total=105, page=1, size=50, pages=3)) == 50


async def test_put_upserts_and_replaces(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await client.put(ws_url(ws, "peers", "dan"), json={"metadata": {"x": 1}}), 200)
    assert_peer(created, ws, "dan")
    assert created["metadata"] == {"x": 1}
    body = expect(
        await client.put(ws_url(ws, "peers", "dan"), json={"configuration": {"observe_me": False}}), 200
    )
    assert (body["metadata"], body["configuration"]) == ({"x": 1}, {"observe_me": False})
    assert body["uid"] == created["uid"]
    body = expect(await client.put(ws_url(ws, "peers", "dan"), json={"metadata": {}}), 200)
    assert body["metadata"] == {}


async def test_sessions_of_a_peer(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}}, metadata={"k": 1})
    await create_session(client, ws, "s2", peers={"alice": {}, "bob": {}})
    await create_session(client, ws, "s3", peers={"bob": {}})
    expect(await client.request("DELETE", session_url(ws, "s2", "peers"), json=["alice"]), 200)
    url = ws_url(ws, "peers", "alice", "sessions")

    body = expect(await client.post(url), 200)
    assert ids(assert_page(body, total=2, page=1, size=50, pages=1)) == ["s1", "s2"]  # left ones included
    filtered = expect(await client.post(url, json={"filters": {"metadata": {"k": 1}}}), 200)
    assert ids(filtered["items"]) == ["s1"]
    reverse = expect(await client.post(url, params={"reverse": True}), 200)
    assert ids(reverse["items"]) == ["s2", "s1"]
    unknown = expect(await client.post(ws_url(ws, "peers", "nobody", "sessions")), 200)
    assert assert_page(unknown, total=0, page=1, size=50, pages=0) == []
