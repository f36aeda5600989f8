"""A scripted agent model for chat tests: pydantic-ai's FunctionModel answering turn by turn from the test's
script, streamed or not, recording what it was shown (prompt, offered tools, tool results).

A turn is a function of the `Turn` (what the model sees now) returning the parts of its response: tool calls
(`call(...)`), an answer (`answer(...)`) or text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from pydantic_ai.usage import RequestUsage

from honcho_server.config import LLMSettings
from honcho_server.llm.client import LLMClient
from honcho_server.services.deps import Deps


@dataclass
class Turn:
    """What the model is shown at one request."""

    messages: list[ModelMessage]
    info: AgentInfo

    @property
    def tools(self) -> list[str]:
        return [t.name for t in self.info.function_tools]

    @property
    def output_tools(self) -> list[str]:
        return [t.name for t in self.info.output_tools]

    @property
    def prompt(self) -> str:
        return "\n".join(str(p.content) for m in self.messages if isinstance(m, ModelRequest)
                         for p in m.parts if isinstance(p, UserPromptPart))

    @property
    def instructions(self) -> str:
        return self.info.instructions or ""

    def results(self, tool: str | None = None) -> list[str]:
        """The text of every tool result so far (of one tool when named), in order."""
        return [str(p.content) for m in self.messages if isinstance(m, ModelRequest) for p in m.parts
                if isinstance(p, ToolReturnPart) and (tool is None or p.tool_name == tool)]

    @property
    def seen(self) -> str:
        """Everything the model has been shown: instructions, prompt and tool results."""
        return "\n".join([self.instructions, self.prompt, *self.results()])


def call(tool: str, **args: Any) -> ToolCallPart:
    return ToolCallPart(tool, args)


def answer(text: str | None = None, **fields: Any) -> ToolCallPart:
    """The final answer: text, or the fields of a structured one."""
    return ToolCallPart("answer", {"answer": text} if text is not None else fields)


Step = Callable[[Turn], list[Any]]


@dataclass
class ScriptedModel:
    """Answers requests with `steps` in order (the last one repeats), recording every turn."""

    steps: list[Step]
    turns: list[Turn] = field(default_factory=list)
    chunk: int = 7  # characters of tool-call arguments per streamed delta
    usage: RequestUsage = field(default_factory=lambda: RequestUsage(input_tokens=100, output_tokens=20))

    def _parts(self, messages: list[ModelMessage], info: AgentInfo) -> list[Any]:
        turn = Turn(list(messages), info)
        self.turns.append(turn)
        step = self.steps[min(len(self.turns) - 1, len(self.steps) - 1)]
        return step(turn)

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=self._parts(messages, info), usage=self.usage)

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        for index, part in enumerate(self._parts(messages, info)):
            if isinstance(part, TextPart):
                yield part.content
                continue
            args = json.dumps(part.args)
            pieces = [args[i:i + self.chunk] for i in range(0, len(args), self.chunk)]
            yield {index: DeltaToolCall(name=part.tool_name, json_args=pieces[0], tool_call_id=f"call-{index}")}
            for piece in pieces[1:]:
                yield {index: DeltaToolCall(json_args=piece)}

    def model(self) -> FunctionModel:
        return FunctionModel(self.respond, stream_function=self.stream)


def with_model(deps: Deps, scripted: ScriptedModel, **llm: Any) -> Deps:
    """Deps on the same database whose LLM is the scripted model (provider openai: tool output mode)."""
    settings = deps.settings.model_copy(deep=True)
    settings.llm = LLMSettings.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key",
                                               **llm})

    async def no_wait(_: float) -> None:
        return None

    chat = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder, vectors_ready=deps.vectors_ready,
                now=deps.now)
    chat.llm_instance = LLMClient(settings.llm, chat.record_llm_call, model_for=lambda *_: scripted.model(),
                                  sleep=no_wait)
    return chat
