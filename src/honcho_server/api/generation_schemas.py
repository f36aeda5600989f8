"""Wire models of the generations routes (docs/generations.md): the rederive request, and the documented shapes of
what the routes answer (they render plain dicts, api/render.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from honcho_server.api.schemas import Name, Text, UtcDatetime, ValidationErrorOut


def _no_nul(value: str) -> str:
    if "\x00" in value:  # no stored name holds one, and PostgreSQL refuses it in JSON and in lookups alike
        raise ValueError("must not contain a NUL character")
    return value


Plain = Annotated[str, AfterValidator(_no_nul)]


class TaskRecipeIn(BaseModel):
    """What a rederive changes of one deriving task's model settings; unset fields keep the server's."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field must not silently derive with the old setting

    provider: Plain | None = Field(default=None, max_length=32)
    model: Plain | None = Field(default=None, min_length=1, max_length=256)
    base_url: Plain | None = Field(default=None, min_length=1, max_length=400)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, gt=0)


class GenerationCreate(BaseModel):
    """Start re-deriving the workspace's memory into a new generation (or, with `dry_run`, only estimate it)."""

    # Unknown fields are refused (unlike the SDK's routes): a misspelt `max_cost_usd` must not start an uncapped run.
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    model: Plain | None = Field(default=None, min_length=1, max_length=256,
                              description="the model of every deriving task (deriver, summary, dream)")
    models: dict[str, TaskRecipeIn] | None = Field(
        default=None, description="per deriving task (deriver, summary, dream, or * for all), what to change")
    custom_instructions: Text | None = None
    peer: Plain | None = Field(default=None, description="re-derive only what concerns this peer")
    since: UtcDatetime | None = Field(default=None, description="re-derive only messages from this time on")
    sessions: list[Plain] | None = Field(default=None, max_length=1000, description="re-derive only these sessions")
    max_cost_usd: float | None = Field(default=None, ge=0, description="refuse when the estimate is above it")
    dry_run: bool = False

    def overrides(self) -> dict[str, dict[str, Any]]:
        """`models` as recipe overrides, `model` applied to every task (`*`) on top."""
        found = {task: fields.model_dump(exclude_none=True) for task, fields in (self.models or {}).items()}
        if self.model is not None:
            found["*"] = {**found.get("*", {}), "model": self.model}
        return found


class GenerationUsageOut(BaseModel):
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(description="null when a call's price is unknown")


class GenerationOut(BaseModel):
    id: str = Field(description="the public id, g<number>")
    name: str | None
    state: str = Field(description="building, ready, active, retired or failed")
    recipe: dict[str, Any]
    fingerprint: str
    scope: dict[str, Any]
    started_by: str
    progress: dict[str, Any]
    estimate: dict[str, Any] | None
    max_cost_usd: float | None
    usage: GenerationUsageOut
    error: str | None
    previous: str | None = Field(description="the generation active before this one was activated")
    created_at: datetime
    ready_at: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None


class GenerationListOut(BaseModel):
    items: list[GenerationOut]


class EstimateOut(BaseModel):
    estimate: dict[str, Any]


class CostCapOut(ValidationErrorOut):
    """A 422: invalid input as for every route, or a refused cost cap, which carries the estimate."""

    estimate: dict[str, Any] | None = None


class GenerationDeletedOut(BaseModel):
    deleted: dict[str, Any]
    counts: dict[str, int]


class GenerationCompareOut(BaseModel):
    a: GenerationOut
    b: GenerationOut
    peer: str | None
    pairs: list[dict[str, Any]]
    pairs_total: int
    summaries: list[dict[str, Any]]
    sessions_total: int
