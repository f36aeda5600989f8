"""LLMClient end to end over HTTP: the real OpenAI-compatible stack (openai SDK + pydantic-ai) against a loopback
server with scripted answers. Prompted JSON for local models, the provider's JSON-schema mode, a rate limit and
a server error retried, malformed JSON re-asked then given up on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from fake_openai import FakeOpenAI, Reply
from honcho_server.config import LLMSettings
from honcho_server.llm.base import LLMCall, LLMOutputError, LLMProviderError
from honcho_server.llm.client import LLMClient


class Conclusions(BaseModel):
    conclusions: list[str]


ANSWER = {"conclusions": ["Ann moved to Lisbon in May 2024"]}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _client(fake: FakeOpenAI, calls: list[LLMCall], **settings: Any) -> tuple[LLMClient, list[float]]:
    slept: list[float] = []

    async def record(call: LLMCall) -> None:
        calls.append(call)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    base = {"provider": "openai-compatible", "model": "llama3.2", "base_url": fake.base_url, **settings}
    return LLMClient(LLMSettings(**base), record, sleep=sleep), slept


async def test_prompted_json_from_a_local_model(fake: FakeOpenAI) -> None:
    calls: list[LLMCall] = []
    fake.script(ANSWER)
    client, _ = _client(fake, calls, output_mode="prompted")
    got = await client.run("deriver", instructions="Extract conclusions.", prompt="Ann: moved to Lisbon last month",
                           output_type=Conclusions)
    assert got == Conclusions(**ANSWER)
    (request,) = fake.chat_requests
    assert request["model"] == "llama3.2" and "tools" not in request and "response_format" not in request
    assert request["max_tokens"] == 4096 and "max_completion_tokens" not in request  # what every server knows
    sent = json.dumps(request["messages"])
    assert "conclusions" in sent and "Ann: moved to Lisbon last month" in sent  # the schema travels in the prompt
    assert calls[0].ok and calls[0].requests == 1 and calls[0].input_tokens > 0 and calls[0].cost_usd is None


async def test_auto_asks_an_openai_compatible_server_for_a_json_schema_first(fake: FakeOpenAI) -> None:
    fake.script(ANSWER)
    client, _ = _client(fake, [])
    assert await client.run("deriver", instructions="x", prompt="y", output_type=Conclusions) == Conclusions(**ANSWER)
    (request,) = fake.chat_requests
    assert request["response_format"]["type"] == "json_schema" and "tools" not in request


async def test_native_json_schema_mode(fake: FakeOpenAI) -> None:
    fake.script(ANSWER)
    client, _ = _client(fake, [], output_mode="native")
    assert await client.run("deriver", instructions="x", prompt="y", output_type=Conclusions) == Conclusions(**ANSWER)
    assert fake.chat_requests[0]["response_format"]["type"] == "json_schema"


async def test_rate_limits_and_server_errors_are_retried(fake: FakeOpenAI) -> None:
    calls: list[LLMCall] = []
    fake.script(Reply(429, headers={"Retry-After": "3"}), Reply(502), "All good.")
    client, slept = _client(fake, calls)
    assert await client.run("summary", instructions="x", prompt="y") == "All good."
    assert len(fake.chat_requests) == 3 and len(calls) == 1 and calls[0].ok
    assert 2.0 < slept[0] < 4.0  # Retry-After honoured (with jitter)


async def test_a_provider_that_stays_down_is_an_error_not_an_empty_answer(fake: FakeOpenAI) -> None:
    calls: list[LLMCall] = []
    fake.script(*[Reply(500)] * 3)
    client, _ = _client(fake, calls, max_retries=2)
    with pytest.raises(LLMProviderError):
        await client.run("deriver", instructions="x", prompt="y", output_type=Conclusions)
    assert len(fake.chat_requests) == 3 and fake.unused == 0 and not calls[0].ok


async def test_malformed_json_is_reasked_then_given_up(fake: FakeOpenAI) -> None:
    calls: list[LLMCall] = []
    fake.script("Here you go: {conclusions: [Ann]", {"conclusions": "Ann"}, ANSWER)
    client, _ = _client(fake, calls, output_retries=2, output_mode="prompted")
    assert await client.run("deriver", instructions="x", prompt="y", output_type=Conclusions) == Conclusions(**ANSWER)
    assert calls[-1].requests == 3

    fake.script(*["not json at all"] * 3)
    with pytest.raises(LLMOutputError):
        await client.run("deriver", instructions="x", prompt="y", output_type=Conclusions)
    assert not calls[-1].ok and "malformed" in (calls[-1].error or "") and calls[-1].requests == 3
