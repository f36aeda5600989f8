"""MCP over streamable HTTP, as an ASGI app the API mounts at /mcp (api/mcp_route.py authenticates first).

Stateless, with JSON answers: every POST carries one whole exchange and no session lives in the process, so the
endpoint works the same behind `serve --processes N` and any load balancer (the tools need no server-to-client
requests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from honcho_server.mcp import caller, server
from honcho_server.services.deps import Deps

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def _security(loopback: bool) -> TransportSecuritySettings:
    """On a loopback address (where auth may be off and every caller is admin), refuse requests whose Host or
    Origin is not loopback: a web page the user visits must not reach the tools by DNS rebinding. Elsewhere the
    API's own authentication and CORS settings apply, as for every route."""
    if not loopback:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=LOOPBACK_HOSTS,
                                     allowed_origins=LOOPBACK_ORIGINS)


class StreamableHTTP:
    """The ASGI app of /mcp; `running()` must be entered for its lifetime (the API's lifespan does)."""

    def __init__(self, deps: Deps, *, loopback: bool) -> None:
        self.server: MCPServer[Any] = server.build(deps, caller.from_http_request)
        # Built for its session manager, which answers at whatever path the API mounts it.
        self.server.streamable_http_app(stateless_http=True, json_response=True, transport_security=_security(loopback))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server.session_manager.handle_request(scope, receive, send)
