"""The accounting record of one LLM run (written by the llm layer, stored by the store layer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One `LLMClient.run`, successful or not: what it cost and how long it took."""

    task: str  # deriver, summary, dialectic_<level>, dream
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    requests: int  # provider requests made, validation re-asks and transient retries included
    latency_ms: float
    cost_usd: float | None  # None when the model's price is unknown
    ok: bool
    error: str | None
    workspace_pk: int | None
