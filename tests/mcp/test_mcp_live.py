"""/mcp on a live `honcho-server serve` (auth on), reached over real HTTP by the SDK's streamable HTTP client: the
key in the Authorization header decides what the tools reach, and a request without one is refused before MCP."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from api_helpers import JWT_SECRET, bearer, sign
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import ADMIN, call

from mcp import Client
from server_process import ServerProcess


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server, on SQLite only: what this module adds is the real transport (a server start costs 5-10 s); both
    databases run every tool over /mcp in-process (test_mcp_http.py, test_mcp_access_matrix.py)."""
    workdir: Path = tmp_path_factory.mktemp("mcp-live")
    server = ServerProcess(name="mcp-live", db_url=f"sqlite:///{workdir / 'honcho.db'}", workdir=workdir,
                           migrate=False, secret=JWT_SECRET,
                           extra_env={"HONCHO_AUTH__ENABLED": "true", "HONCHO_AUTH__JWT_SECRET": JWT_SECRET,
                                      "HONCHO_EMBEDDING__PROVIDER": "hash"}).start()
    try:
        yield server
    finally:
        server.stop()


async def _client(server: ServerProcess, token: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers=bearer(token), timeout=30)
    async with http, Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http)) as client:
        yield client


async def test_live_mcp_acts_with_the_callers_key(live: ServerProcess) -> None:
    ws = f"live-{uuid.uuid4().hex[:8]}"
    async for admin in _client(live, ADMIN):
        for tool, args in (("session_create", {"workspace": ws, "session": "s1", "peers": ["alice"]}),
                           ("session_create", {"workspace": ws, "session": "s2", "peers": ["bob"]}),
                           ("session_add_messages", {"workspace": ws, "session": "s2", "messages": [
                               {"peer": "bob", "content": "my locker code is 4711"}]})):
            is_error, text = await call(admin, tool, args)
            assert not is_error, text
    async for alice in _client(live, sign(w=ws, p="alice")):
        assert len((await alice.list_tools()).tools) == 30
        is_error, text = await call(alice, "session_list", {"workspace": ws, "peer": "alice"})
        assert not is_error and [s["id"] for s in json.loads(text)["sessions"]] == ["s1"]
        for tool, args in (("session_messages", {"workspace": ws, "session": "s2"}),
                           ("workspace_search", {"workspace": ws, "query": "locker code"}),
                           ("session_list", {"workspace": ws, "peer": "bob"})):
            is_error, text = await call(alice, tool, args)
            assert is_error and "forbidden" in text and "4711" not in text, (tool, text)


def test_live_mcp_refuses_a_request_without_a_key(live: ServerProcess) -> None:
    response = httpx.post(f"{live.base_url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                          headers={"Accept": "application/json, text/event-stream"}, timeout=30)
    assert response.status_code == 401 and response.json() == {"detail": "No access token provided"}
