"""Helpers of the MCP suite: an app with auth on over the test database (its lifespan running, so /mcp works), MCP
clients of the official SDK speaking to it in-process, a small world of peers and sessions, and keys."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
from api_helpers import JWT_SECRET, bearer, sign
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agent_fakes import ScriptedModel, answer, with_model
from honcho_server.api.app import create_app
from honcho_server.config import AuthSettings
from honcho_server.services.deps import Deps
from honcho_server.store.engine import Database
from mcp import Client

# A loopback Host: /mcp refuses others on a loopback server (DNS-rebinding protection, mcp/http.py).
BASE = "http://127.0.0.1:8000"
ADMIN = sign(ad=True)


def scripted_answer(text: str = "Alice likes hiking.") -> ScriptedModel:
    return ScriptedModel([lambda _turn: [answer(text)]])


@contextlib.asynccontextmanager
async def mcp_app(deps: Deps, *, auth: bool = True, max_metadata_bytes: int | None = None) -> AsyncIterator[Any]:
    """The API app (auth on unless told, a scripted model for chats) on its own engine, its lifespan running."""
    app_deps = with_model(deps, scripted_answer())
    app_deps.db = Database(deps.settings.db.url, deps.settings.db)  # closed by the lifespan, not the shared one
    app_deps.embedder_instance = None
    if max_metadata_bytes is not None:
        app_deps.settings.limits.max_metadata_bytes = max_metadata_bytes
    if auth:
        app_deps.settings.auth = AuthSettings(enabled=True, jwt_secret=JWT_SECRET)
    app = create_app(app_deps.settings, deps=app_deps)
    async with app.router.lifespan_context(app):
        yield app


@contextlib.asynccontextmanager
async def http_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@contextlib.asynccontextmanager
async def mcp_client(app: Any, token: str | None) -> AsyncIterator[Client]:
    """An MCP client (the SDK's) of the app's /mcp, sending `token` as its bearer key."""
    headers = bearer(token) if token else {}
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers)
    async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
        yield client


async def call(client: Client, tool: str, args: dict[str, Any]) -> tuple[bool, str]:
    """(is_error, text) of a tool call."""
    result = await client.call_tool(tool, args)
    return bool(result.is_error), "\n".join(getattr(c, "text", "") for c in result.content)


async def read(client: Client, uri: str) -> tuple[bool, str]:
    try:
        result = await client.read_resource(uri)
    except MCPError as exc:
        return True, str(exc)
    return False, "\n".join(getattr(c, "text", "") for c in result.contents)


async def prompt(client: Client, name: str, args: dict[str, str]) -> tuple[bool, str]:
    try:
        result = await client.get_prompt(name, args)
    except MCPError as exc:
        return True, str(exc)
    return False, "\n".join(getattr(m.content, "text", "") for m in result.messages)


@dataclass
class World:
    """Workspace `ws`: peers alice, bob, carol; session s1 (alice, bob) and s2 (carol), each with a marked
    message; a conclusion and a card about alice. Markers let a test see what leaked."""

    ws: str
    messages: dict[str, str] = field(default_factory=dict)  # session -> its message id
    conclusion: str = ""

    def marker(self, what: str) -> str:
        return f"mk-{self.ws}-{what}"


async def build_world(c: httpx.AsyncClient, ws: str | None = None) -> World:
    world = World(ws or f"mcp-{uuid.uuid4().hex[:10]}")
    admin = bearer(ADMIN)

    async def do(method: str, path: str, **kw: Any) -> Any:
        response = await c.request(method, f"/v3/workspaces/{world.ws}{path}", headers=admin, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()

    assert (await c.post("/v3/workspaces", json={"id": world.ws}, headers=admin)).status_code == 201
    await do("POST", "/peers", json={"id": "carol"})
    await do("POST", "/sessions", json={"id": "s1", "peers": {"alice": {}, "bob": {}}})
    await do("POST", "/sessions", json={"id": "s2", "peers": {"carol": {}}})
    for session, author in (("s1", "alice"), ("s2", "carol")):
        sent = await do("POST", f"/sessions/{session}/messages", json={"messages": [
            {"peer_id": author, "content": f"I love hiking {world.marker(session)}"}]})
        world.messages[session] = sent[0]["id"]
    made = await do("POST", "/conclusions", json={"conclusions": [
        {"content": f"Alice loves hiking {world.marker('conclusion')}", "observer_id": "alice",
         "observed_id": "alice"}]})
    world.conclusion = made[0]["id"]
    await do("PUT", "/peers/alice/card", json={"peer_card": [f"Likes hiking {world.marker('card')}"]})
    return world


# The kinds of key the matrix tries, most confined first (so a destructive call by an allowed key comes last).
KEY_KINDS = ("workspace_other", "peer_carol", "session_s2", "peer_alice", "session_s1", "workspace", "admin")


def key(kind: str, ws: str) -> str:
    return {
        "admin": ADMIN,
        "workspace": sign(w=ws),
        "workspace_other": sign(w=f"{ws}-other"),
        "peer_alice": sign(w=ws, p="alice"),
        "peer_carol": sign(w=ws, p="carol"),
        "session_s1": sign(w=ws, s="s1"),
        "session_s2": sign(w=ws, s="s2"),
    }[kind]
