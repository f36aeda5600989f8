"""How the bench's fake model plays the dialectic agent (`python bench/run.py chat`).

A request offering the `answer` tool is a chat turn. The fake is diligent: while retrieval tools are offered it
keeps using them, two calls per turn, for as many turns as the level allows (the server stops offering them at
the level's cap), or `turns` when set, so the figures are the worst case of each level's budget:

* turn 1: search_conclusions(question) and search_messages(question), side by side;
* turn 2: reasoning_chain(the first conclusion shown) and read_messages(the first three message ids shown);
* later turns: search_conclusions and search_messages again with a rotating half of the question's words, and
  every third turn messages_by_date from the first message's day instead of the message search.

Then it answers by calling `answer` with "Based on memory: " and the first two facts it was shown, cut to
ANSWER_TOKENS (and to the request's output cap).
"""

from __future__ import annotations

import json
import re
from typing import Any

from honcho_server.domain.tokens import truncate_to_tokens
from honcho_server.search.terms import query_terms

ANSWER_TOOL = "answer"
ANSWER_TOKENS = 60
_FACT = re.compile(r"^- id:([\w-]{21}) \|(?:[^|\n]*\|)*? ([^|\n]+?)(?: \(seen \d+ times\))?(?: \[messages: ([^\]]*)\])?"
                   r"(?: \[premises: [^\]]*\])?$", re.MULTILINE)
_MESSAGE = re.compile(r"^- id:([\w-]{21}) \| session \S+ \| (\d{4}-\d{2}-\d{2}) ", re.MULTILINE)


def is_chat(tools: list[str]) -> bool:
    return ANSWER_TOOL in tools


def _seen(messages: list[dict[str, Any]]) -> str:
    """What the model was shown: the user turn and every tool result, in order."""
    return "\n".join(str(m.get("content") or "") for m in messages if m.get("role") in ("user", "tool"))


def _calls(plan: list[tuple[str, dict[str, Any]]], turn: int) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{turn}_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(plan)]}


def _plan(turn: int, question: str, seen: str, offered: set[str]) -> list[tuple[str, dict[str, Any]]]:
    facts = _FACT.findall(seen)
    messages = _MESSAGE.findall(seen)
    if turn == 1 or not facts:
        plan = [("search_conclusions", {"query": question}), ("search_messages", {"query": question})]
    elif turn == 2:
        cited = list(dict.fromkeys(m for _, _, ids in facts for m in ids.split(", ") if m))[:3] \
            or [m for m, _ in messages[:3]]
        plan = [("reasoning_chain", {"conclusion_id": facts[0][0]})]
        plan.append(("read_messages", {"message_ids": cited}) if cited else ("search_messages", {"query": question}))
    else:
        words = query_terms(question) or [question]
        half = max(1, len(words) // 2)
        start = (turn * half) % len(words)
        query = " ".join((words + words)[start:start + half])
        plan = [("search_conclusions", {"query": query, "top_k": 15})]
        if turn % 3 == 0 and messages:
            plan.append(("messages_by_date", {"after": messages[0][1], "limit": 20}))
        else:
            plan.append(("search_messages", {"query": query}))
    return [(name, args) for name, args in plan if name in offered]


def turn(body: dict[str, Any], tools: list[str], turns: int | None) -> tuple[dict[str, Any], str]:
    """The assistant message of one chat turn, and its text for the output token count."""
    messages = body["messages"]
    done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    question = user.rpartition("Question: ")[2].strip()
    seen = _seen(messages)
    offered = {t for t in tools if t != ANSWER_TOOL}
    if offered and (turns is None or done < turns):
        plan = _plan(done + 1, question, seen, offered)
        if plan:
            message = _calls(plan, done + 1)
            return message, json.dumps([c["function"] for c in message["tool_calls"]])
    facts = list(dict.fromkeys(content for _, content, _ in _FACT.findall(seen)))[:2]
    text = "Based on memory: " + ("; ".join(facts) if facts else "I don't have any information about that.")
    cap = body.get("max_tokens") or body.get("max_completion_tokens")
    text = truncate_to_tokens(text, min(ANSWER_TOKENS, int(cap) if cap else ANSWER_TOKENS))
    arguments = json.dumps({"answer": text})
    return _calls([(ANSWER_TOOL, {"answer": text})], done + 1), arguments
