"""Tools about peers: create, list, chat, card, context, representation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from honcho_server.errors import ReasoningOff, Unauthorized
from honcho_server.mcp import budget
from honcho_server.mcp.errors import tool_errors
from honcho_server.mcp.kit import Kit
from honcho_server.mcp.params import (
    FIRST_PAGE,
    PAGE_SIZE,
    Generation,
    Id,
    MaxConclusions,
    Metadata,
    PageNumber,
    PageSize,
    Peer,
    Query,
    SearchQuery,
    Target,
    Workspace,
)
from honcho_server.reasoning import dialectic
from honcho_server.reasoning.dialectic import ChatRequest
from honcho_server.services import access, peer_cards, peers, representation
from honcho_server.services.conclusions import check_not_scope
from honcho_server.services.representation import Recall

READ = ToolAnnotations(read_only_hint=True)
Card = Annotated[list[str], Field(max_length=200, description="The card's entries: short facts, one per item.")]
Level = Literal["minimal", "low", "medium", "high", "max"]


def recall(search_query: str | None, max_conclusions: int | None) -> Recall:
    """How much of a representation to read back (fewer conclusions than HTTP by default: a model reads it)."""
    return Recall(max_conclusions=max_conclusions or budget.DEFAULT_CONCLUSIONS, search_query=search_query or None,
                  include_most_frequent=True)


def register(server: MCPServer[Any], kit: Kit) -> None:
    deps = kit.deps

    @server.tool()
    @tool_errors
    async def peer_create(ctx: Context[Any, Any], workspace: Workspace, peer: Peer,
                          metadata: Metadata | None = None) -> str:
        """Get or create a peer (a participant whose messages and memory the server keeps); `metadata`, when given,
        replaces the stored one. The workspace is created when missing."""
        principal = kit.claims(ctx, workspace=workspace, peer=peer)
        found, created = await peers.get_or_create(deps, workspace, peer, metadata, None, caller=principal)
        return budget.fit({**budget.peer(found), "created": created})

    @server.tool(annotations=READ)
    @tool_errors
    async def peer_list(ctx: Context[Any, Any], workspace: Workspace, page: PageNumber = FIRST_PAGE,
                        size: PageSize = PAGE_SIZE) -> str:
        """List the workspace's peers, oldest first."""
        await kit.reach(ctx, workspace=workspace)
        found = await peers.list_page(deps, workspace, None, page, budget.page_size(size), False)
        return budget.page(found, [budget.peer(p) for p in found.items], "peers")

    @server.tool(annotations=READ)
    @tool_errors
    async def peer_chat(
        ctx: Context[Any, Any], workspace: Workspace, peer: Peer,
        query: Annotated[Query, Field(description="A question in plain words.")],
        target: Target = None,
        session: Annotated[Id | None, Field(description="Only use what was said in this session.")] = None,
        reasoning_level: Annotated[Level, Field(description="How hard to think; higher is slower.")] = "low",
        generation: Generation = None,
    ) -> str:
        """Ask the memory a question in natural language and get a reasoned answer: what `peer` knows about
        `target` (itself by default), drawn from its conclusions and messages. Needs reasoning (an LLM) on the
        server; for the raw memory without an LLM use peer_context."""
        principal = await kit.reach(ctx, workspace=workspace, peer=peer)
        if not deps.settings.llm.enabled:
            raise ReasoningOff.because(deps.settings.llm.problem)
        check_not_scope("peer", peer)
        if target is not None:
            check_not_scope("target", target)
        if session is not None and principal.kind == "peer" and not await access.is_member_of_all(
                deps, workspace, [session], principal.peer):
            raise Unauthorized(access.NOT_PERMITTED)
        chat = await dialectic.prepare(deps, ChatRequest(
            workspace=workspace, query=query.replace("\x00", ""), level=reasoning_level, peer=peer, target=target,
            session=session, sessions=[session] if session else None, generation=generation))
        reply = await chat.answer()
        return budget.clip(reply.content or "", budget.TEXT_CHARS, "ask a narrower question")

    @server.tool(annotations=READ)
    @tool_errors
    async def peer_card_get(ctx: Context[Any, Any], workspace: Workspace, peer: Peer, target: Target = None,
                            generation: Generation = None) -> str:
        """The peer card: short stable facts `peer` holds about `target` (itself by default), such as name, job
        and preferences. Empty until reasoning has written one or someone set it."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        card = await peer_cards.get(deps, workspace, peer, target, generation)
        return budget.fit({"peer": peer, "target": target or peer, "card": card or []})

    @server.tool()
    @tool_errors
    async def peer_card_set(ctx: Context[Any, Any], workspace: Workspace, peer: Peer, card: Card,
                            target: Target = None) -> str:
        """Replace the whole peer card `peer` holds about `target` (itself by default) with `card`."""
        principal = await kit.reach(ctx, workspace=workspace, peer=peer)
        stored = await peer_cards.put(deps, workspace, peer, target, card, caller=principal)
        return budget.fit({"peer": peer, "target": target or peer, "card": stored or []})

    @server.tool(annotations=READ)
    @tool_errors
    async def peer_context(ctx: Context[Any, Any], workspace: Workspace, peer: Peer, target: Target = None,
                           search_query: SearchQuery = None, max_conclusions: MaxConclusions = None,
                           generation: Generation = None) -> str:
        """Everything memory holds about `target` (itself by default) as `peer` sees it, in one call: its peer card
        and its representation (the conclusions drawn from conversations). The best call before answering a user."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        found = await representation.peer_context(deps, workspace, peer, target or peer,
                                                  recall(search_query, max_conclusions), generation)
        return budget.fit({"peer": peer, "target": target or peer, "card": found.card or [],
                           "representation": budget.clip(found.representation, budget.TEXT_CHARS,
                                                         "pass a smaller max_conclusions or a search_query")})

    @server.tool(annotations=READ)
    @tool_errors
    async def peer_representation(
        ctx: Context[Any, Any], workspace: Workspace, peer: Peer, target: Target = None,
        session: Annotated[Id | None, Field(description="Only conclusions learned in this session.")] = None,
        search_query: SearchQuery = None, max_conclusions: MaxConclusions = None, generation: Generation = None,
    ) -> str:
        """`peer`'s representation of `target` (itself by default): the conclusions reasoning drew about it, as
        markdown. Empty when nothing is known yet."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        text = await representation.representation(deps, workspace, peer, target or peer,
                                                   representation.allowlist(session, None),
                                                   recall(search_query, max_conclusions), generation=generation)
        return budget.clip(text, budget.TEXT_CHARS, "pass a smaller max_conclusions or a search_query") or \
            "(nothing known yet)"
