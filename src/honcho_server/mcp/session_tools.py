"""Tools about sessions and their messages: create, list, inspect, delete, clone, members, messages, context."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from honcho_server.domain.configuration import SessionPeerConfig
from honcho_server.domain.credentials import Principal
from honcho_server.domain.models import Message
from honcho_server.errors import Unauthorized
from honcho_server.mcp import budget
from honcho_server.mcp.errors import tool_errors
from honcho_server.mcp.kit import Kit
from honcho_server.mcp.params import FIRST_PAGE, PAGE_SIZE, Id, Metadata, PageNumber, PageSize, Session, Text, Workspace
from honcho_server.services import access, context, messages, sessions
from honcho_server.services import peers as peer_service
from honcho_server.services import summaries as summary_service
from honcho_server.services.context import PeerView
from honcho_server.services.representation import Recall

READ = ToolAnnotations(read_only_hint=True)
DESTRUCTIVE = ToolAnnotations(destructive_hint=True)
PeerNames = Annotated[list[Id], Field(min_length=1, max_length=100, description="Peer ids.")]
MEMBERS_SHOWN = 50


class NewMessage(BaseModel):
    peer: Id = Field(description="The id of the peer who said it (created when missing).")
    content: Text = Field(description="What was said.")
    metadata: Metadata | None = Field(default=None, description="Optional JSON object stored with it.")


def register(server: MCPServer[Any], kit: Kit) -> None:
    deps = kit.deps

    @server.tool()
    @tool_errors
    async def session_create(
        ctx: Context[Any, Any], workspace: Workspace, session: Session,
        peers: Annotated[list[str] | None, Field(description="Peer ids to add as members (created when missing).")]
        = None,
        metadata: Metadata | None = None,
    ) -> str:
        """Get or create a session (a conversation) and add `peers` to it. `metadata`, when given, replaces the
        stored one. The workspace is created when missing."""
        principal = kit.claims(ctx, workspace=workspace, session=session)
        peer_map = {name: SessionPeerConfig() for name in peers or []}
        found, created = await sessions.get_or_create(deps, workspace, session, metadata, None, peer_map or None,
                                                      caller=principal)
        return budget.fit({**budget.session(found), "created": created})

    @server.tool(annotations=READ)
    @tool_errors
    async def session_list(
        ctx: Context[Any, Any], workspace: Workspace,
        peer: Annotated[Id | None, Field(description="Only sessions this peer is (or was) a member of.")] = None,
        page: PageNumber = FIRST_PAGE, size: PageSize = PAGE_SIZE,
    ) -> str:
        """List the workspace's sessions, or only one peer's (a peer's key must name its own peer)."""
        size = budget.page_size(size)
        if peer is None:
            await kit.reach(ctx, workspace=workspace)
            found = await sessions.list_page(deps, workspace, None, page, size, False)
        else:
            await kit.reach(ctx, workspace=workspace, peer=peer)
            found = await peer_service.sessions_of(deps, workspace, peer, None, page, size, False)
        return budget.page(found, [budget.session(s) for s in found.items], "sessions")

    @server.tool(annotations=READ)
    @tool_errors
    async def session_inspect(ctx: Context[Any, Any], workspace: Workspace, session: Session) -> str:
        """Overview of one session: metadata, message count, members, and its newest short and long summaries."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        async with deps.db.read() as conn:
            found = await sessions.require_active(conn, workspace, session)
        members = await sessions.members(deps, workspace, session, 1, MEMBERS_SHOWN)
        summaries = await summary_service.latest(deps, workspace, session)
        return budget.fit({
            **budget.session(found), "messages": found.message_count,
            "members": [p.name for p in members.items],
            **({"more_members": "call session_peers"} if members.total > MEMBERS_SHOWN else {}),
            "summaries": {kind: budget.clip(s.content, budget.TEXT_CHARS // 2, "call session_context")
                          for kind, s in summaries.items()},
        })

    @server.tool(annotations=DESTRUCTIVE)
    @tool_errors
    async def session_delete(ctx: Context[Any, Any], workspace: Workspace, session: Session) -> str:
        """Delete a session and everything in it (its messages, and what reasoning learned only from them).
        Cannot be undone."""
        await kit.reach(ctx, workspace=workspace, session=session)
        await sessions.delete(deps, workspace, session)
        return f"session {session} deleted (its contents are purged in the background)"

    @server.tool()
    @tool_errors
    async def session_clone(
        ctx: Context[Any, Any], workspace: Workspace, session: Session,
        message_id: Annotated[Id | None, Field(description="Copy only up to and including this message.")] = None,
    ) -> str:
        """Copy a session (metadata, members and messages, optionally only up to one message) into a new session
        with a generated id; returns the new session."""
        await kit.reach(ctx, workspace=workspace, session=session)
        copy = await sessions.clone(deps, workspace, session, message_id)
        return budget.fit(budget.session(copy))

    @server.tool()
    @tool_errors
    async def session_add_peers(ctx: Context[Any, Any], workspace: Workspace, session: Session,
                                peers: PeerNames) -> str:
        """Add peers to a session as members (peers that do not exist yet are created)."""
        principal = await kit.reach(ctx, workspace=workspace, session=session)
        await sessions.add_peers(deps, workspace, session, {name: SessionPeerConfig() for name in peers},
                                 caller=principal)
        return await _members(kit, workspace, session)

    @server.tool(annotations=DESTRUCTIVE)
    @tool_errors
    async def session_remove_peers(ctx: Context[Any, Any], workspace: Workspace, session: Session,
                                   peers: PeerNames) -> str:
        """Remove peers from a session's members (their messages stay)."""
        await kit.reach(ctx, workspace=workspace, session=session)
        await sessions.remove_peers(deps, workspace, session, peers)
        return await _members(kit, workspace, session)

    @server.tool(annotations=READ)
    @tool_errors
    async def session_peers(ctx: Context[Any, Any], workspace: Workspace, session: Session,
                            page: PageNumber = FIRST_PAGE, size: PageSize = PAGE_SIZE) -> str:
        """List the session's current members: the peers taking part in the conversation."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        found = await sessions.members(deps, workspace, session, page, budget.page_size(size))
        return budget.page(found, [budget.peer(p) for p in found.items], "peers")

    @server.tool()
    @tool_errors
    async def session_add_messages(
        ctx: Context[Any, Any], workspace: Workspace, session: Session,
        messages: Annotated[list[NewMessage], Field(min_length=1, max_length=100,
                                                    description="Messages in the order they were said.")],
    ) -> str:
        """Store messages in a session (the conversation's turns); reasoning learns from them in the background.
        Returns the stored messages' ids."""
        principal = await kit.reach(ctx, workspace=workspace, session=session)
        created = await _store(kit, principal, workspace, session, messages)
        return budget.fit({"stored": len(created), "ids": [m.uid for m in created]}, "ids")

    @server.tool(annotations=READ)
    @tool_errors
    async def session_messages(
        ctx: Context[Any, Any], workspace: Workspace, session: Session, page: PageNumber = FIRST_PAGE,
        size: PageSize = PAGE_SIZE,
        newest_first: Annotated[bool, Field(description="Newest messages first (default); false: oldest first.")]
        = True,
    ) -> str:
        """A page of the session's messages (long texts clipped; session_message returns one whole)."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        found = await messages.list_page(deps, workspace, session, None, page, budget.page_size(size), newest_first)
        return budget.page(found, [budget.message(m) for m in found.items], "messages")

    @server.tool(annotations=READ)
    @tool_errors
    async def session_message(ctx: Context[Any, Any], workspace: Workspace, session: Session,
                              message_id: Annotated[Id, Field(description="The message's id.")]
                              ) -> str:
        """One message, its text whole (up to the result limit)."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        found = await messages.get(deps, workspace, session, message_id)
        return budget.fit(budget.message(found, budget.MAX_RESULT_CHARS - 1_000))

    @server.tool(annotations=READ)
    @tool_errors
    async def session_context(
        ctx: Context[Any, Any], workspace: Workspace, session: Session,
        tokens: Annotated[int | None, Field(ge=1, le=4_000, description="Token budget (default 2,000).")] = None,
        peer_target: Annotated[Id | None, Field(description="Also include this peer's representation and card.")]
        = None,
        peer_perspective: Annotated[Id | None, Field(description="Whose view of peer_target (default: its own); "
                                                      "a peer's key may only use its own.")] = None,
    ) -> str:
        """The conversation as an app feeds it to a model: a summary of the older part and the newest messages
        within a token budget, plus (with peer_target) what memory holds about that peer."""
        principal = await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        view = _view(principal, peer_target, peer_perspective, session)
        found = await context.session_context(deps, workspace, session, tokens=tokens or 2_000, summary=True,
                                              view=view)
        return budget.fit({
            "summary": found.summary.content if found.summary else None,
            "messages": [budget.message(m) for m in found.messages],
            **({"peer_card": found.card or [], "peer_representation": found.representation or ""} if view else {}),
        }, "messages")


def _view(principal: Principal, target: str | None, perspective: str | None, session: str) -> PeerView | None:
    """The peer view the key may have (as HTTP's session context): a session key's view stays in its session; a
    peer key sees only through its own eyes."""
    if target is None:
        if perspective is not None:
            raise ValueError("peer_perspective requires peer_target")
        return None
    view = PeerView(target=target, perspective=perspective, recall=Recall(max_conclusions=budget.DEFAULT_CONCLUSIONS))
    context.check_view(session, view)
    if principal.kind == "session":
        return replace(view, limit_to_session=True)
    if principal.kind == "peer" and view.observer != principal.peer:
        raise Unauthorized(access.NOT_PERMITTED)
    return view


async def _store(kit: Kit, principal: Principal, workspace: str, session: str, batch: list[NewMessage]
                 ) -> list[Message]:
    new = [messages.NewMessage(content=m.content, peer_name=m.peer, metadata=m.metadata or {}) for m in batch]
    return await messages.create(kit.deps, workspace, session, new, caller=principal)


async def _members(kit: Kit, workspace: str, session: str) -> str:
    found = await sessions.members(kit.deps, workspace, session, 1, MEMBERS_SHOWN)
    return budget.fit({"session": session, "members": [p.name for p in found.items], "total": found.total},
                      "members")
