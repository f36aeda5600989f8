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
    generation_pk: int | None = None  # the generation of memory the call derived for


# What an endpoint does with each feature: honours it, ignores it (answers as if it were not asked), refuses the
# request (HTTP 4xx), cannot be asked for it at all (the provider's API has no such request for this model), or
# nobody has looked yet.
YES, IGNORED, REFUSED, UNSUPPORTED, UNKNOWN = "yes", "ignored", "refused", "unsupported", "unknown"
FEATURES = ("tools", "forced_tool_choice", "json_schema", "streaming", "stream_usage")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one endpoint + model was seen to support (llm/capabilities.py learns it; the store keeps it)."""

    tools: str = UNKNOWN  # function calling
    forced_tool_choice: str = UNKNOWN  # tool_choice "required" (or the provider's equivalent)
    json_schema: str = UNKNOWN  # response_format json_schema (native structured output)
    streaming: str = UNKNOWN
    stream_usage: str = UNKNOWN  # a streamed answer reports its token usage
    source: str = "assumed"  # probe, traffic (learned from a failure), settings, assumed
    checked_at: str | None = None  # ISO time of the probe or the failure that taught it

    def as_dict(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in (*FEATURES, "source", "checked_at")}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Capabilities:
        known = {k: str(v) for k, v in data.items() if k in (*FEATURES, "source") and v is not None}
        checked = data.get("checked_at")
        return cls(**known, checked_at=str(checked) if checked else None)

    @property
    def known(self) -> bool:
        """Every feature that matters for choosing a mode has been looked at."""
        return UNKNOWN not in (self.tools, self.json_schema, self.streaming)

    def usable(self, feature: str) -> bool:
        """Worth using: honoured, or not known to fail."""
        return getattr(self, feature) in (YES, UNKNOWN)
