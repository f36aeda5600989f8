"""Shortcuts of the v1 tests: the SDKs' paths and the response shapes they validate (docs/v1-api.md §1.5)."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import expect

APP_KEYS = {"id", "name", "metadata", "created_at"}
USER_KEYS = {"id", "name", "app_id", "metadata", "created_at"}
SESSION_KEYS = {"id", "app_id", "user_id", "is_active", "metadata", "created_at"}
MESSAGE_KEYS = {"id", "app_id", "user_id", "session_id", "content", "is_user", "peer_id", "metadata", "created_at"}


def users_url(app: str, *parts: str) -> str:
    return "/".join([f"/v1/apps/{app}/users", *parts])


def sessions_url(app: str, user: str, *parts: str) -> str:
    return users_url(app, user, "sessions", *parts)


def messages_url(app: str, user: str, session: str, *parts: str) -> str:
    return sessions_url(app, user, session, "messages", *parts)


def shaped(body: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """The union shape: exactly these keys, metadata an object, an ISO datetime."""
    assert set(body) == keys, body
    assert isinstance(body["metadata"], dict)
    assert isinstance(body["created_at"], str) and body["created_at"].endswith("Z")
    return body


async def new_app(client: httpx.AsyncClient, name: str, **body: Any) -> dict[str, Any]:
    return shaped(expect(await client.post("/v1/apps", json={"name": name, **body}), 200), APP_KEYS)


async def new_user(client: httpx.AsyncClient, app: str, name: str, **body: Any) -> dict[str, Any]:
    return shaped(expect(await client.post(users_url(app), json={"name": name, **body}), 200), USER_KEYS)


async def new_session(client: httpx.AsyncClient, app: str, user: str, **body: Any) -> dict[str, Any]:
    return shaped(expect(await client.post(sessions_url(app, user), json=body), 200), SESSION_KEYS)


async def send(client: httpx.AsyncClient, app: str, user: str, session: str, content: str, is_user: bool,
               **body: Any) -> dict[str, Any]:
    response = await client.post(messages_url(app, user, session),
                                 json={"content": content, "is_user": is_user, **body})
    return shaped(expect(response, 200), MESSAGE_KEYS)


async def page(client: httpx.AsyncClient, url: str, body: dict[str, Any] | None = None, **params: Any
               ) -> dict[str, Any]:
    found = expect(await client.post(url, json=body if body is not None else {}, params=params), 200)
    assert list(found) == ["items", "total", "page", "size", "pages"]
    return found
