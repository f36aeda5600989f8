"""The stand-in model the SDK suites' reasoning servers answer with (`chat_model.responder = stand_in_model`): the
deriver gets one conclusion per message of its target peer, summaries a line, and the dialectic chat searches memory
and answers with the first fact it showed ("From memory: <fact>"), as a structured answer when asked for one. Shared
by tests/sdk/test_chat.py and tests/v1sdk."""

from __future__ import annotations

import json
import re
from typing import Any

from fake_openai import ToolCalls

LINE = re.compile(r"^\[(\d+)\] \S+ \S+ ([\w-]+): (.*)$", re.MULTILINE)
FACT = re.compile(r"^- id:[\w-]{21} \|.* \| ([^|\n]+?)(?: \(seen \d+ times\))?(?: \[messages: [^\]]*\])?$",
                  re.MULTILINE)


def text_of(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"] if m["role"] == role)


def tools_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in body.get("tools") or []}


def dialectic(body: dict[str, Any]) -> Any:
    """Turn 1: search conclusions and messages at once. Then: answer with the first fact memory showed."""
    tools, results = tools_of(body), text_of(body, "tool")
    question = text_of(body, "user").rpartition("Question: ")[2]
    if "search_conclusions" in tools and not results:
        return ToolCalls([("search_conclusions", {"query": question}), ("search_messages", {"query": question})])
    facts = FACT.findall(results + "\n" + text_of(body, "user"))
    fact = facts[0] if facts else "I don't have any information about that."
    fields = (tools.get("answer") or {}).get("parameters", {}).get("properties", {})
    if "answer" in fields:
        return ToolCalls([("answer", {"answer": f"From memory: {fact}"})])
    structured = {"summary": fact, "mentions_lisbon": "Lisbon" in fact}
    return ToolCalls([("answer", structured)]) if "answer" in tools else json.dumps(structured)


def stand_in_model(body: dict[str, Any]) -> Any:
    """Deriver: one fact per message of the target. Summaries: a line. The chat: `dialectic`."""
    system, user = text_of(body, "system"), text_of(body, "user")
    if system.startswith("You read part of a conversation"):
        target = re.search(r"Target peer: (\S+)", user).group(1)  # type: ignore[union-attr]
        return {"conclusions": [{"content": f"{target} said: {text}", "sources": [int(n)]}
                                for n, peer, text in LINE.findall(user) if peer == target], "card": []}
    if "answer" in tools_of(body) or "Question: " in user:
        return dialectic(body)
    return "Summary: " + user[:200]
