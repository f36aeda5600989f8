"""Agent runs: a model that may call the caller's tools for a bounded number of turns, then answers.

* Tools are plain async functions (typed parameters and a docstring make their schema) returning a
  `ToolAnswer`: the text the model reads, and whatever the caller wants kept of that call (`found`). Tool calls
  the model makes in one turn run concurrently. A tool that raises is answered to the model as an error and not
  counted as successful; the run goes on.
* `max_tool_rounds` bounds the turns that may call tools: from the next turn on only the answer is offered, so
  the model must answer then.
* A text answer is offered as a tool call (`answer`) to a model that calls tools: text it writes next to its
  tool calls ("let me look that up") is never mistaken for the answer, and the answer is streamed from the answer
  turn only (it is generated once). A turn of plain text without any tool call is taken as the answer too (many
  models answer that way when they have what they need).
* A model that cannot call tools (its endpoint ignores or refuses them: llm/capabilities.py) is sent no tools; it
  answers in one call from the task's `without_tools` instructions and prompt (which read more ahead). An endpoint
  that refuses a run's tools or JSON schema with HTTP 4xx gets the run again without them, and that is remembered.
* Structured answers use the best mode the endpoint supports (native JSON schema, tool, or prompted).
* Provider requests are retried one by one on transient failures (the client's models, llm/retrying.py); the
  run, its tokens, requests and latency are recorded once, as for `LLMClient.run`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field
from pydantic_ai import Agent, capture_run_messages
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, ModelRetry
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
)
from pydantic_ai.output import NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.tools import RunContext, Tool
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_ai.toolsets.wrapper import WrapperToolset
from pydantic_ai.usage import RunUsage, UsageLimits
from pydantic_core import from_json

from honcho_server.domain.llm import IGNORED, REFUSED
from honcho_server.llm import capabilities, models
from honcho_server.llm.base import LLMOutputError
from honcho_server.llm.retrying import refused
from honcho_server.llm.tasks import AgentResult, AgentTask, ToolAnswer, ToolCall
from honcho_server.llm.tolerant import strip_thinking
from honcho_server.llm.usage import estimate_usage

if TYPE_CHECKING:
    from honcho_server.config import LLMSettings
    from honcho_server.domain.llm import Capabilities
    from honcho_server.llm.base import LLMError

log = logging.getLogger("honcho_server.llm")
ANSWER_TOOL = "answer"
ANSWER_DESCRIPTION = "Give your final answer. Call this once, when you are ready to answer, and call nothing else then."


class ModelHost(Protocol):
    """What a run needs of the LLM client (llm/client.py, which calls into this module, never the reverse): the
    task's model, its request settings, what its endpoint supports, and the accounting of every run."""

    settings: LLMSettings

    async def resolved(self, task: str) -> tuple[models.TaskModel, Capabilities, Any]: ...

    def model_settings(self, spec: models.TaskModel, max_output_tokens: int | None) -> Any: ...

    async def capabilities(self, task: str) -> Capabilities: ...

    async def learn(self, task: str, **changes: str) -> None: ...

    async def failed(self, spec: models.TaskModel, usage: RunUsage, started: float, workspace_pk: int | None,
                     exc: BaseException) -> LLMError: ...

    async def record(self, spec: models.TaskModel, usage: RunUsage, started: float, error: str | None,
                     workspace_pk: int | None, task_name: str | None = None) -> None: ...

    def no_structured_answer(self, spec: models.TaskModel, caps: Capabilities, tried: list[str]) -> LLMOutputError:
        ...

    def mode_name(self, mode: str) -> str: ...


class _Answer(BaseModel):
    answer: str = Field(description="the complete answer, in plain text")


@dataclass
class _Recording(WrapperToolset[Any]):
    """Runs the caller's tools, keeps what each successful call found (by call id), and turns a failure into a
    message to the model."""

    calls: dict[str, tuple[bool, dict[str, Any], Any]] = field(default_factory=dict)

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any],
                        tool: ToolsetTool[Any]) -> Any:
        call_id = ctx.tool_call_id or f"{name}-{len(self.calls)}"
        try:
            result = await super().call_tool(name, tool_args, ctx, tool)
        except ModelRetry:
            raise
        except Exception as exc:
            log.exception("tool %s failed", name)
            self.calls[call_id] = (False, tool_args, None)
            return f"Error: the tool failed ({type(exc).__name__}); try another way."
        if isinstance(result, ToolAnswer):
            self.calls[call_id] = (result.ok, tool_args, result.found)
            return result.text
        self.calls[call_id] = (True, tool_args, None)
        return result


_SCHEMAS: dict[Any, Any] = {}  # a tool function's schema, by function (methods: one for every instance)


def _tool(function: Callable[..., Awaitable[Any]]) -> Tool[Any]:
    """A pydantic-ai tool of `function`; its schema (signature and docstring parsed) is built once per function."""
    key = getattr(function, "__func__", function)
    schema = _SCHEMAS.get(key)
    if schema is None:
        tool: Tool[Any] = Tool(function)
        _SCHEMAS[key] = tool.function_schema
        return tool
    return Tool(function, function_schema=replace(schema, function=function))


def _output(output_type: Any, mode: str, tools: bool) -> Any:
    if output_type is str:
        return [ToolOutput(_Answer, name=ANSWER_TOOL, description=ANSWER_DESCRIPTION), str] if tools else str
    if mode == "tool":
        return ToolOutput(output_type, name=ANSWER_TOOL, description=ANSWER_DESCRIPTION)
    return {"native": NativeOutput, "prompted": PromptedOutput}[mode](output_type)


@dataclass(slots=True)
class _Run:
    spec: models.TaskModel
    agent: Agent[Any, Any]
    recording: _Recording
    tool_names: frozenset[str]
    settings: Any
    limits: UsageLimits
    prompt: str
    uses_tools: bool
    mode: str  # text, native, tool or prompted
    streaming: str  # what the endpoint does with a streamed request
    usage: RunUsage = field(default_factory=RunUsage)
    started: float = field(default_factory=time.perf_counter)


async def _prepare(client: ModelHost, task: AgentTask, fallback: bool = False) -> _Run:
    """The run as the endpoint allows it; `fallback`: without tools and JSON schema (after a 4xx refusal)."""
    spec, caps, model = await client.resolved(task.task)
    rounds = task.max_tool_rounds
    uses_tools = bool(task.tools) and rounds > 0 and caps.usable("tools") and not fallback
    instructions, prompt = task.instructions, task.prompt
    if not uses_tools and task.without_tools is not None:
        instructions, prompt = await task.without_tools()
    mode = "text"
    if task.output_type is not str:
        # With tools in play the answer is one more tool call: a JSON schema enforced by constrained decoding (as
        # local servers do it) would keep the model from calling any tool at all.
        modes = ["tool"] if uses_tools and spec.output_mode == "auto" else capabilities.structured_modes(
            caps, spec.output_mode, models.native_possible(model))
        usable = [m for m in modes if (m != "tool" or uses_tools) and not (fallback and m == "native")]
        mode = usable[0] if usable else "prompted"
    tools = task.tools if uses_tools else ()
    functions = FunctionToolset([_tool(t) for t in tools]).filtered(lambda ctx, _: ctx.run_step <= rounds)
    recording = _Recording(functions)
    agent: Agent[Any, Any] = Agent(model, output_type=_output(task.output_type, mode, uses_tools),
                                   instructions=instructions, toolsets=[recording],
                                   retries={"output": client.settings.output_retries, "tools": 2})
    names = frozenset(getattr(t, "__name__", "") for t in tools)
    # Every tool turn, one answer, its re-asks, and one spare: a run that needs more is malformed.
    limits = UsageLimits(request_limit=(rounds if uses_tools else 0) + client.settings.output_retries + 2)
    return _Run(spec, agent, recording, names, client.model_settings(spec, task.max_output_tokens), limits, prompt,
                uses_tools, mode, caps.streaming)


def _refused(run: _Run, exc: BaseException) -> bool:
    """The endpoint refused a request carrying tools or a JSON schema (HTTP 4xx): worth one run without them."""
    return (run.uses_tools or run.mode == "native") and refused(exc)


async def _learn_refusal(client: ModelHost, first: _Run) -> None:
    """The run without tools and JSON schema worked: the first one's feature was refused (when only one was
    used, it is clear which)."""
    if first.uses_tools and first.mode != "native":
        await client.learn(first.spec.task, tools=REFUSED)
    elif first.mode == "native" and not first.uses_tools:
        await client.learn(first.spec.task, json_schema=REFUSED)


def _result(run: _Run, output: Any, messages: list[ModelMessage]) -> AgentResult:
    calls, rounds = [], 0
    for message in messages:
        if not isinstance(message, ModelResponse):
            continue
        used = [p for p in message.parts if isinstance(p, ToolCallPart) and p.tool_name in run.tool_names]
        rounds += bool(used)
        for part in used:
            ok, args, found = run.recording.calls.get(part.tool_call_id, (False, {}, None))
            if ok:
                calls.append(ToolCall(part.tool_name, args, found))
    if isinstance(output, _Answer):
        output = output.answer
    elif isinstance(output, str):
        output = strip_thinking(output)
    return AgentResult(output=output, tool_calls=calls, tool_rounds=rounds,
                       requests=run.usage.requests, input_tokens=run.usage.input_tokens or 0,
                       output_tokens=run.usage.output_tokens or 0)


_FAILURES = (AgentRunError, ModelAPIError, TimeoutError)


async def run(client: ModelHost, task: AgentTask) -> AgentResult:
    """Run to the end; LLMProviderError / LLMOutputError as `LLMClient.run`."""
    prepared = await _prepare(client, task)
    try:
        return await _run_once(client, task, prepared)
    except _Refusal:
        result = await _run_once(client, task, await _prepare(client, task, fallback=True))
        await _learn_refusal(client, prepared)
        return result


class _Refusal(Exception):
    """A run's tools or JSON schema were refused (it was accounted for)."""


async def _run_once(client: ModelHost, task: AgentTask, prepared: _Run) -> AgentResult:
    with capture_run_messages() as messages:
        try:
            result = await prepared.agent.run(prepared.prompt, model_settings=prepared.settings,
                                              usage=prepared.usage, usage_limits=prepared.limits)
        except _FAILURES as exc:
            estimate_usage(prepared.usage, messages)
            error = await client.failed(prepared.spec, prepared.usage, prepared.started, task.workspace_pk, exc)
            if _refused(prepared, exc):
                raise _Refusal() from exc
            if isinstance(error, LLMOutputError) and task.output_type is not str:
                # As LLMClient.run says it: the mode tried, what the endpoint does, the settings that fix it.
                caps = await client.capabilities(task.task)
                error = client.no_structured_answer(prepared.spec, caps,
                                                    [f"{client.mode_name(prepared.mode)}: {error}"])
            raise error from exc
    estimate_usage(prepared.usage, messages)
    await client.record(prepared.spec, prepared.usage, prepared.started, None, task.workspace_pk)
    return _result(prepared, result.output, result.all_messages())


class AgentStream:
    """`async for delta in stream` gives the text answer as the model writes it; `result` is set once the
    iteration has ended. Only for text answers.

    The run has a task of its own, feeding a queue the reader drains: the run's context managers open and close
    in that one task however the reader is driven (from several tasks, or abandoned halfway), and a reader that
    stops early (closes its iterator) cancels the run, which is still accounted for."""

    _pending: set[asyncio.Task[None]] = set()  # accounting of abandoned runs, kept referenced until written

    def __init__(self, client: ModelHost, task: AgentTask) -> None:
        if task.output_type is not str:
            raise TypeError("only text answers are streamed")
        self._client, self._task = client, task
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.result: AgentResult | None = None

    def __aiter__(self) -> AsyncGenerator[str, None]:
        return self._read()

    async def _read(self) -> AsyncGenerator[str, None]:
        runner = asyncio.get_running_loop().create_task(self._run())
        try:
            while (item := await self._queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not runner.done():
                runner.cancel()

    async def _run(self) -> None:
        try:
            await self._produce()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # whatever ends the run early reaches the reader, which raises it
            self._queue.put_nowait(exc)

    async def _produce(self) -> None:
        client, task = self._client, self._task
        prepared = await _prepare(client, task)
        try:
            await self._stream(prepared)
        except _Refusal:
            await self._stream(await _prepare(client, task, fallback=True))
            await _learn_refusal(client, prepared)

    async def _stream(self, prepared: _Run) -> None:
        client, task, queue = self._client, self._task, self._queue
        if prepared.streaming in (REFUSED, IGNORED):  # the endpoint cannot stream: the answer comes in one piece
            self.result = await _run_once(client, task, prepared)
            if self.result.output:
                await queue.put(self.result.output)
            await queue.put(_END)
            return
        reader = _AnswerReader(live_text=not prepared.uses_tools)
        with capture_run_messages() as messages:
            try:
                async with prepared.agent.run_stream_events(prepared.prompt, model_settings=prepared.settings,
                                                            usage=prepared.usage,
                                                            usage_limits=prepared.limits) as events:
                    final: Any = None
                    async for event in events:
                        if isinstance(event, AgentRunResultEvent):
                            final = event.result.output
                        elif (delta := reader.read(event)):
                            await queue.put(delta)
                    if (rest := reader.rest(final)):
                        await queue.put(rest)
            except asyncio.CancelledError:  # the reader went away: account for the run without awaiting here
                pending = asyncio.get_running_loop().create_task(client.record(
                    prepared.spec, prepared.usage, prepared.started, "abandoned by the reader", task.workspace_pk))
                self._pending.add(pending)
                pending.add_done_callback(self._pending.discard)
                raise
            except _FAILURES as exc:
                estimate_usage(prepared.usage, messages)
                error = await client.failed(prepared.spec, prepared.usage, prepared.started, task.workspace_pk, exc)
                if not reader.sent and _refused(prepared, exc):
                    raise _Refusal() from exc
                error.__cause__ = exc
                await queue.put(error)
                return
            except Exception as exc:  # a bug: accounted for, then raised to the reader
                await client.record(prepared.spec, prepared.usage, prepared.started, f"failed: {exc!r}",
                                    task.workspace_pk)
                raise
            reported = bool(prepared.usage.output_tokens)
            estimate_usage(prepared.usage, messages)
        await client.record(prepared.spec, prepared.usage, prepared.started, None, task.workspace_pk)
        if not reported:
            await client.learn(task.task, stream_usage="no")
        self.result = _result(prepared, final, list(messages))
        await queue.put(_END)


class _AnswerReader:
    """Turns a run's stream events into the answer's text as it is written: the `answer` tool call's argument
    (parsed as partial JSON), or, for a model without tools, its text. Text of a model that has tools is only the
    answer once the run ends without another tool call, so it is given whole then (`rest`)."""

    def __init__(self, live_text: bool) -> None:
        self.live_text = live_text
        self.sent = ""
        self._answer: dict[int, str] = {}  # part index -> the answer call's arguments so far
        self._text: dict[int, str] = {}  # part index -> text so far
        self._responses = 0

    def read(self, event: Any) -> str:
        if isinstance(event, PartStartEvent):
            if event.index == 0:  # a new model response
                self._responses += 1
                self._answer.clear()
                self._text.clear()
            part = event.part
            if isinstance(part, ToolCallPart) and part.tool_name == ANSWER_TOOL:
                self._answer[event.index] = part.args if isinstance(part.args, str) else json.dumps(part.args or {})
            elif isinstance(part, TextPart):
                self._text[event.index] = part.content
            return self._so_far(event.index)
        if isinstance(event, PartDeltaEvent):
            delta = event.delta
            if isinstance(delta, ToolCallPartDelta) and event.index in self._answer:
                args = delta.args_delta
                self._answer[event.index] += args if isinstance(args, str) else json.dumps(args or {})
            elif isinstance(delta, TextPartDelta) and event.index in self._text:
                self._text[event.index] += delta.content_delta
            return self._so_far(event.index)
        return ""

    def _so_far(self, index: int) -> str:
        if index in self._answer:
            try:
                parsed = from_json(self._answer[index] or "{}", allow_partial="trailing-strings")
            except ValueError:
                return ""
            text = parsed.get("answer") if isinstance(parsed, dict) else None
        elif index in self._text and self.live_text:
            text = self._text[index]
            if text.lstrip().startswith("<"):  # maybe a reasoning block split across chunks: wait for its end
                text = "" if ">" not in text else strip_thinking(text)
            # The answer is stripped (pydantic-ai splits a think block off, leaving the blank lines after it), so
            # what is streamed is too: leading whitespace never sent, trailing whitespace held until text follows.
            text = text.strip()
        else:
            return ""
        return self._advance(text if isinstance(text, str) else "")

    def _advance(self, text: str) -> str:
        if len(text) > len(self.sent) and text.startswith(self.sent):
            delta, self.sent = text[len(self.sent):], text
            return delta
        return ""

    def rest(self, final: Any) -> str:
        """What the final answer adds to what was sent."""
        text = final.answer if isinstance(final, _Answer) else strip_thinking(final) if isinstance(final, str) else ""
        if text and not text.startswith(self.sent):  # cannot happen with a well-formed stream
            log.warning("the streamed answer and the final one differ")
        return self._advance(text)


_END = object()
