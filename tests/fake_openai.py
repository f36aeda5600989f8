"""A loopback OpenAI-compatible server for end-to-end tests: `/v1/embeddings` (vectors from the hash embedder)
and `/v1/chat/completions` (answers scripted by the test, every request recorded; tool calls with `ToolCalls`;
streamed as server-sent chunks when the request says `stream: true`). The server's capability probe is answered
as a capable model would (tests/provider_fakes.py), apart from the script.

The HTTP side is the package's loopback server (one write per response, TCP_NODELAY)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from honcho_bench.fake_llm import stream_events
from honcho_bench.loopback import LoopbackServer, Streamed
from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.llm.probe import is_probe
from provider_fakes import OpenAIFake


@dataclass
class Reply:
    """A scripted HTTP answer other than a normal completion (an error, a rate limit...)."""

    status: int
    body: dict[str, Any] = field(default_factory=lambda: {"error": {"message": "scripted failure"}})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ToolCalls:
    """An assistant turn calling tools: (name, arguments) pairs."""

    calls: list[tuple[str, dict[str, Any]]]


# A chat step: assistant text, a JSON-able object (sent as its JSON text), ToolCalls, a Reply, or a function of the
# request body returning one of those.
Step = str | dict[str, Any] | list[Any] | ToolCalls | Reply | Callable[[dict[str, Any]], Any]


class FakeOpenAI:
    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.inputs: list[str] = []  # every text embedded
        self.calls = 0  # embedding requests
        self.delay = 0.0  # seconds each request is held (to catch a client mid-call)
        self.chat_requests: list[dict[str, Any]] = []
        self.probe_requests: list[dict[str, Any]] = []
        self._capable = OpenAIFake("full")
        self._script: list[Step] = []
        # Answers requests once the script is used up (a stand-in model for long-running servers); None: 500.
        self.responder: Callable[[dict[str, Any]], Any] | None = None
        self.stream_delay = 0.0  # seconds between the chunks of a streamed answer
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle, name="test-fake-openai")
        self.base_url = f"{self._server.url}/v1"

    def _handle(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/v1/embeddings":
            return 200, self._embeddings(body), {}
        if path == "/v1/chat/completions":
            reply = self._chat(body)
            if body.get("stream") and reply.status == 200:
                return 200, Streamed(stream_events(reply.body, piece=5), delay=self.stream_delay), reply.headers
            return reply.status, reply.body, reply.headers
        return 404, {"error": {"message": "not found"}}, {}

    def script(self, *steps: Step) -> None:
        """Queue the answers of the next chat requests, in order."""
        with self._lock:
            self._script.extend(steps)

    @property
    def unused(self) -> int:
        """Scripted answers not asked for yet."""
        return len(self._script)

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            self.calls += 1
            self.inputs.extend(texts)
        time.sleep(self.delay)  # after counting: a test can see the client is inside its call
        size = body.get("dimensions") or self.dimensions
        vectors = asyncio.run(HashEmbedder(size).embed(texts))
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    def _chat(self, body: dict[str, Any]) -> Reply:
        user = [m for m in body.get("messages", []) if m.get("role") == "user"]
        if user and isinstance(user[0].get("content"), str) and is_probe(user[0]["content"]):
            # The server's capability probe, answered as a capable model would: the script is for the tasks.
            with self._lock:
                self.probe_requests.append(body)
            return Reply(200, self._capable.complete(body))
        with self._lock:
            self.chat_requests.append(body)
            fallback = self.responder or Reply(500, {"error": {"message": "nothing scripted"}})
            step: Any = self._script.pop(0) if self._script else fallback
        time.sleep(self.delay)
        if callable(step):
            step = step(body)
        if isinstance(step, Reply):
            return step
        message: dict[str, Any]
        if isinstance(step, ToolCalls):
            text = json.dumps(step.calls)
            calls = [{"id": f"call_{len(self.chat_requests)}_{i}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(args)}}
                     for i, (name, args) in enumerate(step.calls)]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        else:
            text = step if isinstance(step, str) else json.dumps(step)
            message = {"role": "assistant", "content": text}
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        usage = {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(text) // 4 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return Reply(200, {"id": f"chatcmpl-{len(self.chat_requests)}", "object": "chat.completion", "created": 0,
                           "model": body.get("model", "fake"),
                           "choices": [{"index": 0, "message": message,
                                        "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
                           "usage": usage})

    def __enter__(self) -> FakeOpenAI:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)


FakeEmbeddings = FakeOpenAI  # the embedding tests' name for it
