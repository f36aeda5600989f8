"""Who is calling a tool: the principal its key stands for, fixed for a stdio server and per request over HTTP
(api/mcp_route.py authenticates the request and leaves the principal in the ASGI scope's state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context

from honcho_server.domain.credentials import Principal
from honcho_server.errors import Unauthorized
from honcho_server.mcp import PRINCIPAL_STATE

Resolver = Callable[[Context[Any, Any]], Principal]


def fixed(principal: Principal) -> Resolver:
    """Every call acts as `principal` (a stdio server started with, or without, `--key`)."""
    return lambda _ctx: principal


def from_http_request(ctx: Context[Any, Any]) -> Principal:
    """The principal the HTTP request authenticated as; refuses when none reached the tool (never admin by
    default: an unauthenticated path to a tool is a wiring fault, not a grant)."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None)
    state = scope.get("state") if isinstance(scope, dict) else None
    principal = state.get(PRINCIPAL_STATE) if isinstance(state, dict) else None
    if not isinstance(principal, Principal):
        raise Unauthorized("No credentials reached this tool")
    return principal
