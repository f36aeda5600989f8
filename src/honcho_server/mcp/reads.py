"""Resources (a peer's card and representation, a session's summary) and prompts ("recall what you know about
<peer> before answering"), read with the caller's access like the tools."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer, UserMessage

from honcho_server.mcp import budget
from honcho_server.mcp.errors import read_errors
from honcho_server.mcp.kit import Kit
from honcho_server.mcp.peer_tools import recall
from honcho_server.services import context, peer_cards, representation
from honcho_server.services import summaries as summary_service

BASE = "honcho://workspaces/{workspace}"
NOTHING_YET = "(nothing known yet)"


def card_text(card: list[str] | None) -> str:
    return "\n".join(f"- {entry}" for entry in card) if card else NOTHING_YET


def register(server: MCPServer[Any], kit: Kit) -> None:
    deps = kit.deps

    @server.resource(f"{BASE}/peers/{{peer}}/card", mime_type="text/markdown")
    @read_errors
    async def peer_card(workspace: str, peer: str, ctx: Context[Any, Any]) -> str:
        """The peer card: short stable facts the peer holds about itself."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        return card_text(await peer_cards.get(deps, workspace, peer, None))

    @server.resource(f"{BASE}/peers/{{peer}}/representation", mime_type="text/markdown")
    @read_errors
    async def peer_representation(workspace: str, peer: str, ctx: Context[Any, Any]) -> str:
        """What reasoning concluded about the peer from its conversations (its own view)."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        text = await representation.representation(deps, workspace, peer, peer, None, recall(None, None))
        return budget.clip(text, budget.TEXT_CHARS, "use the peer_representation tool with a search_query") or \
            NOTHING_YET

    @server.resource(f"{BASE}/sessions/{{session}}/summary", mime_type="text/markdown")
    @read_errors
    async def session_summary(workspace: str, session: str, ctx: Context[Any, Any]) -> str:
        """The session's newest summary (the long one when there is one)."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        found = await summary_service.latest(deps, workspace, session)
        chosen = found.get("long") or found.get("short")
        if chosen is None:
            return "(no summary yet: the session is short, or reasoning has not summarised it)"
        return budget.clip(chosen.content, budget.TEXT_CHARS, "use the session_context tool")

    @server.prompt()
    @read_errors
    async def recall_peer(workspace: str, peer: str, question: str, ctx: Context[Any, Any]) -> list[UserMessage]:
        """Recall what memory holds about a peer (card and representation) before answering its question."""
        await kit.reach(ctx, workspace=workspace, peer=peer)
        found = await representation.peer_context(deps, workspace, peer, peer, recall(question, None))
        known = budget.clip(found.representation, budget.TEXT_CHARS, "call peer_context for more")
        return [UserMessage(
            f"Before answering, recall what you know about {peer}.\n\nPeer card:\n{card_text(found.card)}\n\n"
            f"What memory concluded about {peer}:\n{known or NOTHING_YET}\n\n"
            f"Using only what is relevant above, answer {peer}: {question}")]

    @server.prompt()
    @read_errors
    async def catch_up_on_session(workspace: str, session: str, ctx: Context[Any, Any]) -> list[UserMessage]:
        """Catch up on a conversation (its summary and newest messages) before taking part in it."""
        await kit.reach(ctx, workspace=workspace, session=session, member_read=True)
        found = await context.session_context(deps, workspace, session, tokens=2_000, summary=True)
        lines = [f"{m.peer_name}: {budget.clip(m.content, budget.MESSAGE_CHARS, 'see session_message')}"
                 for m in found.messages]
        summary = found.summary.content if found.summary else "(none yet)"
        return [UserMessage(f"Catch up on session {session} before replying.\n\nSummary so far:\n{summary}\n\n"
                            "Newest messages:\n" + ("\n".join(lines) or "(none)"))]
