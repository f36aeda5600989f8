"""The MCP server of one memory: its tools, resources and prompts over the services layer, each call acting with
the caller's key (caller.py)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from honcho_server import __version__
from honcho_server.mcp import conclusion_tools, peer_tools, reads, session_tools, workspace_tools
from honcho_server.mcp.caller import Resolver
from honcho_server.mcp.kit import Kit
from honcho_server.services.deps import Deps

INSTRUCTIONS = """\
Long-term memory of conversations (a honcho-server). Memory is organised as workspaces > peers (participants) and
sessions (conversations) > messages. In the background, reasoning draws conclusions about each peer from what it
said; peer_context returns them with the peer's card, peer_chat answers questions about a peer in plain words.
Typical use: session_add_messages to store each turn, peer_context (or the recall_peer prompt) before answering.
Results are compact and paged: follow a result's `more` hint to read further."""


def build(deps: Deps, caller: Resolver) -> MCPServer[Any]:
    """A server whose every tool, resource and prompt acts as `caller` says."""
    server: MCPServer[Any] = MCPServer("honcho-server", version=__version__, instructions=INSTRUCTIONS,
                                       log_level="WARNING")
    kit = Kit(deps, caller)
    for module in (workspace_tools, peer_tools, session_tools, conclusion_tools, reads):
        module.register(server, kit)
    return server
