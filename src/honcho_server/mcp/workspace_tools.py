"""Tools about workspaces: list, inspect, search, metadata, queue status."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from honcho_server.mcp import budget
from honcho_server.mcp.errors import tool_errors
from honcho_server.mcp.kit import Kit
from honcho_server.mcp.params import FIRST_PAGE, PAGE_SIZE, Id, Metadata, PageNumber, PageSize, Query, Workspace
from honcho_server.services import peers, search, sessions, workspaces
from honcho_server.services import queue_status as queue_service

READ = ToolAnnotations(read_only_hint=True)


def register(server: MCPServer[Any], kit: Kit) -> None:
    deps = kit.deps

    @server.tool(annotations=READ)
    @tool_errors
    async def workspace_list(ctx: Context[Any, Any], page: PageNumber = FIRST_PAGE,
                             size: PageSize = PAGE_SIZE) -> str:
        """List every workspace on this server (admin keys only). Use it to find the workspace to work in."""
        await kit.reach(ctx, workspace=None, admin_only=True)
        found = await workspaces.list_page(deps, None, page, budget.page_size(size), False)
        return budget.page(found, [budget.workspace(w) for w in found.items], "workspaces")

    @server.tool(annotations=READ)
    @tool_errors
    async def workspace_inspect(ctx: Context[Any, Any], workspace: Workspace) -> str:
        """Overview of one workspace: its metadata and configuration, how many peers and active sessions it has,
        its background-reasoning queue, and whether reasoning is on. Start here to get your bearings."""
        await kit.reach(ctx, workspace=workspace)
        async with deps.db.read() as conn:
            ws = await workspaces.require(conn, workspace)
        peer_count = (await peers.list_page(deps, workspace, None, 1, 1, False)).total
        session_count = (await sessions.list_page(deps, workspace, None, 1, 1, False)).total
        queue = await queue_service.get(deps, workspace, observer=None, sender=None, session=None)
        llm = deps.settings.llm
        return budget.fit({**budget.workspace(ws), "peers": peer_count, "active_sessions": session_count,
                           "queue": _counts(queue.totals),
                           "reasoning": "on" if llm.enabled else f"off ({llm.problem or 'no LLM configured'})"})

    @server.tool(annotations=READ)
    @tool_errors
    async def workspace_search(
        ctx: Context[Any, Any], workspace: Workspace,
        query: Annotated[Query, Field(description="Words or a question to find messages by.")],
        limit: Annotated[int, Field(ge=1, le=50, description="Most messages to return.")] = 10,
    ) -> str:
        """Search every message of the workspace (hybrid: full text and meaning), best match first. To search one
        conversation use session_messages; for what is known about a peer, use peer_context."""
        await kit.reach(ctx, workspace=workspace)
        found = await search.search(deps, workspace, query, None, limit)
        return budget.fit({"messages": [budget.message(m) for m in found]}, "messages")

    @server.tool(annotations=READ)
    @tool_errors
    async def workspace_metadata_get(ctx: Context[Any, Any], workspace: Workspace) -> str:
        """The workspace's metadata and configuration (any key of the workspace may read them)."""
        kit.claims(ctx, workspace=workspace)
        async with deps.db.read() as conn:
            ws = await workspaces.require(conn, workspace)
        return budget.fit({"id": ws.name, "metadata": ws.metadata, "configuration": ws.configuration})

    @server.tool()
    @tool_errors
    async def workspace_metadata_set(ctx: Context[Any, Any], workspace: Workspace, metadata: Metadata) -> str:
        """Replace the workspace's metadata with `metadata` (a JSON object); returns what is stored."""
        await kit.reach(ctx, workspace=workspace)
        ws = await workspaces.update(deps, workspace, metadata, None)
        return budget.fit({"id": ws.name, "metadata": ws.metadata})

    @server.tool(annotations=READ)
    @tool_errors
    async def queue_status(
        ctx: Context[Any, Any], workspace: Workspace,
        observer: Annotated[Id | None, Field(description="Only work for this observing peer.")] = None,
        sender: Annotated[Id | None, Field(description="Only work about this peer's messages.")] = None,
        session: Annotated[Id | None, Field(description="Only work of this session.")] = None,
    ) -> str:
        """How much background reasoning (conclusions, summaries, dreams) is done, running, waiting or failed.
        Pending work means memory is not yet up to date with the newest messages."""
        await kit.reach(ctx, workspace=workspace)
        found = await queue_service.get(deps, workspace, observer=observer or None, sender=sender or None,
                                       session=session or None)
        sessions_part = {name: _counts(c) for name, c in (found.sessions or {}).items()}
        return budget.fit({"totals": _counts(found.totals), **({"sessions": sessions_part} if sessions_part else {}),
                           "reasoning": "on" if deps.settings.llm.enabled else "off"})


def _counts(c: Any) -> dict[str, int]:
    return {"completed": c.completed, "in_progress": c.in_progress, "pending": c.pending, "failed": c.failed}
