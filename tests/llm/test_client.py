"""LLMClient against pydantic-ai's FunctionModel (a fake at the model interface): structured output in each
mode, retries of transient provider failures, re-asks of malformed answers, and the accounting record."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from honcho_server.config import LLMSettings
from honcho_server.llm.base import LLMCall, LLMNotConfigured, LLMOutputError, LLMProviderError
from honcho_server.llm.client import LLMClient


class Facts(BaseModel):
    facts: list[str]


GOOD = {"facts": ["Ann lives in Lisbon"]}


def _answer(info: AgentInfo, payload: Any) -> ModelResponse:
    usage = RequestUsage(input_tokens=120, output_tokens=30)
    if info.output_tools:  # tool mode: answer by calling the output tool
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)], usage=usage)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return ModelResponse(parts=[TextPart(text)], usage=usage)


def _client(script: list[Any], calls: list[LLMCall], **settings: Any) -> tuple[LLMClient, list[int]]:
    """A client whose model answers with `script` in order (an exception entry is raised instead)."""
    seen: list[int] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(len(messages))
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return _answer(info, step)

    async def record(call: LLMCall) -> None:
        calls.append(call)

    async def no_sleep(_: float) -> None:
        return None

    base = {"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key", **settings}
    client = LLMClient(LLMSettings(**base), record, model_for=lambda *_: FunctionModel(model), sleep=no_sleep)
    return client, seen


@pytest.mark.parametrize("mode", ["tool", "native", "prompted"])
async def test_structured_answer_in_every_mode(mode: str) -> None:
    calls: list[LLMCall] = []
    client, _ = _client([GOOD], calls, output_mode=mode)
    facts = await client.run("deriver", instructions="Extract facts.", prompt="Ann: I live in Lisbon",
                             output_type=Facts, workspace_pk=7)
    assert facts == Facts(**GOOD)
    (call,) = calls
    assert (call.task, call.provider, call.model, call.ok, call.workspace_pk) == ("deriver", "openai",
                                                                                  "gpt-4o-mini", True, 7)
    assert (call.input_tokens, call.output_tokens, call.requests) == (120, 30, 1)
    assert call.cost_usd == pytest.approx((120 * 0.15 + 30 * 0.60) / 1e6)


async def test_plain_text() -> None:
    client, _ = _client(["A short summary."], [])
    assert await client.run("summary", instructions="Summarise.", prompt="...") == "A short summary."


async def test_transient_failures_are_retried_and_counted() -> None:
    calls: list[LLMCall] = []
    busy = ModelHTTPError(429, "gpt-4o-mini", {"error": "rate limited"})
    down = ModelHTTPError(503, "gpt-4o-mini", {"error": "overloaded"})
    client, seen = _client([busy, down, GOOD], calls)
    assert await client.run("deriver", instructions="x", prompt="y", output_type=Facts) == Facts(**GOOD)
    assert len(seen) == 3 and len(calls) == 1 and calls[0].ok


async def test_retries_give_up_with_the_status() -> None:
    calls: list[LLMCall] = []
    client, seen = _client([ModelHTTPError(500, "m")] * 3, calls, max_retries=2)
    with pytest.raises(LLMProviderError) as raised:
        await client.run("deriver", instructions="x", prompt="y", output_type=Facts)
    assert raised.value.status == 500 and len(seen) == 3
    assert not calls[0].ok and "HTTP 500" in (calls[0].error or "")


async def test_client_errors_are_not_retried() -> None:
    client, seen = _client([ModelHTTPError(401, "m", {"error": "bad key"})], [])
    with pytest.raises(LLMProviderError) as raised:
        await client.run("deriver", instructions="x", prompt="y")
    assert raised.value.status == 401 and len(seen) == 1


@pytest.mark.parametrize("mode", ["tool", "prompted"])
async def test_malformed_answers_are_reasked_then_fail(mode: str) -> None:
    calls: list[LLMCall] = []
    bad = {"facts": "not a list"} if mode == "tool" else "Sure! Here are the facts: Ann lives in Lisbon."
    client, seen = _client([bad, bad, GOOD], calls, output_mode=mode, output_retries=2)
    assert await client.run("deriver", instructions="x", prompt="y", output_type=Facts) == Facts(**GOOD)
    assert len(seen) == 3 and calls[-1].requests == 3 and calls[-1].input_tokens == 360

    client, _ = _client([bad, bad, bad], calls, output_mode=mode, output_retries=2)
    with pytest.raises(LLMOutputError):
        await client.run("deriver", instructions="x", prompt="y", output_type=Facts)
    assert not calls[-1].ok and "malformed" in (calls[-1].error or "")


def test_task_settings_override_the_section() -> None:
    client = LLMClient(LLMSettings(provider="openai", model="gpt-4o-mini", api_key="k1",
                                   summary={"provider": "anthropic", "model": "claude-3-5-haiku-latest",
                                            "api_key": "k2"}))
    assert (client.describe("deriver").model, client.describe("deriver").api_key) == ("gpt-4o-mini", "k1")
    summary = client.describe("summary")
    assert (summary.provider, summary.model, summary.api_key) == ("anthropic", "claude-3-5-haiku-latest", "k2")


@pytest.mark.parametrize(("settings", "needle"), [
    ({}, "HONCHO_LLM__PROVIDER"),
    ({"provider": "openai"}, "HONCHO_LLM__MODEL"),
    ({"provider": "openai-compatible", "model": "llama3"}, "HONCHO_LLM__BASE_URL"),
    ({"provider": "openai", "model": "gpt-4o-mini"}, "OPENAI_API_KEY"),
    ({"provider": "anthropic", "model": "claude-sonnet-4-5"}, "ANTHROPIC_API_KEY"),
    ({"provider": "gemini", "model": "gemini-2.5-flash"}, "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ({"provider": "openai", "model": "m", "api_key": "k", "dream": {"provider": "anthropic"}},
     "dream: the anthropic provider"),
])
def test_not_configured_says_how_to_configure(settings: dict[str, Any], needle: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    llm = LLMSettings(**settings)
    task = "dream" if "dream" in settings else "deriver"
    with pytest.raises(LLMNotConfigured, match=re.escape(needle.removeprefix("dream: "))):
        LLMClient(llm).describe(task)
    if settings:  # a provider set incompletely: reasoning is off, with that reason
        assert not llm.enabled and needle in (llm.problem or "")


@pytest.mark.parametrize(("provider", "module", "extra"), [
    ("anthropic", "anthropic", "anthropic"), ("gemini", "google.genai", "gemini"),
])
def test_a_provider_whose_sdk_is_missing_names_the_install(provider: str, module: str, extra: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert LLMSettings(provider=provider, model="m", api_key="k").enabled  # the suite installs every SDK
    monkeypatch.setitem(sys.modules, module, None)  # what the import system reports for a missing package
    llm = LLMSettings(provider=provider, model="m", api_key="k")
    install = f"pip install 'honcho-server[{extra}]'"
    assert not llm.enabled and llm.problem == f"the {provider} provider's SDK is not installed: {install}"
    with pytest.raises(LLMNotConfigured, match=re.escape(install)):
        LLMClient(llm).describe("deriver")
    assert LLMSettings(provider="openai-compatible", model="m", base_url="http://127.0.0.1:9/v1").enabled


@pytest.mark.parametrize(("provider", "variable"), [
    ("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"), ("gemini", "GEMINI_API_KEY"),
    ("gemini", "GOOGLE_API_KEY"),
])
def test_the_key_falls_back_to_the_providers_variable(provider: str, variable: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "from-the-environment")
    llm = LLMSettings(provider=provider, model="m")
    assert llm.enabled and LLMClient(llm).describe("deriver").api_key == "from-the-environment"
    explicit = LLMSettings(provider=provider, model="m", api_key="explicit")
    assert LLMClient(explicit).describe("deriver").api_key == "explicit"


def test_a_task_moved_to_another_provider_inherits_neither_its_key_nor_its_root(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    llm = LLMSettings(provider="openai-compatible", model="llama3", base_url="http://localhost:11434/v1",
                      api_key="local", dream={"provider": "anthropic", "model": "claude-sonnet-4-5"})
    dream = LLMClient(llm).describe("dream")
    assert (dream.base_url, dream.api_key) == (None, "sk-ant")
    assert LLMClient(llm).describe("deriver").base_url == "http://localhost:11434/v1"


def test_an_openai_compatible_server_never_gets_a_hosted_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    llm = LLMSettings(provider="openai-compatible", model="llama3", base_url="http://localhost:11434/v1")
    assert LLMClient(llm).describe("deriver").api_key is None
