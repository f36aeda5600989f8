"""Filter DSL errors through the HTTP API (spec §4.1-4.2): list routes answer 422 with a string detail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, ids, messages_url, msg, ws_url

LIST_ROUTES = {
    "Workspace": lambda ws: "/v3/workspaces/list",
    "Peer": lambda ws: ws_url(ws, "peers", "list"),
    "Session": lambda ws: ws_url(ws, "sessions", "list"),
    "Message": lambda ws: messages_url(ws, "s1", "list"),
}


async def _post_filters(client: httpx.AsyncClient, url: str, filters: Any) -> httpx.Response:
    return await client.post(url, json={"filters": filters})


@pytest.fixture
async def seeded(client: httpx.AsyncClient, ws: str) -> str:
    await create_session(client, ws, "s1", peers={"alice": {}})
    await add_messages(client, ws, "s1", [msg("alice", "hi")])
    return ws


@pytest.mark.parametrize("resource", LIST_ROUTES)
async def test_unknown_field_is_422_with_reference_message(
    client: httpx.AsyncClient, seeded: str, resource: str
) -> None:
    response = await _post_filters(client, LIST_ROUTES[resource](seeded), {"colour": "red"})
    assert expect(response, 422) == {
        "detail": f"Column 'colour' is not allowed to be filtered on or does not exist on {resource}"
    }


@pytest.mark.parametrize("resource", LIST_ROUTES)
async def test_unknown_operator_is_422(client: httpx.AsyncClient, seeded: str, resource: str) -> None:
    response = await _post_filters(
        client, LIST_ROUTES[resource](seeded), {"created_at": {"gte": "2020-01-01", "near": "x"}}
    )
    detail = expect(response, 422)["detail"]
    assert isinstance(detail, str) and "near" in detail


@pytest.mark.parametrize("filters", ["id", ["a"], 3, True])
async def test_non_object_filters_are_422(client: httpx.AsyncClient, seeded: str, filters: Any) -> None:
    for route in LIST_ROUTES.values():
        expect(await _post_filters(client, route(seeded), filters), 422)


@pytest.mark.parametrize(
    "filters",
    [
        {"AND": {"id": "x"}},
        {"NOT": None},
        {"id": {"in": "x"}},
        {"created_at": "not a date"},
        {"id": {"contains": None}},
        {"metadata": {"gt": 1}},
        {"id": {"key": "value"}},
        {"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"id": "x"}]}]}]}]}]}]},
    ],
)
async def test_malformed_filters_are_422(client: httpx.AsyncClient, seeded: str, filters: Any) -> None:
    detail = expect(await _post_filters(client, ws_url(seeded, "peers", "list"), filters), 422)["detail"]
    assert isinstance(detail, str)


async def test_wildcards_and_empty_filters_match_everything(client: httpx.AsyncClient, seeded: str) -> None:
    url = ws_url(seeded, "peers", "list")
    for filters in (None, {}, {"id": "*"}, {"metadata": {"k": "*"}}, {"AND": []}):
        assert ids(expect(await _post_filters(client, url, filters), 200)["items"]) == ["alice"]
    assert expect(await _post_filters(client, url, {"id": {"in": []}}), 200)["items"] == []
