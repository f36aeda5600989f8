"""Agent runs of the LLM layer (llm/agent.py) against FunctionModel: tools of one turn run concurrently; a turn
cap leaves only the answer; a failing tool is told to the model and not counted; provider requests are retried
one by one (streamed ones while opening), the whole run is accounted once; a streamed answer is read as written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agent_fakes import ScriptedModel, Turn, answer, call
from honcho_server.config import LLMSettings
from honcho_server.llm.base import LLMCall, LLMProviderError
from honcho_server.llm.client import LLMClient
from honcho_server.llm.tasks import AgentTask, ToolAnswer

running: set[str] = set()
peak: list[int] = [0]  # the most tools seen running at once


async def _tool(name: str) -> None:
    running.add(name)
    peak[0] = max(peak[0], len(running))
    try:  # run side by side, the second starts while the first sleeps (one event loop: no timing involved)
        await asyncio.sleep(0.05)
    finally:
        running.discard(name)


async def slow_a(query: str) -> ToolAnswer:
    """Slow tool A."""
    await _tool("a")
    return ToolAnswer(f"A:{query}", found=["a", query])


async def slow_b(query: str) -> ToolAnswer:
    """Slow tool B."""
    await _tool("b")
    return ToolAnswer(f"B:{query}", found=["b", query])


async def broken(query: str) -> ToolAnswer:
    """A tool whose backend is down."""
    raise RuntimeError("backend down")


async def refusing(query: str) -> ToolAnswer:
    """A tool that refuses its input."""
    return ToolAnswer("Error: bad query", ok=False)


def _client(model: Any, calls: list[LLMCall], **settings: Any) -> LLMClient:
    async def record(call: LLMCall) -> None:
        calls.append(call)

    async def no_sleep(_: float) -> None:
        return None

    return LLMClient(LLMSettings(provider="openai", model="gpt-4o-mini", api_key="test-key", **settings), record,
                     model_for=lambda *_: model, sleep=no_sleep)


def both_then_answer(turn: Turn) -> list[Any]:
    if turn.results():
        return [answer(" + ".join(turn.results()))]
    return [call("slow_a", query="x"), call("slow_b", query="y")]


async def test_tool_calls_of_one_turn_run_concurrently() -> None:
    calls: list[LLMCall] = []
    model = ScriptedModel([both_then_answer])
    task = AgentTask("dialectic_low", "Answer.", "Q?", tools=[slow_a, slow_b], max_tool_rounds=2)
    peak[0] = 0
    result = await _client(model.model(), calls).run_agent(task)
    assert peak[0] == 2  # side by side, not one after the other
    assert result.output == "A:x + B:y"
    assert [(c.name, c.args, c.found) for c in result.tool_calls] == [("slow_a", {"query": "x"}, ["a", "x"]),
                                                                      ("slow_b", {"query": "y"}, ["b", "y"])]
    assert (result.tool_rounds, result.requests, result.input_tokens, result.output_tokens) == (1, 2, 200, 40)
    (record,) = calls
    assert (record.task, record.ok, record.requests, record.input_tokens) == ("dialectic_low", True, 2, 200)


async def test_after_the_turn_cap_only_the_answer_is_offered() -> None:
    model = ScriptedModel([lambda t: [call("slow_a", query="again")] if t.tools else [answer("enough")]])
    result = await _client(model.model(), []).run_agent(
        AgentTask("dialectic_low", "Answer.", "Q?", tools=[slow_a], max_tool_rounds=2))
    assert result.output == "enough" and result.tool_rounds == 2
    assert [t.tools for t in model.turns] == [["slow_a"], ["slow_a"], []]


async def test_failed_tools_are_told_to_the_model_and_not_counted() -> None:
    model = ScriptedModel([lambda t: [call("broken", query="q"), call("refusing", query="q"), call("slow_a", query="q")]
                           if not t.results() else [answer("ok")]])
    result = await _client(model.model(), []).run_agent(
        AgentTask("dialectic_low", "Answer.", "Q?", tools=[broken, refusing, slow_a], max_tool_rounds=1))
    assert [c.name for c in result.tool_calls] == ["slow_a"]
    shown = model.turns[1].results()
    assert "Error: the tool failed (RuntimeError)" in shown[0] and shown[1] == "Error: bad query"


async def test_a_failed_request_is_retried_alone_not_the_run() -> None:
    tool_runs: list[str] = []

    async def counted(query: str) -> ToolAnswer:
        """Counts its runs."""
        tool_runs.append(query)
        return ToolAnswer("found")

    requests = 0

    def flaky(messages: list[ModelMessage], info: AgentInfo) -> Any:
        nonlocal requests
        requests += 1
        if requests == 2:  # the answer turn fails once
            raise ModelHTTPError(503, "gpt-4o-mini", {"error": "overloaded"})
        scripted = ScriptedModel([lambda t: [call("counted", query="q")] if len(messages) == 1 else [answer("ok")]])
        return scripted.respond(messages, info)

    calls: list[LLMCall] = []
    result = await _client(FunctionModel(flaky), calls).run_agent(
        AgentTask("dialectic_low", "Answer.", "Q?", tools=[counted], max_tool_rounds=1))
    assert result.output == "ok" and tool_runs == ["q"] and requests == 3
    assert len(calls) == 1 and calls[0].ok


async def test_a_provider_that_stays_down_is_a_provider_error_recorded_once() -> None:
    def down(messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise ModelHTTPError(500, "gpt-4o-mini", {"error": "down"})

    calls: list[LLMCall] = []
    with pytest.raises(LLMProviderError):
        await _client(FunctionModel(down), calls, max_retries=2).run_agent(AgentTask("dialectic_low", "A.", "Q?"))
    assert len(calls) == 1 and not calls[0].ok and "HTTP 500" in (calls[0].error or "")


async def test_a_streamed_answer_is_read_as_written_and_opening_is_retried() -> None:
    opened = 0
    scripted = ScriptedModel([both_then_answer], chunk=4)

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> Any:
        nonlocal opened
        opened += 1
        if opened == 1:
            raise ModelHTTPError(429, "gpt-4o-mini", {"error": "slow down"})
        async for item in scripted.stream(messages, info):
            yield item

    calls: list[LLMCall] = []
    client = _client(FunctionModel(scripted.respond, stream_function=stream), calls)
    streamed = client.stream_agent(AgentTask("dialectic_low", "Answer.", "Q?", tools=[slow_a, slow_b],
                                             max_tool_rounds=1))
    deltas = [d async for d in streamed]
    assert len(deltas) > 2 and "".join(deltas) == "A:x + B:y"
    assert streamed.result is not None and streamed.result.output == "A:x + B:y"
    assert streamed.result.tool_rounds == 1 and len(scripted.turns) == 2  # the answer turn ran once
    assert len(calls) == 1 and calls[0].ok


async def test_an_abandoned_stream_is_still_accounted() -> None:
    scripted = ScriptedModel([lambda t: [answer("a long answer " * 20)]], chunk=3)
    calls: list[LLMCall] = []
    streamed = _client(scripted.model(), calls).stream_agent(AgentTask("dialectic_low", "A.", "Q?"))
    deltas = streamed.__aiter__()
    await deltas.__anext__()
    await deltas.aclose()
    for _ in range(500):  # the accounting runs in the closed stream's cleanup: wait for it, not for a fixed time
        if calls:
            break
        await asyncio.sleep(0.01)
    assert len(calls) == 1 and calls[0].error == "abandoned by the reader"
