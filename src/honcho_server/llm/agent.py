"""Agent runs: a model that may call the caller's tools for a bounded number of turns, then answers.

* Tools are plain async functions (typed parameters and a docstring make their schema) returning a
  `ToolAnswer`: the text the model reads, and whatever the caller wants kept of that call (`found`). Tool calls
  the model makes in one turn run concurrently. A tool that raises is answered to the model as an error and not
  counted as successful; the run goes on.
* `max_tool_rounds` bounds the turns that may call tools: from the next turn on only the answer is offered, so
  the model must answer then.
* The final answer is itself a tool call (`answer`), in every output mode, when the answer is text: text a model
  writes next to its tool calls ("let me look that up") is never mistaken for the answer, and the answer can be
  streamed as the model writes it, from that turn only (it is generated once). Structured answers use the
  configured output mode (tool, native or prompted).
* Provider requests are retried one by one on transient failures (the client's models, llm/retrying.py); the
  run, its tokens, requests and latency are recorded once, as for `LLMClient.run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, ModelRetry
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.output import NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.tools import RunContext, Tool
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_ai.toolsets.wrapper import WrapperToolset
from pydantic_ai.usage import RunUsage, UsageLimits

from honcho_server.llm import models

if TYPE_CHECKING:
    from honcho_server.llm.client import LLMClient

log = logging.getLogger("honcho_server.llm")
ANSWER_TOOL = "answer"
ANSWER_DESCRIPTION = "Give your final answer. Call this once, when you are ready to answer, and call nothing else then."


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """What a tool returns: the text the model reads, and what the caller keeps of the call."""

    text: str
    found: Any = None
    ok: bool = True  # False: the call failed (bad input...); its text tells the model why


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A successful tool call: its name, its validated arguments, and what the tool kept."""

    name: str
    args: dict[str, Any]
    found: Any


@dataclass(frozen=True, slots=True)
class AgentTask:
    task: str  # an llm task (its model and settings), e.g. dialectic_low
    instructions: str
    prompt: str
    tools: Sequence[Callable[..., Awaitable[ToolAnswer]]] = ()
    max_tool_rounds: int = 0
    output_type: Any = str  # str, or a pydantic model class
    max_output_tokens: int | None = None
    workspace_pk: int | None = None


@dataclass(slots=True)
class AgentResult:
    output: Any  # str, or an instance of the task's output type
    tool_calls: list[ToolCall]  # the successful ones, in the order the model made them
    tool_rounds: int  # model turns that called tools
    requests: int
    input_tokens: int
    output_tokens: int


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


def _output(output_type: Any, mode: str) -> Any:
    if output_type is str:
        return ToolOutput(_Answer, name=ANSWER_TOOL, description=ANSWER_DESCRIPTION)
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
    usage: RunUsage = field(default_factory=RunUsage)
    started: float = field(default_factory=time.perf_counter)


def _prepare(client: LLMClient, task: AgentTask) -> _Run:
    spec, model = client.model(task.task)
    rounds = task.max_tool_rounds
    functions = FunctionToolset([_tool(t) for t in task.tools]).filtered(lambda ctx, _: ctx.run_step <= rounds)
    recording = _Recording(functions)
    agent: Agent[Any, Any] = Agent(model, output_type=_output(task.output_type, spec.output_mode),
                                   instructions=task.instructions, toolsets=[recording],
                                   retries={"output": client.settings.output_retries, "tools": 2})
    names = frozenset(getattr(t, "__name__", "") for t in task.tools)
    # Every tool turn, one answer, its re-asks, and one spare: a run that needs more is malformed.
    limits = UsageLimits(request_limit=rounds + client.settings.output_retries + 2)
    return _Run(spec, agent, recording, names, client.model_settings(spec, task.max_output_tokens), limits)


def _result(run: _Run, output: Any, messages: list[ModelMessage], text: bool) -> AgentResult:
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
    return AgentResult(output=output.answer if text else output, tool_calls=calls, tool_rounds=rounds,
                       requests=run.usage.requests, input_tokens=run.usage.input_tokens or 0,
                       output_tokens=run.usage.output_tokens or 0)


_FAILURES = (AgentRunError, ModelAPIError, TimeoutError)


async def run(client: LLMClient, task: AgentTask) -> AgentResult:
    """Run to the end; LLMProviderError / LLMOutputError as `LLMClient.run`."""
    prepared = _prepare(client, task)
    try:
        result = await prepared.agent.run(task.prompt, model_settings=prepared.settings, usage=prepared.usage,
                                          usage_limits=prepared.limits)
    except _FAILURES as exc:
        raise await client.failed(prepared.spec, prepared.usage, prepared.started, task.workspace_pk, exc) from exc
    await client.record(prepared.spec, prepared.usage, prepared.started, None, task.workspace_pk)
    return _result(prepared, result.output, result.all_messages(), task.output_type is str)


class AgentStream:
    """`async for delta in stream` gives the text answer as the model writes it; `result` is set once the
    iteration has ended. Only for text answers.

    The run has a task of its own, feeding a queue the reader drains: the run's context managers open and close
    in that one task however the reader is driven (from several tasks, or abandoned halfway), and a reader that
    stops early (closes its iterator) cancels the run, which is still accounted for."""

    _pending: set[asyncio.Task[None]] = set()  # accounting of abandoned runs, kept referenced until written

    def __init__(self, client: LLMClient, task: AgentTask) -> None:
        if task.output_type is not str:
            raise TypeError("only text answers are streamed")
        self._client, self._task = client, task
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.result: AgentResult | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._read()

    async def _read(self) -> AsyncIterator[str]:
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
        client, task, queue = self._client, self._task, self._queue
        prepared = _prepare(client, task)
        try:
            async with prepared.agent.run_stream(task.prompt, model_settings=prepared.settings,
                                                 usage=prepared.usage, usage_limits=prepared.limits) as streamed:
                sent = ""
                async for partial in streamed.stream_output(debounce_by=None):
                    text = partial.answer if isinstance(partial, _Answer) else ""
                    if len(text) > len(sent) and text.startswith(sent):
                        await queue.put(text[len(sent):])
                        sent = text
                final = await streamed.get_output()
                if final.answer.startswith(sent) and len(final.answer) > len(sent):
                    await queue.put(final.answer[len(sent):])
                elif not final.answer.startswith(sent):  # cannot happen with a well-formed stream
                    log.warning("%s: the streamed answer and the final one differ", task.task)
                messages = streamed.all_messages()
        except asyncio.CancelledError:  # the reader went away: account for the run without awaiting here
            pending = asyncio.get_running_loop().create_task(client.record(
                prepared.spec, prepared.usage, prepared.started, "abandoned by the reader", task.workspace_pk))
            self._pending.add(pending)
            pending.add_done_callback(self._pending.discard)
            raise
        except _FAILURES as exc:
            error = await client.failed(prepared.spec, prepared.usage, prepared.started, task.workspace_pk, exc)
            error.__cause__ = exc
            await queue.put(error)
            return
        except Exception as exc:  # a bug: accounted for, then raised to the reader
            await client.record(prepared.spec, prepared.usage, prepared.started, f"failed: {exc!r}",
                                task.workspace_pk)
            raise
        await client.record(prepared.spec, prepared.usage, prepared.started, None, task.workspace_pk)
        self.result = _result(prepared, final, messages, True)
        await queue.put(_END)


_END = object()
