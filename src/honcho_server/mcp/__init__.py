"""The built-in MCP server: the memory's tools, resources and prompts for agents, over stdio (`honcho-server mcp`)
and streamable HTTP (`/mcp` on the API). Built on the official `mcp` SDK, an optional extra: this module imports
nothing from it, so the rest of the server runs (and says how to install it) without it."""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "the MCP server needs the optional `mcp` package: pip install 'honcho-server[mcp]'"


def sdk_available() -> bool:
    """Whether the `mcp` SDK is installed (found, not imported: importing it takes about a second)."""
    try:
        return importlib.util.find_spec("mcp") is not None
    except (ImportError, ValueError):
        return False

# Where api/mcp_route.py leaves the authenticated principal in the ASGI scope's state for the tools (mcp/caller.py).
PRINCIPAL_STATE = "honcho_principal"
