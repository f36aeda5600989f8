"""Loopback fakes that behave like real LLM endpoints, for the provider-behaviour matrix: the official SDKs (openai,
anthropic, google-genai, driven by pydantic-ai) talk to them unmodified.

* `OpenAIFake(*behaviours)`: Chat Completions (+ embeddings, models), with the quirks of servers met in the wild.
* `AnthropicFake()`: the Messages API, streamed as Anthropic's named server-sent events.
* `GeminiFake()`: the Gemini API's generateContent / streamGenerateContent (camelCase JSON).

All three answer with one deterministic "brain" (`think`): call the first function tool once, then answer with the
output tool (or text), or give the smallest JSON value valid for the schema asked for. Each records every model
request (`requests`, `headers`) and what it sent back (`replies`: the JSON payload, or a stream's events)."""

from __future__ import annotations

import contextlib
import json
import math
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from honcho_bench.loopback import LoopbackServer, Streamed
from honcho_server.embeddings.hashing import HashEmbedder

TEXT = "From memory: nothing more is known."  # every plain answer, and an `answer` field
FILLER = "Alice likes tea."  # any other string of an answer
WORD = "memory"  # a tool argument when the user said nothing usable
PIECE = 4  # characters per streamed chunk
THINK = "<think>\nThe user wants an answer. I will give it.\n</think>\n\n"
PROSE = "Let me know if you need anything else."

# behaviour -> (the request field it refuses, the 400 error's message), as several servers answer
REFUSALS = {"refuses_tools": ("tools", "tools are not supported by this model"),
            "refuses_response_format": ("response_format", "response_format is not supported by this model")}
BEHAVIOURS = {  # of OpenAIFake; they combine
    "full": "honours tools, tool_choice, response_format (json_schema, json_object) and stream usage",
    "schema_only": "honours a json_schema response_format, never calls a tool, reads no schema from the prompt",
    "text_only": "ignores tools and response_format; answers JSON only when the prompt holds a schema and asks for it",
    "refuses_tools": "a request with tools gets a 400",
    "refuses_response_format": "a request with response_format gets a 400",
    "messy": "text comes after a <think> block; JSON comes fenced, with a line of prose after it",
    "stream_quirks": "a stream ends with no finish_reason and no usage chunk, even when asked for",
}


# What the server's capability probe finds for each behaviour on its own: (tools, forced tool choice, JSON schema,
# streaming, stream usage).
PROBED = {
    "full": ("yes", "yes", "yes", "yes", "yes"),
    "schema_only": ("ignored", "ignored", "yes", "yes", "yes"),
    "text_only": ("ignored", "ignored", "ignored", "yes", "yes"),
    "refuses_tools": ("refused", "refused", "yes", "yes", "yes"),
    "refuses_response_format": ("yes", "yes", "refused", "yes", "yes"),
    "messy": ("yes", "yes", "yes", "yes", "yes"),
    "stream_quirks": ("yes", "yes", "yes", "yes", "no"),
}

# The bench's stand-in for an ordinary OpenAI-compatible server, next to the repository (not part of it).
BENCH_FAKE_OPENAI = Path(__file__).resolve().parents[2] / "shared" / "bench" / "fake_openai.py"


@contextlib.contextmanager
def bench_openai(startup_seconds: float = 20.0) -> Iterator[str]:
    """BENCH_FAKE_OPENAI run as a subprocess on a free loopback port (64-dimensional embeddings); yields its /v1
    root once it says it is listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(BENCH_FAKE_OPENAI), "--port", str(port), "--dims", "64"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        deadline, said = time.monotonic() + startup_seconds, ""
        while "listening" not in said:
            ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready or process.poll() is not None:
                raise RuntimeError(f"{BENCH_FAKE_OPENAI} did not start (it said {said!r})")
            said += process.stdout.readline()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---- the brain ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Tool:
    """A tool offered to the model: its name and its parameters' JSON schema."""

    name: str
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call the model makes."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Seen:
    """What the model is shown, whatever the wire format."""

    prompt: str  # system, developer and user text, in order
    last_user: str  # the last user message's text
    called: frozenset[str]  # tools the model called earlier in the conversation
    tool_results: int  # tool results sent back so far


def is_output_tool(name: str) -> bool:
    """pydantic-ai's output tools (`final_result*`) and the server's own `answer` tool end a run."""
    return name == "answer" or name.startswith("final_result")


def think(seen: Seen, tools: Sequence[Tool], schema: dict[str, Any] | None = None, *, required: bool = False,
          named: str | None = None) -> list[Call] | str:
    """The answer: tool calls, or text (JSON text valid for `schema` when one is given)."""
    if tools:
        by_name = {tool.name: tool for tool in tools}
        if named in by_name:
            tool = by_name[named]
            return [Call(tool.name, minimal(tool.schema, filler=FILLER if is_output_tool(tool.name) else _word(seen)))]
        functions = [tool for tool in tools if not is_output_tool(tool.name)]
        outputs = sorted((tool for tool in tools if is_output_tool(tool.name)), key=lambda tool: tool.name != "answer")
        uncalled = [tool for tool in functions if tool.name not in seen.called]
        if functions and not seen.tool_results and uncalled:
            return [Call(uncalled[0].name, minimal(uncalled[0].schema, filler=_word(seen)))]
        if outputs:
            return [Call(outputs[0].name, minimal(outputs[0].schema))]
        if required:  # a tool must be called, and only function tools exist
            return [Call(functions[0].name, minimal(functions[0].schema, filler=_word(seen)))]
    if schema is not None:
        return json.dumps(minimal(schema))
    return TEXT


def _word(seen: Seen) -> str:
    words = re.findall(r"\w+", seen.last_user)
    return words[0] if words else WORD


# Unlike ../shared/bench/fake_openai.py, which answers a property's `default` when it has one, this never uses
# `default`: a real model fills what it is asked for, so a server must not count on (or invent) defaults in the
# schemas it sends. Properties that are not required are left out.
def minimal(schema: Any, defs: dict[str, Any] | None = None, filler: str = FILLER, key: str = "",
            depth: int = 0) -> Any:
    """The smallest JSON value valid for a JSON schema (or a Gemini `Schema`), strings filled with `filler`."""
    if not isinstance(schema, dict) or depth > 30:
        return None
    defs = defs if defs is not None else {**schema.get("definitions", {}), **schema.get("$defs", {})}
    again = lambda sub, name=key: minimal(sub, defs, filler, name, depth + 1)  # noqa: E731
    if "$ref" in schema:
        return again(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}))
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if schema.get(union):
            branches = [b for b in schema[union] if not (isinstance(b, dict) and _type(b) == "null")]
            return again((branches or schema[union])[0])
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return again(merged)
    kind = _type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties", {})
        return {name: again(properties.get(name, {}), name) for name in schema.get("required", [])}
    if kind == "array":
        items = [again(item) for item in schema.get("prefixItems", [])]
        return items + [again(schema.get("items", {})) for _ in range(int(schema.get("minItems", 0)) - len(items))]
    return _scalar(kind, schema, TEXT if key == "answer" else filler)


def _scalar(kind: str | None, schema: dict[str, Any], filler: str) -> Any:
    """The smallest value of a scalar schema (anything unknown: an empty object)."""
    if kind == "string":
        text = {"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01"}.get(schema.get("format", ""), filler)
        text = text.ljust(int(schema.get("minLength", 0)), ".")
        return text[: int(schema["maxLength"])] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 0)
        return math.ceil(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    return None if kind == "null" else {}


def _type(schema: dict[str, Any]) -> str | None:
    """A schema's type, lower-cased (Gemini's `Schema` says OBJECT, STRING...), a non-null one from a list."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if str(k).lower() != "null"] or kind
        kind = kinds[0] if kinds else None
    return str(kind).lower() if kind else None


def prompted_schema(prompt: str) -> dict[str, Any] | None:
    """The JSON schema a prompt asks the answer to follow (pydantic-ai's prompted output), if it asks for JSON."""
    if "json" not in prompt.lower():
        return None
    decoder = json.JSONDecoder()
    for match in re.finditer("schema", prompt, re.IGNORECASE):
        start = prompt.find("{", match.end())
        if start < 0:
            break
        try:
            value, _ = decoder.raw_decode(prompt, start)
        except ValueError:
            continue
        if isinstance(value, dict) and value.keys() & {"type", "properties", "$defs", "$ref", "anyOf"}:
            return value
    return None


def _text(content: Any) -> str:
    """A message's content as text: a string, or the text of a list of parts/blocks."""
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content if isinstance(part, dict) and "text" in part)
    return content if isinstance(content, str) else ""


def _tokens(value: Any) -> int:
    """Rough token count: characters / 4."""
    return len(value if isinstance(value, str) else json.dumps(value)) // 4 + 1


def _pieces(text: str) -> list[str]:
    """A text as streamed: PIECE characters at a time, but a think tag whole (it is one token to real servers, and
    pydantic-ai only recognises it as a delta of its own)."""
    out = []
    for part in re.split(r"(</?think>)", text):
        out += [part] if part in ("<think>", "</think>") else [part[i:i + PIECE] for i in range(0, len(part), PIECE)]
    return out


# ---- the loopback server, shared ------------------------------------------------------------------------------

class _Fake:
    """A loopback server recording every model request and what it sent back."""

    def __init__(self, name: str) -> None:
        self.requests: list[dict[str, Any]] = []  # every model request body, in order
        self.headers: list[dict[str, str]] = []  # their HTTP headers (names lower-cased)
        self.paths: list[str] = []  # their paths, with the query
        self.replies: list[Any] = []  # what went back: the JSON payload, or a stream's events (data only)
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle, name=name, with_headers=True)
        self.url = self._server.url

    def _handle(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def _record(self, path: str, body: Any, headers: dict[str, str]) -> int:
        """Record a model request; its number, from 1."""
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
            return len(self.requests)

    def _reply(self, status: int, payload: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            if isinstance(payload, Streamed):
                self.replies.append([e[1] if isinstance(e, tuple) else e for e in payload.events])
            else:
                self.replies.append(payload)
        return status, payload, {}

    def __enter__(self) -> Self:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)


# ---- OpenAI Chat Completions ----------------------------------------------------------------------------------

class OpenAIFake(_Fake):
    """An OpenAI-compatible server (`base_url` ends in /v1) with the given behaviours (names, or collections of
    names; default "full")."""

    def __init__(self, *behaviours: str | Iterable[str], dimensions: int = 64) -> None:
        flags = {name for item in behaviours for name in ([item] if isinstance(item, str) else item)}
        if flags - BEHAVIOURS.keys():
            raise ValueError(f"unknown behaviours {sorted(flags - BEHAVIOURS.keys())}; known: {sorted(BEHAVIOURS)}")
        self.behaviours = frozenset(flags or {"full"})
        self.dimensions = dimensions
        self.embedded: list[str] = []  # every text embedded
        super().__init__("provider-fake-openai")
        self.base_url = f"{self.url}/v1"

    def _handle(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        route = urlsplit(path).path.rstrip("/")
        if route == "/v1/models" and body is None:
            return 200, {"object": "list", "data": [{"id": "fake", "object": "model", "created": 0,
                                                     "owned_by": "fake"}]}, {}
        if route == "/v1/embeddings" and body is not None:
            return 200, self._embeddings(body), {}
        if route == "/v1/chat/completions" and body is not None:
            number = self._record(path, body, headers)
            for flag, (field, message) in REFUSALS.items():
                if flag in self.behaviours and body.get(field):
                    return self._reply(400, {"error": {"message": message, "type": "invalid_request_error"}})
            completion = self.complete(body, number)
            if body.get("stream"):
                return self._reply(200, Streamed(self._stream(completion, body)))
            return self._reply(200, completion)
        return 404, {"error": {"message": f"{path} is not served by this fake", "type": "invalid_request_error"}}, {}

    def complete(self, body: dict[str, Any], number: int = 1) -> dict[str, Any]:
        """The chat completion this fake answers a request body with."""
        flags = self.behaviours
        seen = _openai_seen(body["messages"])
        tools = [Tool(t["function"]["name"], t["function"].get("parameters") or {})
                 for t in body.get("tools") or [] if t.get("type") == "function"]
        choice = body.get("tool_choice", "auto")
        if isinstance(choice, dict) and choice.get("type") == "allowed_tools":  # newer form: a subset, and a mode
            allowed = {t["function"]["name"] for t in choice["allowed_tools"].get("tools", []) if "function" in t}
            tools, choice = [t for t in tools if t.name in allowed], choice["allowed_tools"].get("mode", "auto")
        named = choice["function"]["name"] if isinstance(choice, dict) and "function" in choice else None
        if choice == "none" or flags & {"schema_only", "text_only"}:  # those never call a tool
            tools = []
        schema = self._schema(body.get("response_format"), seen)
        answer = think(seen, tools, schema, required=choice == "required", named=named)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(answer, str):
            if "messy" in flags:
                answer = THINK + (f"```json\n{answer}\n```\n{PROSE}" if schema is not None else answer)
            message["content"], sent = answer, answer
        else:
            message["tool_calls"] = [{"id": f"call_{number}_{i}", "type": "function",
                                      "function": {"name": call.name, "arguments": json.dumps(call.args)}}
                                     for i, call in enumerate(answer)]
            sent = message["tool_calls"]
        usage = {"prompt_tokens": _tokens(body["messages"]) + _tokens(body.get("tools") or ""),
                 "completion_tokens": _tokens(sent)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {"id": f"chatcmpl-{number}", "object": "chat.completion", "created": 0,
                "model": body.get("model", "fake"), "system_fingerprint": None,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
                "usage": usage}

    def _schema(self, response_format: Any, seen: Seen) -> dict[str, Any] | None:
        """The JSON schema the answer must follow, as this server understands the request."""
        flags = self.behaviours
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema" and "text_only" not in flags:
            return response_format["json_schema"].get("schema") or {"type": "object"}
        if "schema_only" in flags:  # reads no prompt: JSON mode gets `{}`, like ../shared/bench/fake_openai.py
            return {"type": "object"} if kind == "json_object" else None
        found = prompted_schema(seen.prompt)
        if found is None and kind == "json_object" and "text_only" not in flags:
            return {"type": "object"}
        return found

    def _stream(self, completion: dict[str, Any], body: dict[str, Any]) -> list[str]:
        """A completion as the chunks of a `stream: true` answer (data of each event)."""
        choice, quirks = completion["choices"][0], "stream_quirks" in self.behaviours
        message, base = choice["message"], {k: completion[k] for k in ("id", "created", "model")}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return json.dumps({**base, "object": "chat.completion.chunk",
                               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in _pieces(message.get("content") or "")]
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call["function"]
            out.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                              "function": {"name": function["name"], "arguments": ""}}]}))
            out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    for piece in _pieces(function["arguments"])]
        if not quirks:  # some servers just stop: no finish_reason, no usage even when asked for
            out.append(chunk({}, choice["finish_reason"]))
            if (body.get("stream_options") or {}).get("include_usage"):
                out.append(json.dumps({**base, "object": "chat.completion.chunk", "choices": [],
                                       "usage": completion["usage"]}))
        return [*out, "[DONE]"]

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            self.embedded.extend(texts)
        embedder = HashEmbedder(body.get("dimensions") or self.dimensions)
        data = [{"object": "embedding", "index": i, "embedding": embedder.embed_one(text)}
                for i, text in enumerate(texts)]
        tokens = sum(_tokens(text) for text in texts)
        return {"object": "list", "data": data, "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _openai_seen(messages: Iterable[dict[str, Any]]) -> Seen:
    prompt, last_user, called, results = [], "", set(), 0
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer", "user"):
            prompt.append(_text(message.get("content")))
            if role == "user":
                last_user = prompt[-1]
        elif role == "assistant":
            called.update(c["function"]["name"] for c in message.get("tool_calls") or [])
        elif role == "tool":
            results += 1
    return Seen("\n".join(prompt), last_user, frozenset(called), results)


# ---- Anthropic Messages ---------------------------------------------------------------------------------------

class AnthropicFake(_Fake):
    """Anthropic's Messages API (`base_url` is the root: the SDK adds /v1/messages)."""

    def __init__(self) -> None:
        super().__init__("provider-fake-anthropic")
        self.base_url = self.url

    def _handle(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if urlsplit(path).path.rstrip("/") != "/v1/messages" or body is None:
            return 404, {"type": "error", "error": {"type": "not_found_error", "message": f"{path} not found"}}, {}
        number = self._record(path, body, headers)
        message = self.complete(body, number)
        return self._reply(200, Streamed(_anthropic_stream(message)) if body.get("stream") else message)

    def complete(self, body: dict[str, Any], number: int = 1) -> dict[str, Any]:
        """The message this fake answers a request body with."""
        seen = _anthropic_seen(body.get("system"), body["messages"])
        tools = [Tool(t["name"], t["input_schema"]) for t in body.get("tools") or [] if "input_schema" in t]
        choice = body.get("tool_choice") or {"type": "auto"}
        if choice["type"] == "none":
            tools = []
        # Structured outputs: `output_config.format` (GA), `output_format` (the older beta).
        output = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
        schema = output.get("schema") if output.get("type") == "json_schema" else prompted_schema(seen.prompt)
        answer = think(seen, tools, schema, required=choice["type"] == "any",
                       named=choice.get("name") if choice["type"] == "tool" else None)
        content = ([{"type": "text", "text": answer, "citations": None}] if isinstance(answer, str) else
                   [{"type": "tool_use", "id": f"toolu_{number:02d}_{i}", "name": call.name, "input": call.args}
                    for i, call in enumerate(answer)])
        return {"id": f"msg_{number:04d}", "type": "message", "role": "assistant", "model": body["model"],
                "content": content, "stop_reason": "end_turn" if isinstance(answer, str) else "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": _tokens(body["messages"]) + _tokens(body.get("system") or ""),
                          "output_tokens": _tokens(content), "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0}}


def _anthropic_seen(system: Any, messages: Iterable[dict[str, Any]]) -> Seen:
    prompt, last_user, called, results = [_text(system)], "", set(), 0
    for message in messages:
        content = message["content"]
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        if message["role"] == "user":
            text = _text([b for b in blocks if b.get("type") == "text"])
            results += sum(1 for b in blocks if b.get("type") == "tool_result")
            if text:
                prompt.append(text)
                last_user = text
        else:
            called.update(b["name"] for b in blocks if b.get("type") == "tool_use")
    return Seen("\n".join(prompt), last_user, frozenset(called), results)


def _anthropic_stream(message: dict[str, Any]) -> list[tuple[str, str]]:
    """A message as Anthropic's server-sent events: (event name, data) pairs."""
    def event(name: str, **data: Any) -> tuple[str, str]:
        return name, json.dumps({"type": name, **data})

    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    out = [event("message_start", message=start), event("ping")]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            out.append(event("content_block_start", index=index, content_block={"type": "text", "text": ""}))
            out += [event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
                    for piece in _pieces(block["text"])]
        else:
            out.append(event("content_block_start", index=index, content_block={**block, "input": {}}))
            out += [event("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": p})
                    for p in _pieces(json.dumps(block["input"]))]
        out.append(event("content_block_stop", index=index))
    out.append(event("message_delta", delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
                     usage={"output_tokens": message["usage"]["output_tokens"]}))
    return [*out, event("message_stop")]


# ---- Gemini ---------------------------------------------------------------------------------------------------

class GeminiFake(_Fake):
    """The Gemini API (`base_url` is the root: the SDK adds /v1beta/models/{model}:generateContent)."""

    def __init__(self) -> None:
        super().__init__("provider-fake-gemini")
        self.base_url = self.url

    def _handle(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        route = urlsplit(path).path
        model, _, method = route.rpartition("/")[2].partition(":")
        if body is None or method not in ("generateContent", "streamGenerateContent"):
            return 404, {"error": {"code": 404, "message": f"{path} not found", "status": "NOT_FOUND"}}, {}
        number = self._record(path, body, headers)
        answer = self.complete(body, number, model)
        if method == "streamGenerateContent":
            return self._reply(200, Streamed(_gemini_stream(answer)))
        return self._reply(200, answer)

    def complete(self, body: dict[str, Any], number: int = 1, model: str = "gemini") -> dict[str, Any]:
        """The GenerateContentResponse this fake answers a request body with."""
        seen = _gemini_seen(_field(body, "systemInstruction"), body["contents"])
        tools = [Tool(f["name"], _field(f, "parametersJsonSchema") or f.get("parameters") or {})
                 for t in body.get("tools") or [] for f in _field(t, "functionDeclarations") or []]
        calling = _field(_field(body, "toolConfig") or {}, "functionCallingConfig") or {}
        mode, allowed = calling.get("mode", "AUTO"), _field(calling, "allowedFunctionNames")
        if allowed:
            tools = [t for t in tools if t.name in allowed]
        if mode == "NONE":
            tools = []
        config = _field(body, "generationConfig") or {}
        schema = prompted_schema(seen.prompt)
        if _field(config, "responseMimeType") == "application/json":
            schema = (_field(config, "responseJsonSchema") or _field(config, "responseSchema") or schema
                      or {"type": "object"})
        forced = mode == "ANY" and bool(tools)  # VALIDATED is AUTO with the arguments checked, not forced
        answer = think(seen, tools, schema, required=forced,
                       named=tools[0].name if forced and len(tools) == 1 else None)
        parts = ([{"text": answer}] if isinstance(answer, str) else
                 [{"functionCall": {"name": call.name, "args": call.args}} for call in answer])
        prompt = _tokens(body["contents"]) + _tokens(_field(body, "systemInstruction") or "")
        return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": _tokens(parts),
                                  "totalTokenCount": prompt + _tokens(parts)},
                "modelVersion": model, "responseId": f"resp-{number}"}


def _field(mapping: dict[str, Any], camel: str) -> Any:
    """A field in either spelling: the API parses protobuf JSON, which takes camelCase and snake_case alike, and the
    SDK sends both (e.g. `functionDeclarations` holding `parameters_json_schema`)."""
    if camel in mapping:
        return mapping[camel]
    return mapping.get(re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), camel))


def _gemini_seen(system: Any, contents: Iterable[dict[str, Any]]) -> Seen:
    prompt, last_user, called, results = [_text((system or {}).get("parts"))], "", set(), 0
    for content in contents:
        parts = content.get("parts") or []
        if content.get("role", "user") == "user":
            text = _text(parts)
            results += sum(1 for p in parts if _field(p, "functionResponse"))
            if text:
                prompt.append(text)
                last_user = text
        else:
            called.update(call["name"] for p in parts if (call := _field(p, "functionCall")))
    return Seen("\n".join(prompt), last_user, frozenset(called), results)


def _gemini_stream(response: dict[str, Any]) -> list[str]:
    """A response as streamGenerateContent chunks: text in pieces, a function call whole (Gemini never splits
    one), the finish reason and usage on the last chunk."""
    candidate = response["candidates"][0]
    parts: list[dict[str, Any]] = []
    for part in candidate["content"]["parts"]:
        parts += [{"text": piece} for piece in _pieces(part["text"])] if "text" in part else [part]
    chunks = [{"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
               "modelVersion": response["modelVersion"], "responseId": response["responseId"]} for part in parts]
    chunks[-1]["candidates"][0]["finishReason"] = candidate["finishReason"]
    chunks[-1]["usageMetadata"] = response["usageMetadata"]
    return [json.dumps(chunk) for chunk in chunks]
