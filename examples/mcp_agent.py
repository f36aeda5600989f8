"""An agent that remembers through the MCP server: before it answers, it asks honcho-server (over MCP, with the
official `mcp` client) what it knows about the user, gives that memory to an OpenAI-compatible model, and stores the
exchange back through MCP, so the server can learn from it for the next run.

    python examples/mcp_agent.py --ask "What should I do this weekend?"
    python examples/mcp_agent.py --remember "I love sea kayaking" --ask "Any plans for Sunday?"

Settings (each flag falls back to its variable, then to the default), as the other examples:
    --honcho-url  HONCHO_URL       http://127.0.0.1:8000   (the MCP endpoint is <url>/mcp)
                  HONCHO_API_KEY   (none: for a server with auth off; a peer key confines the agent to that peer)
    --model       OPENAI_MODEL     gpt-4o-mini
                  OPENAI_BASE_URL  https://api.openai.com/v1 (any OpenAI-compatible endpoint)
                  OPENAI_API_KEY   "none" (local endpoints ignore it)
Needs the MCP extra: pip install 'honcho-server[mcp]' (or just `pip install mcp`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

import httpx2
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI

from mcp import Client

SYSTEM = ("You are a helpful assistant with a long-term memory of the user. The memory below was recalled from "
          "your memory server; use what is relevant, and never invent what it does not say.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--honcho-url", default=os.environ.get("HONCHO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--workspace", default="mcp-agent-example")
    parser.add_argument("--session", default="mcp-agent")
    parser.add_argument("--user", default="user", help="peer id of the person asking")
    parser.add_argument("--agent", default="assistant", help="peer id of the agent")
    parser.add_argument("--model", default=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
    parser.add_argument("--remember", action="append", default=[], help="something the user says first (repeat)")
    parser.add_argument("--ask", required=True, help="the user's question")
    return parser.parse_args(argv)


async def tool(mcp: Client, name: str, **args: Any) -> str:
    """Call an MCP tool; its text, or an error naming the tool."""
    result = await mcp.call_tool(name, args)
    text = "\n".join(getattr(part, "text", "") for part in result.content)
    if result.is_error:
        raise SystemExit(f"{name}: {text}")
    return text


def memory_prompt(user: str, context: dict[str, Any], recent: dict[str, Any]) -> str:
    """What the agent recalled, as one system message."""
    card = "\n".join(f"- {fact}" for fact in context["card"]) or "(none)"
    lines = [f"{m['peer']}: {m['content']}" for m in recent["messages"]]
    return (f"{SYSTEM}\n\nWhat you know about {user} (peer card):\n{card}\n\n"
            f"What you concluded about {user} from past conversations:\n{context['representation'] or '(nothing yet)'}"
            f"\n\nThis conversation so far:\n{recent['summary'] or ''}\n" + ("\n".join(lines) or "(it starts now)"))


async def run(args: argparse.Namespace) -> str:
    key = os.environ.get("HONCHO_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    model = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                   api_key=os.environ.get("OPENAI_API_KEY", "none"))
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(f"{args.honcho_url.rstrip('/')}/mcp", http_client=http)) as mcp:
        ws, user = args.workspace, args.user
        await tool(mcp, "session_create", workspace=ws, session=args.session, peers=[user, args.agent])
        if args.remember:
            await tool(mcp, "session_add_messages", workspace=ws, session=args.session,
                       messages=[{"peer": user, "content": text} for text in args.remember])
        # Recall: the user's card and what was concluded about them (ranked by the question), and this session.
        context = json.loads(await tool(mcp, "peer_context", workspace=ws, peer=user, search_query=args.ask))
        recent = json.loads(await tool(mcp, "session_context", workspace=ws, session=args.session, tokens=1500))
        answer = model.chat.completions.create(model=args.model, messages=[
            {"role": "system", "content": memory_prompt(user, context, recent)},
            {"role": "user", "content": args.ask}])
        reply = answer.choices[0].message.content or ""
        await tool(mcp, "session_add_messages", workspace=ws, session=args.session,
                   messages=[{"peer": user, "content": args.ask}, {"peer": args.agent, "content": reply}])
        return reply


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"{args.agent}> {asyncio.run(run(args))}", flush=True)


if __name__ == "__main__":
    main()
