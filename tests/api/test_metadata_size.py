"""Metadata and configuration objects are bounded in size (limits.max_metadata_bytes, issue 12 D).

An oversized object is a 422 naming the limit (never 5xx: the SDK would retry it), the response does not echo it
back, and nothing of the request is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import expect, messages_url, session_url, ws_url

from honcho_server.api.app import create_app
from honcho_server.config import Settings
from honcho_server.services.deps import Deps

DEFAULT_LIMIT = 65_536
BIG = {"blob": "x" * 70_000}  # 70,011 bytes as compact JSON


async def _state(client: httpx.AsyncClient, ws: str) -> list[Any]:
    """Everything a refused request could have written in the workspace."""
    lists = [
        await client.post("/v3/workspaces/list", json={"filters": {"id": ws}}),
        await client.post(ws_url(ws, "peers", "list")),
        await client.post(ws_url(ws, "sessions", "list")),
        await client.post(messages_url(ws, "s1", "list")),
        await client.get(session_url(ws, "s1", "peers", "alice", "config")),
    ]
    return [expect(r, 200) for r in lists]


async def _seed(client: httpx.AsyncClient, ws: str) -> str:
    expect(await client.post("/v3/workspaces", json={"id": ws, "metadata": {"v": 1}}), 201)
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "s1", "peers": {"alice": {}}}), 201)
    created = expect(await client.post(messages_url(ws, "s1"), json={"messages": [
        {"peer_id": "alice", "content": "hello", "metadata": {"v": 1}}]}), 201)
    return created[0]["id"]


def _refused(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 422, f"{response.status_code}: {response.text[:500]}"
    assert str(limit) in response.text and "limits.max_metadata_bytes" in response.text
    assert len(response.content) < 4096  # the oversized object is not echoed back


CASES = {
    "workspace create metadata": ("POST", "/v3/workspaces", lambda ws: {"id": f"{ws}-2", "metadata": BIG}),
    "workspace create configuration": (
        "POST", "/v3/workspaces", lambda ws: {"id": f"{ws}-2", "configuration": {"extra": BIG}}),
    "workspace update metadata": ("PUT", "{ws}", lambda ws: {"metadata": BIG}),
    "workspace update configuration": ("PUT", "{ws}", lambda ws: {"configuration": {"extra": BIG}}),
    "peer create": ("POST", "{ws}/peers", lambda ws: {"id": "bob", "metadata": BIG}),
    "peer update": ("PUT", "{ws}/peers/alice", lambda ws: {"metadata": BIG}),
    "session create metadata": ("POST", "{ws}/sessions", lambda ws: {"id": "s2", "metadata": BIG}),
    "session create configuration": (
        "POST", "{ws}/sessions", lambda ws: {"id": "s2", "configuration": {"reasoning": {"custom": BIG}}}),
    "session create peer config": ("POST", "{ws}/sessions", lambda ws: {"id": "s2", "peers": {"bob": BIG}}),
    "session update": ("PUT", "{ws}/sessions/s1", lambda ws: {"metadata": BIG}),
    "session add peers": ("POST", "{ws}/sessions/s1/peers", lambda ws: {"bob": BIG}),
    "session set peers": ("PUT", "{ws}/sessions/s1/peers", lambda ws: {"alice": {}, "bob": BIG}),
    "session-peer config": ("PUT", "{ws}/sessions/s1/peers/alice/config", lambda ws: {"observe_me": False, **BIG}),
    "message batch metadata": ("POST", "{ws}/sessions/s1/messages", lambda ws: {"messages": [
        {"peer_id": "alice", "content": "fine"}, {"peer_id": "bob", "content": "big", "metadata": BIG}]}),
    "message batch configuration": ("POST", "{ws}/sessions/s1/messages", lambda ws: {"messages": [
        {"peer_id": "alice", "content": "big", "configuration": {"reasoning": {"custom_instructions": "y" * 70_000}}},
    ]}),
    "message update": ("PUT", "{ws}/sessions/s1/messages/{message}", lambda ws: {"metadata": BIG}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_oversized_objects_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, ws: str, case: str
) -> None:
    message = await _seed(client, ws)
    before = await _state(client, ws)
    method, path, body = CASES[case]
    url = path.format(ws=ws_url(ws), message=message)
    _refused(await client.request(method, url, json=body(ws)), DEFAULT_LIMIT)
    assert await _state(client, ws) == before
    assert expect(await client.post("/v3/workspaces/list", json={"filters": {"id": f"{ws}-2"}}), 200)["total"] == 0


@pytest.mark.parametrize("field", ["metadata", "configuration"])
async def test_oversized_upload_form_fields_are_refused(client: httpx.AsyncClient, ws: str, field: str) -> None:
    await _seed(client, ws)
    before = await _state(client, ws)
    value = BIG if field == "metadata" else {"reasoning": {"custom_instructions": "y" * 70_000}}
    files = {"file": ("notes.txt", b"some text", "text/plain")}
    response = await client.post(messages_url(ws, "s1", "upload"), files=files,
                                 data={"peer_id": "alice", field: json.dumps(value)})
    _refused(response, DEFAULT_LIMIT)
    assert await _state(client, ws) == before


async def test_objects_within_the_limit_are_kept(client: httpx.AsyncClient, ws: str) -> None:
    # Exactly at the limit: {"blob":"..."} is 11 bytes of JSON around the string.
    at_limit = {"blob": "é" * ((DEFAULT_LIMIT - 11) // 2) + "x" * ((DEFAULT_LIMIT - 11) % 2)}
    assert len(json.dumps(at_limit, separators=(",", ":"), ensure_ascii=False).encode()) == DEFAULT_LIMIT
    created = expect(await client.post("/v3/workspaces", json={"id": ws, "metadata": at_limit}), 201)
    assert created["metadata"] == at_limit
    over = {"blob": at_limit["blob"] + "x"}
    _refused(await client.put(ws_url(ws), json={"metadata": over}), DEFAULT_LIMIT)


@pytest.fixture
async def small_limit_client(deps: Deps, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db={"url": database_url}, limits={"max_metadata_bytes": 1000})
    app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def test_the_limit_is_configurable(
    small_limit_client: httpx.AsyncClient, client: httpx.AsyncClient, ws: str
) -> None:
    medium = {"blob": "x" * 2000}
    _refused(await small_limit_client.post("/v3/workspaces", json={"id": ws, "metadata": medium}), 1000)
    expect(await small_limit_client.post("/v3/workspaces", json={"id": ws, "metadata": {"blob": "x" * 900}}), 201)
    # The other app (default limit) on the same database takes it: the limit is per app, not per process.
    expect(await client.put(ws_url(ws), json={"metadata": medium}), 200)



async def test_a_body_that_is_not_json_is_still_a_validation_error(client: httpx.AsyncClient, ws: str) -> None:
    await _seed(client, ws)
    url = session_url(ws, "s1", "peers", "alice", "config")
    response = await client.put(url, content=b"\x00\xff", headers={"content-type": "application/octet-stream"})
    assert response.status_code == 422, response.text
