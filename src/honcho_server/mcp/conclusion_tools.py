"""Tools about conclusions (what reasoning concluded about peers) and dreams; workspace-level keys only, as over
HTTP."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import AfterValidator, Field, StringConstraints

from honcho_server.domain.metadata import strip_nul
from honcho_server.mcp import budget
from honcho_server.mcp.errors import tool_errors
from honcho_server.mcp.kit import Kit
from honcho_server.mcp.params import (
    FIRST_PAGE,
    PAGE_SIZE,
    Generation,
    Id,
    PageNumber,
    PageSize,
    Query,
    Workspace,
    unicode_text,
)
from honcho_server.services import conclusions, dreams
from honcho_server.services.conclusions import ConclusionInput, ConclusionQuery

READ = ToolAnnotations(read_only_hint=True)
Observer = Annotated[Id, Field(description="The peer who holds the conclusion (who observed).")]
Observed = Annotated[Id, Field(description="The peer the conclusion is about.")]
Content = Annotated[str, StringConstraints(min_length=1, max_length=65535), AfterValidator(strip_nul),
                    AfterValidator(unicode_text), Field(description="The conclusion, one self-contained statement.")]


def register(server: MCPServer[Any], kit: Kit) -> None:
    deps = kit.deps

    @server.tool(annotations=READ)
    @tool_errors
    async def conclusion_list(
        ctx: Context[Any, Any], workspace: Workspace,
        observer: Annotated[Id | None, Field(description="Only conclusions held by this peer.")] = None,
        observed: Annotated[Id | None, Field(description="Only conclusions about this peer.")] = None,
        session: Annotated[Id | None, Field(description="Only conclusions drawn in this session.")] = None,
        page: PageNumber = FIRST_PAGE, size: PageSize = PAGE_SIZE, generation: Generation = None,
    ) -> str:
        """List conclusions, newest first, each with its level (explicit, deductive, inductive...), its sources and
        how often it was derived."""
        await kit.reach(ctx, workspace=workspace)
        filters = {key: value for key, value in
                   (("observer_id", observer), ("observed_id", observed), ("session_id", session)) if value}
        found = await conclusions.list_page(deps, workspace, filters or None, page, budget.page_size(size), False,
                                            generation)
        return budget.page(found, [budget.conclusion(c) for c in found.items], "conclusions")

    @server.tool(annotations=READ)
    @tool_errors
    async def conclusion_query(
        ctx: Context[Any, Any], workspace: Workspace, observer: Observer, observed: Observed,
        query: Annotated[Query, Field(description="What to look for, in plain words.")],
        top_k: Annotated[int, Field(ge=1, le=50, description="Most conclusions to return.")] = 10,
        generation: Generation = None,
    ) -> str:
        """The conclusions `observer` holds about `observed` closest in meaning to `query`, most similar first."""
        await kit.reach(ctx, workspace=workspace)
        found = await conclusions.query(deps, workspace, ConclusionQuery(
            query, top_k, None, {"observer_id": observer, "observed_id": observed}), generation)
        return budget.fit({"conclusions": [budget.conclusion(c) for c in found]}, "conclusions")

    @server.tool()
    @tool_errors
    async def conclusion_create(
        ctx: Context[Any, Any], workspace: Workspace, observer: Observer, observed: Observed, content: Content,
        session: Annotated[Id | None, Field(description="The session it was learned in, if any.")] = None,
    ) -> str:
        """Store an explicit conclusion: a fact `observer` now holds about `observed` (itself when equal)."""
        await kit.reach(ctx, workspace=workspace)
        created = await conclusions.create(deps, workspace, [ConclusionInput(content, observer, observed, session)])
        return budget.fit(budget.conclusion(created[0]))

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    @tool_errors
    async def conclusion_delete(
        ctx: Context[Any, Any], workspace: Workspace,
        conclusion_id: Annotated[Id, Field(description="The conclusion's id.")],
    ) -> str:
        """Delete a conclusion, and the conclusions that rested only on it; returns what was removed."""
        await kit.reach(ctx, workspace=workspace)
        done = await conclusions.delete(deps, workspace, conclusion_id)
        return budget.fit({"removed": done.conclusions_removed, "restored": done.conclusions_restored,
                           "updated": len(done.conclusions_updated)}, "removed")

    @server.tool()
    @tool_errors
    async def schedule_dream(
        ctx: Context[Any, Any], workspace: Workspace, observer: Observer,
        observed: Annotated[Id | None, Field(description="The peer to dream about; default: the observer.")]
        = None,
        dream_type: Annotated[Literal["omni", "card_refresh"], Field(
            description="omni: consolidate and deduce over all conclusions; card_refresh: rewrite the peer card.")]
        = "omni",
        session: Annotated[Id | None, Field(description="Focus on this session.")] = None,
    ) -> str:
        """Queue a dream now: background reasoning that consolidates what `observer` knows about `observed`
        (needs reasoning on). Watch it with queue_status."""
        await kit.reach(ctx, workspace=workspace)
        for name in (observer, observed):
            if name is not None and name.startswith("scope."):
                raise ValueError(f"'{name}' is a scope; dreams are scheduled for peers")
        await dreams.schedule(deps, workspace, observer, observed, dream_type, session, False)
        return f"dream ({dream_type}) queued for {observer} about {observed or observer}"
