"""A recording, OpenAI-compatible chat model on loopback for `python bench/run.py cost`.

`POST /v1/chat/completions` answers the server's own reasoning prompts plausibly and reports `usage` the way a
provider would bill it:

* prompt_tokens = o200k_base tokens of everything sent: every message's content and earlier tool calls' JSON, plus
  the JSON of `tools` and `response_format` when present. This is what the server really sends, so input figures
  are measured.
* completion_tokens = o200k_base tokens of the answer. The answer is made up by the rules below, so output figures
  depend on them:
  - deriver (system prompt "You read part of a conversation..."): one conclusion per message of the target peer
    with 5+ words, "<peer> said on <date> that <the message's first words>", cut to at most 25 tokens (15-25 on
    LoCoMo), citing that message;
  - summary (instructions say "At most N words"): about 0.8 x N words taken from the material it was given (the
    previous summary and the new messages), capped by that material's length;
  - the dialectic chat (the request offers the `answer` tool): a diligent agent using every tool turn it is
    allowed, then answering in at most 60 tokens (fake_dialectic.py);
  - anything else: "OK".

Structured answers go back as a tool call when the request offers tools (tool output), else as JSON text
(prompted or native output). Each response is written in one piece with TCP_NODELAY (no delayed-ACK stalls), or
as OpenAI stream chunks when the request says `stream: true`. No embeddings endpoint: the bench embeds locally.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from honcho_bench import fake_dialectic
from honcho_bench.loopback import LoopbackServer, Streamed
from honcho_server.domain.tokens import count_tokens, truncate_to_tokens
from honcho_server.llm.probe import is_probe

DERIVER_MARK = "You read part of a conversation"
SUMMARY_WORDS = 0.8  # share of the asked word limit a summary uses
FACT_MAX_TOKENS = 25
FACT_MIN_WORDS = 5  # a message needs this many words to yield a conclusion

_LINE = re.compile(r"^\[(\d+)\] (\d{4}-\d{2}-\d{2}) \d{2}:\d{2} (\S+): (.*)$", re.MULTILINE)
_TARGET = re.compile(r"^Target peer: (\S+)", re.MULTILINE)
_AT_MOST = re.compile(r"At most (\d+) words")
_SUMMARY_LINE = re.compile(r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}\] \S+: ", re.MULTILINE)


@dataclass(slots=True)
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class FakeLLM:
    """Start with `with FakeLLM() as fake:`; `fake.base_url` is the OpenAI-compatible API root."""

    usage: dict[str, Usage] = field(default_factory=dict)  # per kind: deriver, summary, dialectic, other
    base_url: str = ""
    dialectic_turns: int | None = None  # tool turns the fake chat agent takes at most (None: all it is allowed)
    port: int = 0  # 0: a free port

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle, name="bench-fake-llm", port=self.port)
        self.base_url = f"{self._server.url}/v1"

    def _handle(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path.rstrip("/").endswith("/chat/completions"):
            completion = self.complete(body)
            return 200, Streamed(stream_events(completion)) if body.get("stream") else completion, {}
        return 404, {"error": {"message": f"{path} is not served by the bench fake"}}, {}

    def __enter__(self) -> FakeLLM:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def reset(self) -> None:
        with self._lock:
            self.usage = {}

    # ---- answering ---------------------------------------------------------------------------------------

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat completion for one request body (recorded in `usage`)."""
        messages = body["messages"]
        system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
        user = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "user")
        tools = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
        message: dict[str, Any] | None = None
        if is_probe(user):
            kind, message, answer = "probe", *_probe_answer(body, tools)
        elif fake_dialectic.is_chat(tools):
            kind, (message, answer) = "dialectic", fake_dialectic.turn(body, tools, self.dialectic_turns)
        elif system.lstrip().startswith(DERIVER_MARK):
            kind, answer = "deriver", json.dumps({"conclusions": conclusions(user)})
        elif match := _AT_MOST.search(system):
            kind, answer = "summary", summary(user, int(match.group(1)))
        else:
            kind, answer = "other", "OK"
        if message is None and (body.get("max_tokens") or body.get("max_completion_tokens")):
            answer = truncate_to_tokens(answer, int(body.get("max_tokens") or body["max_completion_tokens"]))
        prompt = sum(_tokens(_text(m.get("content"))) for m in messages)
        prompt += sum(_tokens(json.dumps(m["tool_calls"])) for m in messages if m.get("tool_calls"))
        prompt += sum(_tokens(json.dumps(body[key])) for key in ("tools", "response_format") if body.get(key))
        completion = count_tokens(answer)
        with self._lock:
            seen = self.usage.setdefault(kind, Usage())
            seen.requests += 1
            seen.prompt_tokens += prompt
            seen.completion_tokens += completion
        if message is None:
            message = {"role": "assistant", "content": answer}
            if tools and kind == "deriver":  # tool output: the answer is the arguments of the output tool
                message = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": tools[0], "arguments": answer}}]}
        return {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}


def _probe_answer(body: dict[str, Any], tools: list[str]) -> tuple[dict[str, Any] | None, str]:
    """The server's capability probe, answered as a capable model would: the first tool called with small whole
    numbers until a tool result is back, a JSON schema honoured, text otherwise."""
    if tools and not any(m.get("role") == "tool" for m in body["messages"]):
        params = body["tools"][0]["function"].get("parameters") or {}
        args = json.dumps(dict.fromkeys(params.get("properties", {}), 5))
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_probe", "type": "function", "function": {"name": tools[0], "arguments": args}}]}, args
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if schema:
        return None, json.dumps(dict.fromkeys(schema.get("properties", {}), 5))
    return None, "5"


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> int:
    """o200k_base tokens of a text; remembered, because a chat re-sends its whole history with every request."""
    return count_tokens(text)


def stream_events(completion: dict[str, Any], piece: int = 12) -> list[str]:
    """A chat completion as the `stream: true` chunks an OpenAI-compatible server sends (data of each event): the
    text in pieces of `piece` characters, each tool call's arguments likewise, the finish reason, the usage, then
    `[DONE]`."""
    choice = completion["choices"][0]
    message, base = choice["message"], {k: completion[k] for k in ("id", "created", "model")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps({**base, "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def pieces(text: str) -> list[str]:
        return [text[i:i + piece] for i in range(0, len(text), piece)] or [""]

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces(message.get("content") or "") if p]
    for index, tool in enumerate(message.get("tool_calls") or []):
        function = tool["function"]
        out.append(chunk({"tool_calls": [{"index": index, "id": tool["id"], "type": "function",
                                          "function": {"name": function["name"], "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
                for p in pieces(function["arguments"])]
    out.append(chunk({}, choice["finish_reason"]))
    out.append(json.dumps({**base, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]}))
    return [*out, "[DONE]"]


def _text(content: Any) -> str:
    """A message's content as text (a string, or a list of parts)."""
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def conclusions(prompt: str) -> list[dict[str, Any]]:
    """One short fact per message of the target peer with enough words, citing it."""
    target = _TARGET.search(prompt)
    if target is None:
        return []
    out = []
    for number, date, peer, content in _LINE.findall(prompt):
        words = content.split()
        if peer != target.group(1) or len(words) < FACT_MIN_WORDS:
            continue
        fact = truncate_to_tokens(f"{peer} said on {date} that {' '.join(words)}", FACT_MAX_TOKENS)
        out.append({"content": fact.strip(), "sources": [int(number)], "about": None})
    return out


def summary(prompt: str, limit: int) -> str:
    """About SUMMARY_WORDS x `limit` words of the material (previous summary, then new messages' text)."""
    previous, _, new = prompt.partition("New messages:\n")
    previous = previous.removeprefix("Previous summary:\n") if previous.startswith("Previous summary:") else ""
    material = previous.split() + _SUMMARY_LINE.sub("", new).split()
    return " ".join(material[: min(round(SUMMARY_WORDS * limit), len(material))])
