"""What the LLM layer learns about an endpoint and how it uses it: the probe against each behaviour real servers
show (tests/provider_fakes.py), remembering it in the store (no second probe), refusals learned from traffic, the
structured-output fallbacks, and the tolerant reading of answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from honcho_server.config import LLMSettings
from honcho_server.domain.llm import IGNORED, REFUSED, UNKNOWN, YES, Capabilities
from honcho_server.llm.base import LLMCall, LLMOutputError
from honcho_server.llm.client import LLMClient
from honcho_server.llm.probe import PROMPTS
from honcho_server.llm.tolerant import extract_json, strip_thinking
from provider_fakes import PROBED, OpenAIFake


class Facts(BaseModel):
    facts: list[str]


class MemoryStore:
    """A capability store in a dict (the server's is a table; tests/api covers it)."""

    def __init__(self) -> None:
        self.rows: dict[str, Capabilities] = {}
        self.saves = 0

    async def load(self, endpoint: str) -> Capabilities | None:
        return self.rows.get(endpoint)

    async def save(self, endpoint: str, provider: str, base_url: str | None, model: str,
                   capabilities: Capabilities) -> None:
        self.rows[endpoint] = capabilities
        self.saves += 1


async def _no_sleep(_: float) -> None:
    return None


def _client(fake: OpenAIFake, store: MemoryStore | None, calls: list[LLMCall] | None = None,
            **settings: Any) -> LLMClient:
    async def record(call: LLMCall) -> None:
        if calls is not None:
            calls.append(call)

    llm = LLMSettings(provider="openai-compatible", model="local", base_url=fake.base_url, **settings)
    return LLMClient(llm, record, sleep=_no_sleep, store=store)


@pytest.fixture
def fakes() -> Iterator[dict[str, OpenAIFake]]:
    found: dict[str, OpenAIFake] = {}
    yield found
    for fake in found.values():
        fake.__exit__(None, None, None)


def _fake(fakes: dict[str, OpenAIFake], *behaviours: str) -> OpenAIFake:
    fake = OpenAIFake(*behaviours).__enter__()
    fakes[" ".join(behaviours)] = fake
    return fake


@pytest.mark.parametrize("behaviour", PROBED)
async def test_the_probe_sees_what_each_endpoint_does(fakes: dict[str, OpenAIFake], behaviour: str) -> None:
    fake = _fake(fakes, behaviour)
    calls: list[LLMCall] = []
    report = await _client(fake, MemoryStore(), calls).probe("deriver")
    caps = report.capabilities
    assert report.reachable and report.auth_ok and report.error is None and report.sample
    assert (caps.tools, caps.forced_tool_choice, caps.json_schema, caps.streaming, caps.stream_usage) == \
        PROBED[behaviour]
    assert caps.source == "probe" and caps.checked_at
    assert len(fake.requests) <= 5 and all(r["max_tokens"] <= 200 for r in fake.requests)  # cheap
    assert [c.task for c in calls] == ["probe"] and calls[0].ok


async def test_what_was_learned_is_stored_and_not_probed_again(fakes: dict[str, OpenAIFake]) -> None:
    fake = _fake(fakes, "schema_only")
    store = MemoryStore()
    first = _client(fake, store)
    assert (await first.capabilities("deriver")).tools == IGNORED
    probed = len(fake.requests)
    assert probed and all(_user(r) in PROMPTS for r in fake.requests)
    # Another process (another client on the same store) and other tasks of the same endpoint: no new probe.
    second = _client(fake, store)
    assert (await second.capabilities("dialectic_low")).json_schema == YES
    assert await second.run("deriver", instructions="Extract facts.", prompt="Ann likes tea",
                            output_type=Facts) == Facts(facts=[])
    assert len(fake.requests) == probed + 1 and fake.requests[-1]["response_format"]["type"] == "json_schema"


async def test_without_a_store_nothing_is_probed(fakes: dict[str, OpenAIFake]) -> None:
    fake = _fake(fakes, "full")
    client = _client(fake, None)
    assert (await client.capabilities("deriver")).tools == UNKNOWN
    await client.run("summary", instructions="Summarise.", prompt="Ann: hi")
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("behaviour", "mode_field"), [
    ("full", "response_format"), ("schema_only", "response_format"), ("text_only", None),
    ("refuses_response_format", "tools"), ("refuses_tools", "response_format"), ("messy", "response_format"),
])
async def test_structured_answers_use_the_best_mode_the_endpoint_supports(
        fakes: dict[str, OpenAIFake], behaviour: str, mode_field: str | None) -> None:
    fake = _fake(fakes, behaviour)
    client = _client(fake, MemoryStore())
    await client.capabilities("deriver")
    probed = len(fake.requests)
    out = await client.run("deriver", instructions="Extract facts.", prompt="Ann likes tea", output_type=Facts)
    assert isinstance(out, Facts)
    (request,) = fake.requests[probed:]  # right the first time: no refused or ignored mode tried
    sent = {key for key in ("response_format", "tools") if key in request}
    assert sent == ({mode_field} if mode_field else set())


async def test_a_refusal_the_store_did_not_know_is_learned_from_the_request(fakes: dict[str, OpenAIFake]) -> None:
    fake = _fake(fakes, "refuses_response_format")
    store = MemoryStore()
    client = _client(fake, store)
    key = client.endpoint(client.describe("deriver"))
    store.rows[key] = Capabilities(tools=YES, forced_tool_choice=YES, json_schema=YES, streaming=YES,
                                   stream_usage=YES, source="probe")  # stale: the server was reconfigured
    out = await client.run("deriver", instructions="Extract facts.", prompt="Ann likes tea", output_type=Facts)
    assert isinstance(out, Facts)
    assert ["response_format" in r for r in fake.requests] == [True, False]  # refused, then a tool call
    assert store.rows[key].json_schema == REFUSED and store.rows[key].source == "traffic"
    await client.run("deriver", instructions="Extract facts.", prompt="Bob likes coffee", output_type=Facts)
    assert "response_format" not in fake.requests[-1] and len(fake.requests) == 3  # remembered


async def test_a_model_that_cannot_give_json_says_what_was_tried_and_what_to_set(
        fakes: dict[str, OpenAIFake]) -> None:
    fake = _fake(fakes, "refuses_response_format", "refuses_tools")
    calls: list[LLMCall] = []

    class Strict(BaseModel):
        count: int

    client = _client(fake, MemoryStore(), calls, output_retries=0)
    await client.capabilities("deriver")
    fake.complete = lambda body, number=1: {  # type: ignore[method-assign]  # a model that only chats
        "id": "x", "object": "chat.completion", "created": 0, "model": "local",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure! Ann likes tea."},
                     "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 5,
                                                         "total_tokens": 10}}
    with pytest.raises(LLMOutputError) as failure:
        await client.run("deriver", instructions="Count.", prompt="Ann likes tea", output_type=Strict)
    message = str(failure.value)
    assert "Exceeded maximum" not in message.split("tried")[0]
    assert "JSON schema (response_format)" not in message.split("Endpoint:")[0]  # refused: never tried
    assert "JSON asked for in the prompt" in message and "HONCHO_LLM__DERIVER__MODEL" in message
    assert "JSON schema (response_format) refused" in message  # what the endpoint does, from the probe


def _user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"a": 1}', '{"a": 1}'),
    ('```json\n{"a": 1}\n```\nLet me know if you need anything else.', '{"a": 1}'),
    ('<think>\nhmm {not this}\n</think>\n\n{"a": [1, 2]}', '{"a": [1, 2]}'),
    ('Here it is: {"a": {"b": "}"}} and that is all.', '{"a": {"b": "}"}}'),
    ("<think>unfinished thoughts", ""),
    ("no json here", "no json here"),
    ('[1, 2] then prose', "[1, 2]"),
])
def test_json_is_read_out_of_what_models_write(raw: str, expected: str) -> None:
    assert extract_json(raw) == expected


def test_reasoning_blocks_are_not_part_of_the_answer() -> None:
    assert strip_thinking("<think>a\nb</think>\n\nThe answer.") == "The answer."
    assert strip_thinking("<THINKING>x</THINKING>Yes") == "Yes"
    assert strip_thinking("Plain.") == "Plain."
