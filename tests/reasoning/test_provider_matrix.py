"""The provider-behaviour matrix: every reasoning task, end to end, against every behaviour real LLM endpoints show,
through the real LLM client (capability probe on first use, the capability store, mode choice and fallbacks,
tolerant parsing, local token counts).

Cases (`CASES`): the OpenAI-compatible fake of tests/provider_fakes.py with each behaviour (full, schema_only,
text_only, refuses_tools, refuses_response_format, messy, stream_quirks) and with combinations met in the wild (a
reasoning model behind a server that never reports stream usage, ...); its Anthropic and Gemini fakes (their SDKs
at loopback); and the bench's own ../shared/bench/fake_openai.py run as a subprocess (honours a JSON schema, never
calls a tool, answers "OK" otherwise).

Tasks, a test each: the deriver; short and long summaries; a dream and a card refresh (jobs, run by the worker);
peer chat plain and streamed, structured (a pydantic model's schema, and a dict schema whose optional property must
never come back null; JSON and SSE), with evidence; workspace chat (all over the HTTP API).

One module-scoped fixture per case: the fake, Deps on this module's database with a real LLMClient (its models
recorded just below the client, `Recording`: each provider request's output mode and function tools), and one
workspace seeded with a conversation. Besides the outcome, each test checks the mode the server chose (`EXPECTED`)
and `test_what_the_server_learned` what it stored about the endpoint (`LEARNED`).

An endpoint no mode can serve (`hopeless`: refuses response_format, never calls a tool, writes no JSON when asked
to) still serves every text task, and its structured tasks fail naming what the endpoint does and what to set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest
from api_helpers import add_messages, create_session, expect, msg, session_jobs, workspace_pk, ws_url
from memory_helpers import HASH_DIMENSIONS, store_conclusion
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from sqlalchemy import select as sql_select

from honcho_server.config import LLMSettings
from honcho_server.domain.llm import IGNORED, REFUSED, YES
from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.llm import capabilities, models
from honcho_server.llm.client import _ERROR_ECHO, LLMClient
from honcho_server.llm.probe import is_probe
from honcho_server.services.deps import CapabilityTable, Deps
from honcho_server.store.repos import llm_capabilities
from honcho_server.store.tables import conclusions, jobs, llm_calls
from honcho_server.worker.runtime import Worker
from provider_fakes import BENCH_FAKE_OPENAI, PROBED, TEXT, AnthropicFake, GeminiFake, OpenAIFake, bench_openai
from support import api_client


@dataclass(frozen=True)
class Modes:
    """The mode the server used for structured tasks (deriver, dreams; summaries are text), the chat, the streamed
    chat and a structured chat. `tools`: function tools offered, the answer a tool call; `text`: no tools, the
    answer is the text; native (JSON schema), tool (forced tool call), prompted (schema in the prompt)."""

    structured: str
    chat: str
    stream: str
    structured_chat: str


CAPABLE = Modes("native", "tools", "tools", "tools")
NO_TOOLS = Modes("native", "text", "text", "native")
PROMPTED = Modes("prompted", "text", "text", "prompted")
EXPECTED = {
    "full": CAPABLE,
    "schema_only": NO_TOOLS,
    "text_only": PROMPTED,
    "refuses_tools": NO_TOOLS,
    "refuses_response_format": Modes("tool", "tools", "tools", "tools"),
    "messy": CAPABLE,
    "stream_quirks": CAPABLE,
    "messy+stream_quirks": CAPABLE,  # e.g. a reasoning model behind a server that never reports stream usage
    "schema_only+messy": NO_TOOLS,
    "text_only+messy": PROMPTED,
    "text_only+messy+stream_quirks": PROMPTED,
    "refuses_tools+refuses_response_format": PROMPTED,
    "anthropic": CAPABLE,
    "gemini": CAPABLE,
    "bench": NO_TOOLS,
}
CASES = list(EXPECTED)
HOSTED = {"anthropic": ("anthropic", "claude-sonnet-5-5"), "gemini": ("gemini", "gemini-3.5-flash-lite")}

# What the probe of an OpenAI-compatible server stores: (tools, forced tool choice, JSON schema, streaming, stream
# usage). Hosted APIs are not probed and, refusing nothing, have nothing stored (taken at their word).
NO_USAGE = (YES, YES, YES, YES, "no")
LEARNED: dict[str, tuple[str, ...] | None] = {
    **PROBED,
    "messy+stream_quirks": NO_USAGE,
    "schema_only+messy": (IGNORED, IGNORED, YES, YES, YES),
    "text_only+messy": (IGNORED, IGNORED, IGNORED, YES, YES),
    "text_only+messy+stream_quirks": (IGNORED, IGNORED, IGNORED, YES, "no"),
    "refuses_tools+refuses_response_format": (REFUSED, REFUSED, REFUSED, YES, YES),
    "anthropic": None,
    "gemini": None,
    "bench": (IGNORED, IGNORED, YES, YES, YES),
}
EMBEDDER = HashEmbedder(HASH_DIMENSIONS)  # as memory_helpers.store_conclusion embeds
# The chat session is neither derived nor summarised: a drain in one test must run only that test's jobs.
QUIET = {"reasoning": {"enabled": False}, "summary": {"enabled": False}}
QUESTION = "Where does alice live?"


# ---- what reached the provider ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    """One provider request as the client made it."""

    mode: str  # pydantic-ai's output mode: text, tool, native, prompted, tool_or_text
    tools: tuple[str, ...]  # function tools offered
    streamed: bool
    probe: bool  # one of the capability probe's questions

    @property
    def label(self) -> str:
        return "tools" if self.tools else self.mode


def _last_user_text(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            texts = [p.content for p in message.parts if isinstance(p, UserPromptPart) and isinstance(p.content, str)]
            if texts:
                return texts[-1]
    return ""


class Recording(WrapperModel):
    """The real model (llm/models.py build()), each request noted before it goes out."""

    def __init__(self, wrapped: Any, sent: list[Sent]) -> None:
        super().__init__(wrapped)
        self.sent = sent

    def _note(self, messages: list[ModelMessage], params: ModelRequestParameters, streamed: bool) -> None:
        self.sent.append(Sent(params.output_mode, tuple(t.name for t in params.function_tools), streamed,
                              is_probe(_last_user_text(messages))))

    async def request(self, messages: list[ModelMessage], model_settings: Any,
                      model_request_parameters: ModelRequestParameters) -> Any:
        self._note(messages, model_request_parameters, False)
        return await self.wrapped.request(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def request_stream(self, messages: list[ModelMessage], model_settings: Any,
                             model_request_parameters: ModelRequestParameters, run_context: Any = None
                             ) -> AsyncIterator[Any]:
        self._note(messages, model_request_parameters, True)
        async with self.wrapped.request_stream(messages, model_settings, model_request_parameters,
                                               run_context) as response:
            yield response


# ---- the cases ----------------------------------------------------------------------------------------------

@dataclass
class Env:
    case: str
    deps: Deps
    client: httpx.AsyncClient
    ws: str
    provider: str
    model: str
    base_url: str
    fake: Any  # the in-process fake (None: the bench subprocess)
    sent: list[Sent]
    answer: str  # what the endpoint answers a plain question with

    @property
    def endpoint(self) -> str:
        return capabilities.endpoint_key(self.provider, self.base_url, self.model)

    @property
    def expected(self) -> Modes:
        return EXPECTED[self.case]

    def mark(self) -> tuple[int, int]:
        """Where the next task's requests start: (recorded, on the fake's wire)."""
        return len(self.sent), len(self.fake.requests) if self.fake is not None else 0

    def since(self, start: int) -> list[Sent]:
        """The task's requests (the probe's left out)."""
        return [s for s in self.sent[start:] if not s.probe]

    def mode_since(self, start: int) -> str:
        labels = {s.label for s in self.since(start)}
        assert len(labels) == 1, f"requests in several modes, or none: {self.since(start)}"
        return labels.pop()

    def wire_since(self, start: int) -> list[dict[str, Any]]:
        """An OpenAI fake's request bodies from the `start`th on (the probe's left out)."""
        return [b for b in self.fake.requests[start:]
                if not is_probe(next((m["content"] for m in reversed(b["messages"]) if m["role"] == "user"), ""))]


@pytest.fixture(scope="module")
def bench_url() -> Iterator[str]:
    if not BENCH_FAKE_OPENAI.exists():
        pytest.skip(f"the bench fake {BENCH_FAKE_OPENAI} does not exist")
    with bench_openai() as url:
        yield url


@asynccontextmanager
async def _environment(case: str, deps: Deps, fake: Any, base_url: str) -> AsyncIterator[Env]:
    provider, model = HOSTED.get(case, ("openai-compatible", "llama3.2"))
    settings = deps.settings.model_copy(deep=True)
    settings.llm = LLMSettings.model_validate({"provider": provider, "model": model, "base_url": base_url,
                                               "api_key": "test-key"})
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    settings.worker.max_attempts = 1  # a failed job is parked at once: seen, never left pending

    async def no_wait(_seconds: float) -> None:
        return None

    sent: list[Sent] = []
    case_deps = Deps(db=deps.db, settings=settings, embedder_instance=EMBEDDER)
    case_deps.llm_instance = LLMClient(settings.llm, case_deps.record_llm_call, sleep=no_wait,
                                       store=CapabilityTable(case_deps),
                                       model_for=lambda spec, caps: Recording(models.build(spec, caps), sent))
    ws = f"matrix-{case}"
    async with api_client(case_deps) as client:
        await create_session(client, ws, "chat", peers={"alice": {}, "bob": {}}, configuration=QUIET)
        await add_messages(client, ws, "chat", [
            msg("alice", "I live in Lisbon and I work as a nurse"),
            msg("bob", "Lisbon is lovely, do you like it there?"),
            msg("alice", "I love Lisbon, the trams most of all")])
        yield Env(case, case_deps, client, ws, provider, model, base_url, fake, sent,
                  answer="OK" if case == "bench" else TEXT)


@pytest.fixture(scope="module", params=CASES)
async def env(request: pytest.FixtureRequest, deps: Deps) -> AsyncIterator[Env]:
    case: str = request.param
    if case == "bench":
        async with _environment(case, deps, None, request.getfixturevalue("bench_url")) as found:
            yield found
        return
    fake = AnthropicFake() if case == "anthropic" else GeminiFake() if case == "gemini" else \
        OpenAIFake(*case.split("+"))
    with fake:
        async with _environment(case, deps, fake, fake.base_url) as found:
            yield found


async def _drain(env: Env) -> None:
    await Worker(env.deps).drain()


async def _calls(env: Env, task: str) -> list[Any]:
    """The workspace's llm_calls rows of a task, oldest first."""
    pk = await workspace_pk(env.deps, env.ws)
    async with env.deps.db.read() as conn:
        return list(await conn.execute(sql_select(llm_calls).where(llm_calls.c.workspace_id == pk,
                                                                   llm_calls.c.task == task)
                                       .order_by(llm_calls.c.id)))


async def _dream_jobs(env: Env, observer: str) -> list[Any]:
    async with env.deps.db.read() as conn:
        return list(await conn.execute(sql_select(jobs).where(
            jobs.c.workspace_id == await workspace_pk(env.deps, env.ws), jobs.c.kind == "dream",
            jobs.c.observed == observer)))


def _all_done(rows: list[Any]) -> None:
    assert rows, "no job was queued"
    assert [(r.kind, r.status) for r in rows] == [(r.kind, "done") for r in rows], \
        [(r.kind, r.status, r.last_error) for r in rows]


def _events(body: bytes) -> list[dict[str, Any]]:
    text = body.decode()
    assert text.endswith("\n\n"), text
    return [json.loads(chunk.removeprefix("data: ")) for chunk in text[:-2].split("\n\n")]


async def _chat(env: Env, path: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """A chat's answer as the JSON reply would give it ({"content", "evidence"?}); a streamed one is read from its
    events (deltas, then `done`, with the evidence when asked for)."""
    response = await env.client.post(ws_url(env.ws, path), json={**body, "stream": stream})
    if not stream:
        return expect(response, 200)
    assert response.status_code == 200, response.text
    found = _events(response.content)
    deltas, last = found[:-1], found[-1]
    assert last["done"] is True and set(last) <= {"done", "evidence"}, found
    assert all(e["done"] is False and set(e) == {"delta", "done"} for e in deltas), found
    return {"content": "".join(e["delta"]["content"] for e in deltas), **{k: v for k, v in last.items()
                                                                           if k == "evidence"}}


# ---- what the server learned -----------------------------------------------------------------------------------

async def test_what_the_server_learned(env: Env) -> None:
    caps = await env.deps.llm.capabilities("deriver")  # probes on first use, unless a task already did
    async with env.deps.db.read() as conn:
        stored = await llm_capabilities.get(conn, env.endpoint)
    expected = LEARNED[env.case]
    if expected is None:  # hosted: taken at its word
        assert stored is None and caps == capabilities.assumed(env.provider)
        return
    assert stored is not None
    assert (stored.tools, stored.forced_tool_choice, stored.json_schema, stored.streaming,
            stored.stream_usage) == expected
    assert stored.source in ("probe", "traffic")


# ---- background tasks ------------------------------------------------------------------------------------------

async def test_deriver(env: Env) -> None:
    await create_session(env.client, env.ws, "derive", peers={"alice": {}, "bob": {"observe_others": True}})
    created = await add_messages(env.client, env.ws, "derive", [
        msg("bob", "How was your weekend?"), msg("alice", "I went hiking yesterday with my sister Joan")])
    start, _ = env.mark()
    await _drain(env)
    _all_done(await session_jobs(env.deps, env.ws, "derive", "representation"))
    async with env.deps.db.read() as conn:
        rows = list(await conn.execute(sql_select(conclusions).where(
            conclusions.c.workspace_id == await workspace_pk(env.deps, env.ws))))
    ids = {m["id"] for m in created}
    for row in rows:  # the fakes answer minimal JSON (no conclusions): whatever is there must be sound
        assert row.content.strip() and row.level == "explicit" and set(row.message_ids) <= ids
    assert env.mode_since(start) == env.expected.structured
    assert all(r.ok for r in await _calls(env, "deriver"))


async def test_summaries(env: Env) -> None:
    config = {"reasoning": {"enabled": False},
              "summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
    await create_session(env.client, env.ws, "summ", peers={"alice": {}, "bob": {}}, configuration=config)
    await add_messages(env.client, env.ws, "summ", [msg("alice" if i % 2 else "bob", f"note {i} about the garden")
                                                    for i in range(1, 21)])
    start, _ = env.mark()
    await _drain(env)
    _all_done(await session_jobs(env.deps, env.ws, "summ", "summary"))
    body = expect(await env.client.get(ws_url(env.ws, "sessions", "summ", "summaries")), 200)
    for kind in ("short_summary", "long_summary"):
        content = body[kind]["content"]
        assert content.strip() and not _ERROR_ECHO.match(content) and "<think>" not in content
    assert env.mode_since(start) == "text"


async def _dream(env: Env, observer: str, body: dict[str, Any]) -> None:
    for fact in (f"{observer} lives in Lisbon", f"{observer} lives in Lisbon, Portugal", f"{observer} is a nurse"):
        await store_conclusion(env.deps, env.ws, observer, observer, fact, session="chat")
    start, _ = env.mark()
    expect(await env.client.post(ws_url(env.ws, "schedule_dream"), json={"observer": observer, **body}), 204)
    await _drain(env)
    _all_done(await _dream_jobs(env, observer))
    assert env.mode_since(start) == env.expected.structured
    assert (await _calls(env, "dream"))[-1].ok


async def test_dream(env: Env) -> None:
    await _dream(env, "alice", {"dream_type": "omni"})


async def test_card_refresh(env: Env) -> None:
    expect(await env.client.put(ws_url(env.ws, "peers/bob/card"), json={"peer_card": ["IDENTITY: old line"]}), 200)
    await _dream(env, "bob", {"dream_type": "card_refresh", "rebuild": True})
    card = expect(await env.client.get(ws_url(env.ws, "peers/bob/card")), 200)["peer_card"]
    assert "IDENTITY: old line" not in (card or [])  # rebuilt from the conclusions


# ---- chat --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_peer_chat(env: Env, stream: bool) -> None:
    start, wire = env.mark()
    assert await _chat(env, "peers/alice/chat", {"query": QUESTION}, stream) == {"content": env.answer}
    sent = env.since(start)
    assert env.mode_since(start) == (env.expected.stream if stream else env.expected.chat)
    assert all(s.streamed == stream for s in sent)
    if env.expected.chat == "text" and isinstance(env.fake, OpenAIFake):
        assert all("tools" not in b for b in env.wire_since(wire))  # an endpoint that cannot call tools gets none
    row = (await _calls(env, "dialectic_low"))[-1]
    assert row.ok and row.input_tokens > 0 and row.output_tokens > 0  # counted locally when not reported


class Place(BaseModel):
    city: str
    since: int | None = None


SCHEMAS = {"pydantic": Place.model_json_schema(),
           "optional": {"type": "object", "properties": {"summary": {"type": "string"}}}}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("schema", list(SCHEMAS))
async def test_peer_chat_structured(env: Env, schema: str, stream: bool) -> None:
    start, _ = env.mark()
    body = await _chat(env, "peers/alice/chat", {"query": QUESTION, "response_format": SCHEMAS[schema]}, stream)
    answer = json.loads(body["content"])
    jsonschema.validate(answer, SCHEMAS[schema])  # an optional property may be absent, never null
    if schema == "pydantic":
        Place.model_validate(answer)
    assert env.mode_since(start) == env.expected.structured_chat


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_peer_chat_with_evidence(env: Env, stream: bool) -> None:
    body = await _chat(env, "peers/alice/chat", {"query": QUESTION, "include_evidence": True}, stream)
    assert body["content"] == env.answer
    evidence = body["evidence"]
    assert set(evidence) == {"conclusions", "messages", "tool_calls", "reasoning_trace_id"}
    if env.expected.chat == "tools":
        assert evidence["tool_calls"]  # what the model looked up
    else:
        assert evidence["messages"]  # read ahead for a model without tools: the messages matching the question


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_workspace_chat(env: Env, stream: bool) -> None:
    start, _ = env.mark()
    assert await _chat(env, "chat", {"query": "Who lives in Lisbon?"}, stream) == {"content": env.answer}
    assert env.mode_since(start) == (env.expected.stream if stream else env.expected.chat)


# ---- an endpoint no mode can serve ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def hopeless(deps: Deps) -> AsyncIterator[Env]:
    """Refuses response_format (HTTP 400), never calls a tool, reads no schema from the prompt: no JSON at all."""
    with OpenAIFake("schema_only", "refuses_response_format") as fake:
        async with _environment("hopeless", deps, fake, fake.base_url) as found:
            yield found


def _names_what_is_missing(error: str, task: str) -> None:
    assert "JSON schema (response_format) refused" in error and "tool calls ignored" in error
    assert f"HONCHO_LLM__{task.upper()}__MODEL" in error and "use a model that follows JSON instructions" in error
    assert "exceeded" not in error.lower()


async def test_without_json_the_structured_tasks_say_what_is_missing(hopeless: Env) -> None:
    env = hopeless
    await create_session(env.client, env.ws, "derive", peers={"alice": {}})
    await add_messages(env.client, env.ws, "derive", [msg("alice", "I went hiking yesterday")])
    await store_conclusion(env.deps, env.ws, "alice", "alice", "alice lives in Lisbon", session="chat")
    expect(await env.client.post(ws_url(env.ws, "schedule_dream"), json={"observer": "alice", "dream_type": "omni"}),
           204)
    await _drain(env)
    (derived,) = await session_jobs(env.deps, env.ws, "derive", "representation")
    (dream,) = await _dream_jobs(env, "alice")
    for job, task in [(derived, "deriver"), (dream, "dream")]:
        assert job.status == "failed"  # parked with the reason, not retried forever
        _names_what_is_missing(job.last_error, task)
    response = await env.client.post(ws_url(env.ws, "peers/alice/chat"),
                                     json={"query": QUESTION, "response_format": SCHEMAS["pydantic"]})
    assert response.status_code == 502
    _names_what_is_missing(response.json()["detail"], "dialectic_low")


async def test_without_json_the_text_tasks_still_work(hopeless: Env) -> None:
    env = hopeless
    assert await _chat(env, "peers/alice/chat", {"query": QUESTION}, True) == {"content": TEXT}
    assert await _chat(env, "chat", {"query": QUESTION}, False) == {"content": TEXT}
    config = {"reasoning": {"enabled": False},
              "summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
    await create_session(env.client, env.ws, "summ", peers={"bob": {}}, configuration=config)
    await add_messages(env.client, env.ws, "summ", [msg("bob", f"note {i}") for i in range(1, 11)])
    await _drain(env)
    _all_done(await session_jobs(env.deps, env.ws, "summ", "summary"))
