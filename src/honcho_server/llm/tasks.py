"""What an agent run is asked and what it gives back (llm/agent.py runs it). Kept apart from the engine so that
callers can describe runs without importing pydantic-ai and the provider SDKs, which load when a run is made."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any


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
    # The (instructions, prompt) for a model that cannot call tools: it answers in one call from what they read
    # ahead. None: `instructions` and `prompt` as they are.
    without_tools: Callable[[], Awaitable[tuple[str, str]]] | None = None


@dataclass(slots=True)
class AgentResult:
    output: Any  # str, or an instance of the task's output type
    tool_calls: list[ToolCall]  # the successful ones, in the order the model made them
    tool_rounds: int  # model turns that called tools
    requests: int
    input_tokens: int
    output_tokens: int
