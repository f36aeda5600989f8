"""Generations of a workspace's derived memory (docs/generations.md): start a rederive, list, show, compare,
activate, roll back, retire, delete. Workspace-level keys only (admin, or the workspace's key): peer and session
keys are refused. The work is in services/generations.py and services/generation_compare.py."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PrincipalDep
from honcho_server.api.generation_schemas import (
    CostCapOut,
    EstimateOut,
    GenerationCompareOut,
    GenerationCreate,
    GenerationDeletedOut,
    GenerationListOut,
    GenerationOut,
)
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import ErrorOut
from honcho_server.domain.credentials import Principal
from honcho_server.domain.generations import PromptOverhead
from honcho_server.errors import ReasoningOff
from honcho_server.services import generation_compare, generations
from honcho_server.services.generations import CostCapRefused, GenerationInfo, StartRequest
from honcho_server.store.repos.generations import Usage

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/generations", tags=["generations"],
                   route_class=PolicyRoute)

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The generation's state does not allow it (the reason is said)"}}
START: dict[int | str, dict[str, Any]] = {
    **CONFLICT,
    200: {"model": EstimateOut, "description": "dry_run: the estimate only, nothing created"},
    400: {"model": ErrorOut, "description": "Reasoning is off (no LLM configured), or an unreadable body"},
    422: {"model": CostCapOut, "description": "Invalid input, or the estimate is above max_cost_usd (or cannot be "
          "priced while it is set): `detail` says why, with the estimate"},
}


def generation(info: GenerationInfo) -> dict[str, Any]:
    g = info.generation
    return {"id": g.public_id, "name": g.name, "state": g.state, "recipe": g.recipe, "fingerprint": g.fingerprint,
            "scope": g.scope, "started_by": g.started_by, "progress": g.progress, "estimate": g.estimate,
            "max_cost_usd": g.max_cost_usd, "usage": info.usage.as_json(), "error": g.error,
            "previous": info.previous, "created_at": g.created_at, "ready_at": g.ready_at,
            "activated_at": g.activated_at, "retired_at": g.retired_at}


def _prompts() -> tuple[str, PromptOverhead]:
    """The prompts' digest and token overhead (reasoning/, above the services: computed here, passed down)."""
    from honcho_server.reasoning import prompts

    overhead: PromptOverhead = prompts.overhead()
    return prompts.digest(), overhead


def _started_by(principal: Principal) -> str:
    return "admin" if principal.admin else f"workspace key ({principal.workspace})"


@router.get("", response_model=GenerationListOut)
@policy()
async def list_generations(workspace_id: str, deps: DepsDep) -> Response:
    """Every generation of the workspace, oldest first, with progress and usage."""
    return render.respond({"items": [generation(i) for i in await generations.list_(deps, workspace_id)]})


@router.post("", response_model=GenerationOut, status_code=201, responses=START)
@policy()
async def start_generation(workspace_id: str, body: GenerationCreate, deps: DepsDep, principal: PrincipalDep
                           ) -> Response:
    """Re-derive the workspace's memory (or the part `peer`, `since`, `sessions` name) into a new generation with
    the models given; 201 with it (state `building`), or 200 with `{"estimate": ...}` on a dry run."""
    if not deps.settings.llm.enabled:  # said before the prompts are measured for nothing
        raise ReasoningOff.because(deps.settings.llm.problem)
    digest, overhead = _prompts()
    request = StartRequest(name=body.name, models=body.overrides(), custom_instructions=body.custom_instructions,
                           peer=body.peer, since=body.since, sessions=body.sessions,
                           max_cost_usd=body.max_cost_usd, dry_run=body.dry_run)
    try:
        made, estimate = await generations.start(deps, workspace_id, request, digest, overhead,
                                                 _started_by(principal))
    except CostCapRefused as exc:
        return render.respond({"detail": exc.message, "estimate": exc.estimate.as_json()}, 422)
    if made is None:
        return render.respond({"estimate": estimate.as_json()})
    return render.respond(generation(GenerationInfo(made, Usage(), None)), 201)  # nothing spent yet


@router.get("/compare", response_model=GenerationCompareOut)
@policy()
async def compare_generations(
    workspace_id: str, deps: DepsDep, a: Annotated[str, Query(description="the baseline generation")],
    b: Annotated[str, Query(description="the generation compared with it")],
    peer: Annotated[str | None, Query(description="only the memory about this peer")] = None,
) -> Response:
    """Per (observer, observed): conclusions by level, those only in one, near-duplicates, card changes; the
    summaries per session; each one's usage."""
    found = await generation_compare.compare(deps, workspace_id, a, b, peer)
    return render.respond({"a": generation(found.a), "b": generation(found.b), "peer": found.peer,
                           "pairs": found.pairs, "pairs_total": found.pairs_total, "summaries": found.summaries,
                           "sessions_total": found.sessions_total})


@router.post("/rollback", response_model=GenerationOut, responses=CONFLICT)
@policy()
async def rollback_generation(workspace_id: str, deps: DepsDep) -> Response:
    """Activate again the generation that was active before the active one."""
    return render.respond(generation(await generations.rollback(deps, workspace_id)))


@router.get("/{generation_id}", response_model=GenerationOut)
@policy()
async def get_generation(workspace_id: str, generation_id: str, deps: DepsDep) -> Response:
    """One generation, by public id (`g2`) or name."""
    return render.respond(generation(await generations.get(deps, workspace_id, generation_id)))


@router.post("/{generation_id}/activate", response_model=GenerationOut, responses=CONFLICT)
@policy()
async def activate_generation(workspace_id: str, generation_id: str, deps: DepsDep) -> Response:
    """Serve this generation (`ready` or `retired`) from now on; the one active until now stays `ready`."""
    return render.respond(generation(await generations.activate(deps, workspace_id, generation_id)))


@router.post("/{generation_id}/retire", response_model=GenerationOut, responses=CONFLICT)
@policy()
async def retire_generation(workspace_id: str, generation_id: str, deps: DepsDep) -> Response:
    """Keep a `ready` generation without deriving into it any longer."""
    return render.respond(generation(await generations.retire(deps, workspace_id, generation_id)))


@router.delete("/{generation_id}", response_model=GenerationDeletedOut, responses=CONFLICT)
@policy()
async def delete_generation(workspace_id: str, generation_id: str, deps: DepsDep) -> Response:
    """Delete a generation that is not the active one, with its conclusions, summaries and peer cards."""
    receipt = await generations.delete(deps, workspace_id, generation_id)
    counts = json.dumps(receipt["counts"], separators=(",", ":"))  # as every cascading deletion's header
    return render.JSON(receipt, headers={render.RECEIPT_HEADER: counts})
