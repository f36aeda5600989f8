"""What the memory explorer (/ui) needs beyond the Honcho v3 routes, as /v3 extensions like `usage` and `scopes`:
a conclusion's provenance, the queue's failed jobs and their redrive, LLM usage per day.

Access: provenance and daily usage follow the conclusion and usage routes (admin or the workspace's key). Failed
jobs and redrive are the operator's (an admin key), as `honcho-server failed` / `redrive` are: the errors are the
server's own (provider answers, internals) and a redrive spends the operator's LLM budget again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel

from honcho_server.api import render
from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import ConclusionOut, MessageOut, as_utc
from honcho_server.domain.conclusions import Conclusion
from honcho_server.services import llm_usage, provenance, queue_status

router = APIRouter(prefix="/v3/workspaces/{workspace_id}", tags=["explorer"], route_class=PolicyRoute)
MAX_ERROR_CHARS = 4000  # of each failed job's error: enough to read the cause, not a whole traceback dump


class ConclusionHistoryOut(ConclusionOut):
    superseded_by: str | None  # the conclusion consolidation replaced it with (None: current)
    superseded_at: datetime | None


class ProvenanceOut(BaseModel):
    conclusion: ConclusionHistoryOut
    sources: list[MessageOut]
    premises: list[ConclusionHistoryOut]
    supersedes: list[ConclusionHistoryOut]
    replaced_by: ConclusionHistoryOut | None
    cited_by: list[ConclusionHistoryOut]


class FailedJobOut(BaseModel):
    id: int
    kind: str
    attempts: int
    error: str | None
    failed_at: datetime


class RedriveOut(BaseModel):
    requeued: int


class DailyUsageOut(BaseModel):
    day: str
    task: str
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


@router.get("/conclusions/{conclusion_id}/provenance", response_model=ProvenanceOut)
@policy()
async def conclusion_provenance(workspace_id: str, conclusion_id: str, deps: DepsDep) -> render.JSON:
    """Where a conclusion comes from: its source messages, its premises (deductions, patterns, contradictions),
    the conclusions it replaced or that replaced it (supersession history), and the conclusions resting on it."""
    found = await provenance.of(deps, workspace_id, conclusion_id)

    def out(c: Conclusion) -> dict[str, Any]:
        mark = found.supersession.get(c.uid)
        return {**render.conclusion(c), "superseded_by": mark.superseded_by if mark else None,
                "superseded_at": mark.superseded_at if mark else None}

    return render.respond({
        "conclusion": out(found.conclusion), "sources": [render.message(m) for m in found.sources],
        "premises": [out(c) for c in found.premises], "supersedes": [out(c) for c in found.supersedes],
        "replaced_by": out(found.replaced_by) if found.replaced_by else None,
        "cited_by": [out(c) for c in found.cited_by]})


@router.get("/queue/failed", response_model=list[FailedJobOut])
@policy(admin_only=True)
async def failed_jobs(
    workspace_id: str, deps: DepsDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[FailedJobOut]:
    """Background jobs of the workspace parked as failed after their last attempt, with their errors, most recent
    first (`honcho-server failed`). Admin key only."""
    parked = await queue_status.failed_jobs(deps, workspace_id, limit)
    return [FailedJobOut(id=j.id, kind=j.kind, attempts=j.attempts, failed_at=j.updated_at,
                         error=(j.last_error or "")[:MAX_ERROR_CHARS] or None) for j in parked]


@router.post("/queue/redrive", response_model=RedriveOut)
@policy(admin_only=True)
async def redrive(workspace_id: str, deps: DepsDep) -> RedriveOut:
    """Send the workspace's failed jobs back to the queue with a fresh attempt budget (`honcho-server redrive`).
    Admin key only."""
    return RedriveOut(requeued=await queue_status.redrive(deps, workspace_id))


Moment = Annotated[datetime | None, AfterValidator(lambda v: as_utc(v) if v is not None else None)]


@router.get("/usage/daily", response_model=list[DailyUsageOut])
@policy()
async def daily_usage(
    workspace_id: str, deps: DepsDep,
    since: Annotated[Moment, Query(description="from this time (default: 30 days before `until`)")] = None,
    until: Annotated[Moment, Query(description="before this time (default: now)")] = None,
) -> list[DailyUsageOut]:
    """LLM calls, tokens and estimated cost per UTC day and task (at most 366 days at once), oldest first."""
    rows = await llm_usage.daily(deps, workspace_id, since, until)
    return [DailyUsageOut(day=r.day, task=r.task, calls=r.calls, failed_calls=r.failed, input_tokens=r.input_tokens,
                          output_tokens=r.output_tokens, cost_usd=r.cost_usd) for r in rows]
