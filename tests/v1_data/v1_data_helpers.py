"""Helpers of the v1 data tests: the world built through v3 routes, v1 URLs, and the SDKs' response shapes."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import add_messages, create_session, expect, msg, ws_url

METAMESSAGE_KEYS = {"id", "app_id", "user_id", "session_id", "message_id", "label", "metamessage_type", "content",
                    "metadata", "created_at"}
COLLECTION_KEYS = {"id", "app_id", "user_id", "name", "metadata", "created_at"}
DOCUMENT_KEYS = {"id", "app_id", "user_id", "collection_id", "content", "metadata", "created_at"}
PAGE_KEYS = {"items", "total", "page", "size", "pages"}


def user_url(app: str, user: str, *parts: str) -> str:
    return "/".join([f"/v1/apps/{app}/users/{user}", *parts])


async def world(client: httpx.AsyncClient, ws: str) -> dict[str, list[str]]:
    """Through v3: users alice and bob; s1 (alice, bob) with three messages, s2 (bob) with one, s3 (alice) with
    one. Returns the message ids per session."""
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", peers={"bob": {}})
    await create_session(client, ws, "s3", peers={"alice": {}})
    made = {"s1": await add_messages(client, ws, "s1", [msg("alice", "hi"), msg("bob", "hello"),
                                                         msg("alice", "bye")]),
            "s2": await add_messages(client, ws, "s2", [msg("bob", "alone")]),
            "s3": await add_messages(client, ws, "s3", [msg("alice", "solo")])}
    return {session: [m["id"] for m in messages] for session, messages in made.items()}


def assert_metamessage(body: dict[str, Any], app: str, user: str) -> None:
    assert set(body) == METAMESSAGE_KEYS
    assert (body["app_id"], body["user_id"]) == (app, user)
    assert body["label"] == body["metamessage_type"]
    assert isinstance(body["metadata"], dict)
    assert body["created_at"].endswith("Z")


def assert_collection(body: dict[str, Any], app: str, user: str) -> None:
    assert set(body) == COLLECTION_KEYS
    assert (body["app_id"], body["user_id"]) == (app, user)
    assert isinstance(body["metadata"], dict)


def assert_document(body: dict[str, Any], app: str, user: str, collection: str) -> None:
    assert set(body) == DOCUMENT_KEYS
    assert (body["app_id"], body["user_id"], body["collection_id"]) == (app, user, collection)
    assert isinstance(body["metadata"], dict)


async def page(client: httpx.AsyncClient, url: str, body: dict[str, Any] | None = None, **params: Any
               ) -> dict[str, Any]:
    """A v1 list: paging in the query, `{"filter": ...}` and the route's keys in the body."""
    found = expect(await client.post(url, json=body if body is not None else {}, params=params), 200)
    assert set(found) == PAGE_KEYS
    return found


def contents(items: list[dict[str, Any]]) -> list[str]:
    return [item["content"] for item in items]


def conflict(response: httpx.Response) -> None:
    """A 409 the SDKs will not retry."""
    expect(response, 409)
    assert response.headers["x-should-retry"] == "false"


async def v3_conclusions(client: httpx.AsyncClient, ws: str, *items: tuple[str, str, str]) -> list[str]:
    """Explicit conclusions written through v3 (content, observer, observed); their ids."""
    body = {"conclusions": [{"content": c, "observer_id": o, "observed_id": d} for c, o, d in items]}
    return [c["id"] for c in expect(await client.post(ws_url(ws, "conclusions"), json=body), 201)]
