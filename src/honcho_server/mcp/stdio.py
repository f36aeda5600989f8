"""`honcho-server mcp`: the MCP server over stdio for desktop agents, on the database opened in this process."""

from __future__ import annotations

from honcho_server.domain import metadata
from honcho_server.domain.credentials import Principal
from honcho_server.mcp import caller, server
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors


async def serve(deps: Deps, principal: Principal) -> None:
    """Answer MCP on stdin/stdout until the client closes them; every call acts as `principal`."""
    # The configured size bound of metadata objects in tool arguments (a context variable: the tasks serving the
    # calls start from this one; over HTTP, api/mcp_route.py sets it per request as api/deps.py does).
    metadata.max_bytes.set(deps.settings.limits.max_metadata_bytes)
    try:
        await prepare_vectors(deps)  # as the API's start-up does: search and recall need to know
        await server.build(deps, caller.fixed(principal)).run_stdio_async()
    finally:
        await deps.aclose()
