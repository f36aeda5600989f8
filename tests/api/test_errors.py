"""Error responses and transport rules (spec §1.1, §1.5, §1.7)."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, messages_url, msg, ws_url

JSON_HEADERS = {"Content-Type": "application/json"}


async def test_malformed_json_is_422_with_list_detail(client: httpx.AsyncClient, ws: str) -> None:
    response = await client.post("/v3/workspaces", content=b'{"id": ', headers=JSON_HEADERS)
    detail = expect(response, 422)["detail"]
    assert isinstance(detail, list) and detail[0]["type"] == "json_invalid"
    assert detail[0]["loc"][0] == "body"


async def test_wrong_types_are_422(client: httpx.AsyncClient, ws: str) -> None:
    cases = [
        ("/v3/workspaces", {"id": 5}, "string_type"),
        ("/v3/workspaces", {"id": ws, "metadata": "x"}, "dict_type"),
        (ws_url(ws, "peers"), {}, "missing"),
        (messages_url(ws, "s1"), {"messages": [{"peer_id": "a", "content": 3}]}, "string_type"),
        (messages_url(ws, "s1"), {"messages": "nope"}, "list_type"),
    ]
    for url, body, kind in cases:
        detail = expect(await client.post(url, json=body), 422)["detail"]
        assert detail[0]["type"] == kind, detail
        assert set(detail[0]) >= {"type", "loc", "msg"}


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/v3/nothing", "/v3/workspaces/x/unknown/route", "/"):
        assert expect(await client.get(path), 404) == {"detail": "Not Found"}


async def test_wrong_method_is_405(client: httpx.AsyncClient, ws: str) -> None:
    for method, path in (
        ("GET", "/v3/workspaces"),
        ("DELETE", ws_url(ws, "peers", "list")),
        ("PATCH", ws_url(ws)),
        ("GET", ws_url(ws, "sessions", "list")),
    ):
        assert expect(await client.request(method, path), 405) == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    "path",
    [
        "/v3/workspaces/list",
        "/v3/workspaces/{ws}/peers/list",
        "/v3/workspaces/{ws}/sessions/list",
        "/v3/workspaces/{ws}/sessions/s1/messages/list",
        "/v3/workspaces/{ws}/peers/alice/sessions",
    ],
)
async def test_empty_json_body_on_list_routes_is_no_filter(
    client: httpx.AsyncClient, ws: str, path: str
) -> None:
    await add_messages(client, ws, "s1", [msg("alice", "hello")])
    response = await client.post(path.format(ws=ws), content=b"", headers=JSON_HEADERS)
    body = expect(response, 200)
    assert body["total"] >= 1 and body["items"]
    assert expect(await client.post(path.format(ws=ws), json=None), 200)["total"] == body["total"]


async def test_empty_json_body_on_clone(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(client, ws, "s1")
    response = await client.post(ws_url(ws, "sessions", "s1", "clone"), content=b"", headers=JSON_HEADERS)
    expect(response, 201)


async def test_health(client: httpx.AsyncClient) -> None:
    assert expect(await client.get("/health"), 200)["status"] == "ok"
