"""`honcho-server mcp`: the MCP server over stdio for desktop agents, on the database opened in this process."""

from __future__ import annotations

from honcho_server.domain.credentials import Principal
from honcho_server.mcp import caller, server
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors


async def serve(deps: Deps, principal: Principal) -> None:
    """Answer MCP on stdin/stdout until the client closes them; every call acts as `principal`."""
    try:
        await prepare_vectors(deps)  # as the API's start-up does: search and recall need to know
        await server.build(deps, caller.fixed(principal)).run_stdio_async()
    finally:
        await deps.aclose()
