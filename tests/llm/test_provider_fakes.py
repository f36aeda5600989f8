"""The provider fakes (tests/provider_fakes.py) through the official SDKs and pydantic-ai: each wire fake carries
text, tool output, native output, a function tool and a stream, and each OpenAI behaviour does on the wire what it
promises (ignores, refuses, garnishes or cuts short)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.exceptions import ModelHTTPError, UnexpectedModelBehavior
from pydantic_ai.messages import ThinkingPart

from honcho_server.llm.models import TaskModel, build
from provider_fakes import (
    FILLER,
    PROSE,
    TEXT,
    AnthropicFake,
    GeminiFake,
    OpenAIFake,
    Seen,
    Tool,
    minimal,
    prompted_schema,
    think,
)


class Fact(BaseModel):
    content: str
    sources: list[int]


FACT = Fact(content=FILLER, sources=[])
TIMEOUT = 10.0  # not 5 s: the Google provider warns that is httpx's default


def _model(provider: str, model: str, base_url: str) -> Any:
    """The pydantic-ai model the server itself would use (llm/models.py build())."""
    return build(TaskModel(task="summary", provider=provider, model=model, base_url=base_url, api_key="k",
                           output_mode="auto", max_output_tokens=256, temperature=None, timeout_seconds=TIMEOUT))


def openai_model(fake: OpenAIFake, provider: str = "openai-compatible") -> Any:
    return _model(provider, "gpt-4o" if provider == "openai" else "llama3.2", fake.base_url)


def anthropic_model(fake: AnthropicFake) -> Any:
    return _model("anthropic", "claude-sonnet-5-5", fake.base_url)


def gemini_model(fake: GeminiFake) -> Any:
    return _model("gemini", "gemini-3.5-flash-lite", fake.base_url)


def with_search(model: Any, output_type: Any = str) -> tuple[Agent[None, Any], list[str]]:
    """An agent with one function tool, and the queries it was called with."""
    queries: list[str] = []
    agent = Agent(model, output_type=output_type)

    @agent.tool_plain
    def search(query: str) -> str:
        """Search memory."""
        queries.append(query)
        return "Bob drinks coffee."

    return agent, queries


# ---- the brain --------------------------------------------------------------------------------------------------

SEEN = Seen(prompt="Tea please", last_user="Tea please", called=frozenset(), tool_results=0)
SEARCH = Tool("search", {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
ANSWER = Tool("answer", {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]})
FINAL = Tool("final_result", {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]})


def test_the_brain_calls_a_function_tool_once_then_answers_with_the_output_tool() -> None:
    tools = [FINAL, ANSWER, SEARCH]
    (first,) = think(SEEN, tools)
    assert (first.name, first.args) == ("search", {"query": "Tea"})
    after = Seen("Tea please", "Tea please", frozenset({"search"}), 1)
    (last,) = think(after, tools)
    assert (last.name, last.args) == ("answer", {"answer": TEXT})  # `answer` before final_result
    assert think(after, [SEARCH]) == TEXT  # no output tool: text
    assert think(after, [SEARCH], required=True)[0].name == "search"  # forced: a tool all the same
    (named,) = think(SEEN, tools, named="final_result")
    assert (named.name, named.args) == ("final_result", {"content": FILLER})
    assert think(SEEN, []) == TEXT
    wanted = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]}
    assert think(SEEN, [], wanted) == '{"a": 0}'


def test_minimal_values_respect_the_schema_and_never_use_defaults() -> None:
    schema = {
        "$defs": {"Kind": {"enum": ["fact", "guess"]}},
        "type": "object",
        "required": ["kind", "tags", "maybe", "n", "fixed", "flag", "at", "answer", "pair"],
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]},
            "n": {"type": "number", "exclusiveMinimum": 0},
            "fixed": {"const": "x"},
            "flag": {"type": "boolean", "default": True},
            "at": {"type": "string", "format": "date-time"},
            "answer": {"type": "string"},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string", "maxLength": 3}]},
            "optional": {"type": "string", "default": "no"},
        },
    }
    assert minimal(schema) == {"kind": "fact", "tags": [FILLER, FILLER], "maybe": 3, "n": 1.0, "fixed": "x",
                               "flag": False, "at": "2024-01-01T00:00:00Z", "answer": TEXT, "pair": [0, "Ali"]}
    gemini = {"type": "OBJECT", "required": ["xs"], "properties": {"xs": {"type": "ARRAY", "minItems": "1",
                                                                          "items": {"type": "STRING"}}}}
    assert minimal(gemini) == {"xs": [FILLER]}  # Gemini's Schema: upper-case types, int64 as a string


def test_a_prompted_schema_is_found_only_when_json_is_asked_for() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    asked = f"Always respond with a JSON object that's compatible with this schema:\n\n{json.dumps(schema)}\n\nOK?"
    assert prompted_schema(asked) == schema
    assert prompted_schema(f"Here is a schema: {json.dumps(schema)}") is None
    assert prompted_schema("Respond in JSON.") is None


# ---- OpenAI Chat Completions -----------------------------------------------------------------------------------

WORKS, IGNORED, REFUSED = "works", "ignored", "refused"
# behaviour -> (tools: tool output and function tools, response_format: native output)
MATRIX = {
    "full": (WORKS, WORKS),
    "schema_only": (IGNORED, WORKS),
    "text_only": (IGNORED, IGNORED),
    "refuses_tools": (REFUSED, WORKS),
    "refuses_response_format": (WORKS, REFUSED),
    "messy": (WORKS, WORKS),
    "stream_quirks": (WORKS, WORKS),
}
BEHAVIOURS = list(MATRIX)


@pytest.fixture(params=BEHAVIOURS)
def fake(request: pytest.FixtureRequest) -> Iterator[OpenAIFake]:
    with OpenAIFake(request.param) as server:
        yield server


def _behaviour(fake: OpenAIFake) -> str:
    (name,) = fake.behaviours
    return name


def _content(reply: dict[str, Any]) -> str:
    return reply["choices"][0]["message"]["content"] or ""


async def test_plain_text(fake: OpenAIFake) -> None:
    result = await Agent(openai_model(fake)).run("Tea please")
    assert result.output.strip() == TEXT
    (request,) = fake.requests
    assert "tools" not in request and "response_format" not in request
    if _behaviour(fake) == "messy":  # the think block is in the raw answer; pydantic-ai splits it off
        assert _content(fake.replies[0]).startswith("<think>")
        assert any(isinstance(part, ThinkingPart) for part in result.all_messages()[-1].parts)
    else:
        assert _content(fake.replies[0]) == TEXT


async def test_tool_output(fake: OpenAIFake) -> None:
    tools, _ = MATRIX[_behaviour(fake)]
    run = Agent(openai_model(fake), output_type=ToolOutput(Fact)).run("Tea please")
    if tools == WORKS:
        assert (await run).output == FACT
        assert fake.requests[0]["tool_choice"] == "required"
    elif tools == REFUSED:
        with pytest.raises(ModelHTTPError) as error:
            await run
        assert error.value.status_code == 400 and "tools are not supported" in str(error.value.body)
    else:
        with pytest.raises(UnexpectedModelBehavior):  # text where a tool call was required, retried, given up
            await run
        assert fake.requests[0]["tool_choice"] == "required"
        assert not any("tool_calls" in reply["choices"][0]["message"] for reply in fake.replies)


async def test_native_output(fake: OpenAIFake) -> None:
    _, native = MATRIX[_behaviour(fake)]
    run = Agent(openai_model(fake), output_type=NativeOutput(Fact)).run("Tea please")
    if native == WORKS:
        assert (await run).output == FACT
    elif native == REFUSED:
        with pytest.raises(ModelHTTPError) as error:
            await run
        assert error.value.status_code == 400
    else:
        with pytest.raises(UnexpectedModelBehavior):
            await run
        assert _content(fake.replies[0]) == TEXT
    assert fake.requests[0]["response_format"]["type"] == "json_schema"
    if _behaviour(fake) == "messy":  # fenced, with prose after it: pydantic-ai still finds the JSON
        raw = _content(fake.replies[0])
        assert raw.startswith("<think>") and "```json\n{" in raw and raw.endswith(PROSE)


async def test_prompted_output(fake: OpenAIFake) -> None:
    run = Agent(openai_model(fake), output_type=PromptedOutput(Fact)).run("Tea please")
    if _behaviour(fake) == "schema_only":  # reads no prompt: plain text where JSON was asked for
        with pytest.raises(UnexpectedModelBehavior):
            await run
    else:
        assert (await run).output == FACT
    assert "response_format" not in fake.requests[0]  # the JSON schema travels in the system prompt


async def test_function_tool_then_answer(fake: OpenAIFake) -> None:
    tools, _ = MATRIX[_behaviour(fake)]
    agent, queries = with_search(openai_model(fake))
    if tools == REFUSED:
        with pytest.raises(ModelHTTPError) as error:
            await agent.run("Tea please")
        assert error.value.status_code == 400
        return
    result = await agent.run("Tea please")
    assert result.output.strip() == TEXT
    if tools == WORKS:
        assert queries == ["Tea"] and len(fake.requests) == 2
        assert fake.requests[0]["tool_choice"] == "auto"
        assert fake.requests[1]["messages"][-1]["role"] == "tool"
    else:
        assert queries == [] and len(fake.requests) == 1


async def test_streamed_text(fake: OpenAIFake) -> None:
    async with Agent(openai_model(fake)).run_stream("Tea please") as stream:
        chunks = [text async for text in stream.stream_text(delta=True, debounce_by=None)]
        output = await stream.get_output()
        usage = stream.usage
    assert output.strip() == TEXT and len(chunks) > 1
    (request,) = fake.requests
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    events = [json.loads(data) for data in fake.replies[0][:-1]]
    assert fake.replies[0][-1] == "[DONE]"
    finishes = [c["choices"][0]["finish_reason"] for c in events if c["choices"]]
    usages = [c for c in events if c.get("usage")]
    if _behaviour(fake) == "stream_quirks":
        assert set(finishes) == {None} and usages == [] and usage.output_tokens == 0
    else:
        assert finishes[-1] == "stop" and usages[0]["choices"] == [] and usage.output_tokens > 0
    if _behaviour(fake) == "messy":  # the tag is a delta of its own, as one token would be
        assert "<think>" in [c["choices"][0]["delta"].get("content") for c in events if c["choices"]]


async def test_a_streamed_tool_output_without_finish_reason_or_usage() -> None:
    with OpenAIFake("stream_quirks") as fake:
        async with Agent(openai_model(fake), output_type=ToolOutput(Fact)).run_stream("Tea please") as stream:
            assert await stream.get_output() == FACT
        deltas = [json.loads(data)["choices"][0]["delta"] for data in fake.replies[0][:-1]]
        assert sum(1 for delta in deltas if "tool_calls" in delta) > 2  # arguments in pieces


async def test_behaviours_combine() -> None:
    with OpenAIFake("messy", "stream_quirks") as fake:
        async with Agent(openai_model(fake)).run_stream("Tea please") as stream:
            assert (await stream.get_output()).strip() == TEXT
        events = [json.loads(data) for data in fake.replies[0][:-1]]
        assert "<think>" in [e["choices"][0]["delta"].get("content") for e in events]
        assert all(e["choices"][0]["finish_reason"] is None for e in events) and not any("usage" in e for e in events)
    assert OpenAIFake({"messy", "stream_quirks"}).behaviours == fake.behaviours
    with pytest.raises(ValueError, match="unknown behaviours"):
        OpenAIFake("polite")


async def test_a_named_tool_choice_is_obeyed() -> None:
    with OpenAIFake() as fake:
        agent, queries = with_search(openai_model(fake, provider="openai"), ToolOutput(Fact))
        result = await agent.run("Tea please", model_settings={"tool_choice": ["final_result"]})
    assert result.output == FACT and queries == []  # the named tool, though `search` was never called
    assert fake.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "final_result"}}


async def test_embeddings_and_models() -> None:
    from openai import AsyncOpenAI

    with OpenAIFake() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=TIMEOUT)
        got = await client.embeddings.create(model="any", input=["tea", "coffee"], dimensions=16)
        models = await client.models.list()
        await client.close()
    assert [len(item.embedding) for item in got.data] == [16, 16] and fake.embedded == ["tea", "coffee"]
    assert [model.id async for model in models] == ["fake"] and fake.requests == []


# ---- Anthropic Messages ----------------------------------------------------------------------------------------

async def test_anthropic_through_pydantic_ai() -> None:
    with AnthropicFake() as fake:
        model = anthropic_model(fake)
        assert (await Agent(model).run("Tea please")).output == TEXT
        assert (await Agent(model, output_type=ToolOutput(Fact)).run("Tea please")).output == FACT
        # Not {"type": "any"}: this model thinks (adaptively) by default and forcing a tool would turn that off, so
        # pydantic-ai forces only when told to; the model may answer in text and be re-asked.
        assert fake.requests[-1]["tool_choice"] == {"type": "auto"}
        assert (await Agent(model, output_type=NativeOutput(Fact)).run("Tea please")).output == FACT
        assert fake.requests[-1]["output_config"]["format"]["type"] == "json_schema"
        agent, queries = with_search(model)
        assert (await agent.run("Tea please")).output == TEXT and queries == ["Tea"]
        assert fake.requests[-1]["messages"][-1]["content"][0]["type"] == "tool_result"
        async with Agent(model).run_stream("Tea please") as stream:
            assert await stream.get_output() == TEXT
            assert stream.usage.output_tokens > 0
    assert all(request["stream"] for request in fake.requests)  # pydantic-ai streams every Anthropic request
    assert {path.split("?")[0] for path in fake.paths} == {"/v1/messages"}
    kinds = [json.loads(data)["type"] for data in fake.replies[0]]
    assert (kinds[0], kinds[-1]) == ("message_start", "message_stop") and "content_block_delta" in kinds


async def test_anthropic_unstreamed_through_the_sdk() -> None:
    from anthropic import AsyncAnthropic

    with AnthropicFake() as fake:
        client = AsyncAnthropic(api_key="k", base_url=fake.base_url, max_retries=0, timeout=TIMEOUT)
        tools: Any = [{"name": "search", "input_schema": SEARCH.schema}]
        message = await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, tools=tools,
                                               messages=[{"role": "user", "content": "Tea please"}])
        await client.close()
    assert message.stop_reason == "tool_use" and message.usage.output_tokens > 0
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "search" and block.input == {"query": "Tea"}


# ---- Gemini ----------------------------------------------------------------------------------------------------

async def test_gemini_through_pydantic_ai() -> None:
    with GeminiFake() as fake:
        model = gemini_model(fake)
        assert (await Agent(model).run("Tea please")).output == TEXT
        assert (await Agent(model, output_type=ToolOutput(Fact)).run("Tea please")).output == FACT
        assert fake.requests[-1]["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
        assert (await Agent(model, output_type=NativeOutput(Fact)).run("Tea please")).output == FACT
        config = fake.requests[-1]["generationConfig"]
        assert config["responseMimeType"] == "application/json" and "responseJsonSchema" in config
        agent, queries = with_search(model)
        assert (await agent.run("Tea please")).output == TEXT and queries == ["Tea"]
        assert "functionResponse" in fake.requests[-1]["contents"][-1]["parts"][0]
        async with Agent(model).run_stream("Tea please") as stream:
            assert await stream.get_output() == TEXT
            assert stream.usage.output_tokens > 0
    assert fake.paths[-1].endswith(":streamGenerateContent?alt=sse")
    assert fake.paths[0] == "/v1beta/models/gemini-3.5-flash-lite:generateContent"
    assert fake.headers[0]["x-goog-api-key"] == "k"
