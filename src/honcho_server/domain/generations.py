"""A generation of a workspace's derived memory (docs/generations.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATES = ("building", "ready", "active", "retired", "failed")
# States whose generation new messages are derived into: the active one, and those being built or compared.
LIVE_STATES = ("active", "building", "ready")
_PUBLIC = re.compile(r"^g([1-9][0-9]{0,8})$")


@dataclass(frozen=True, slots=True)
class GenerationKey:
    """What work queued for a generation names it by: its key, and its number (the first one's keys stay bare)."""

    pk: int
    number: int


@dataclass(frozen=True, slots=True)
class Generation:
    pk: int
    workspace_pk: int
    number: int
    name: str | None
    state: str
    recipe: dict[str, Any]
    fingerprint: str
    scope: dict[str, Any]
    started_by: str
    progress: dict[str, Any]
    estimate: dict[str, Any] | None
    max_cost_usd: float | None
    previous_pk: int | None
    created_at: datetime
    ready_at: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None
    error: str | None

    @property
    def public_id(self) -> str:
        return f"g{self.number}"


def number_of(ref: str) -> int | None:
    """The number a public id (`g2`) names; None when `ref` is not one (then it may be a name)."""
    found = _PUBLIC.match(ref)
    return int(found.group(1)) if found else None


@dataclass(frozen=True, slots=True)
class PromptOverhead:
    """Tokens each deriving call spends on its fixed instructions, per task (reasoning/prompts.py measures them);
    the estimate adds them to the conversation it sends."""

    deriver: int
    summary: int
    dream: int


@dataclass(frozen=True, slots=True)
class TaskEstimate:
    """What one deriving task is expected to spend on a rederive."""

    task: str  # deriver, summary, dream
    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: the model's price is unknown


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rederive's expected spend, computed before any model call (services/generation_estimate.py)."""

    sessions: int
    messages: int
    tasks: list[TaskEstimate]
    output_ratio: float  # expected output tokens per input token (observed in the workspace, else a default)

    @property
    def input_tokens(self) -> int:
        return sum(t.input_tokens for t in self.tasks)

    @property
    def output_tokens(self) -> int:
        return sum(t.output_tokens for t in self.tasks)

    @property
    def cost_usd(self) -> float | None:
        """The total; None when any task's price is unknown (a cap cannot be promised then)."""
        costs = [t.cost_usd for t in self.tasks if t.calls]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    def as_json(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "messages": self.messages, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": self.cost_usd, "output_ratio": self.output_ratio,
                "tasks": [{"task": t.task, "provider": t.provider, "model": t.model, "calls": t.calls,
                           "input_tokens": t.input_tokens, "output_tokens": t.output_tokens, "cost_usd": t.cost_usd}
                          for t in self.tasks]}
