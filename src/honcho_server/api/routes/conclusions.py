"""Conclusion routes (spec section 9). Workspace-level keys only: peer and session tokens are refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, GenerationQuery, PagingDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import (
    ConclusionBatch,
    ConclusionOut,
    ConclusionQueryBody,
    ListBody,
    PageOut,
    ReceiptOut,
)
from honcho_server.services import conclusions
from honcho_server.services.conclusions import ConclusionInput, ConclusionQuery

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/conclusions", tags=["conclusions"], route_class=PolicyRoute)


@router.post("", response_model=list[ConclusionOut], status_code=201)
@policy()
async def create_conclusions(workspace_id: str, body: ConclusionBatch, deps: DepsDep) -> Response:
    """Store explicit conclusions (the `observations` key is accepted too); returned in request order."""
    items = [ConclusionInput(c.content, c.observer_id, c.observed_id, c.session_id) for c in body.conclusions]
    created = await conclusions.create(deps, workspace_id, items)
    return render.respond([render.conclusion(c) for c in created], 201)


@router.post("/list", response_model=PageOut[ConclusionOut])
@policy()
async def list_conclusions(
    workspace_id: str, deps: DepsDep, paging: PagingDep, body: Annotated[ListBody | None, Body()] = None,
    generation: GenerationQuery = None,
) -> Response:
    """Newest first (`reverse=true`: oldest first)."""
    page = await conclusions.list_page(
        deps, workspace_id, body.filters if body else None, paging.page, paging.size, paging.reverse, generation
    )
    return render.respond(render.page(page, render.conclusion))


@router.post("/query", response_model=list[ConclusionOut])
@policy()
async def query_conclusions(workspace_id: str, body: ConclusionQueryBody, deps: DepsDep,
                            generation: GenerationQuery = None) -> Response:
    """The conclusions of one observer about one peer closest in meaning to `query`, most similar first."""
    found = await conclusions.query(
        deps, workspace_id, ConclusionQuery(body.query, body.top_k, body.distance, body.filters), generation
    )
    return render.respond([render.conclusion(c) for c in found])


@router.get("/{conclusion_id}", response_model=ConclusionOut)
@policy()
async def get_conclusion(workspace_id: str, conclusion_id: str, deps: DepsDep,
                         generation: GenerationQuery = None) -> Response:
    return render.respond(render.conclusion(await conclusions.get(deps, workspace_id, conclusion_id, generation)))


@router.delete("/{conclusion_id}", status_code=204, responses={200: {"model": ReceiptOut,
                                                                     "description": "The receipt (`receipt=true`)"}})
@policy()
async def delete_conclusion(
    workspace_id: str, conclusion_id: str, deps: DepsDep,
    receipt: Annotated[bool, Query(description="answer 200 with the deletion's receipt instead of 204")] = False,
) -> Response:
    """Delete a conclusion and what rests on it (conclusions left without premises or sources; history it
    superseded comes back). 204 without a body, as the SDK expects, with the receipt's counts in the
    `X-Honcho-Receipt` header; with `receipt=true`, 200 and the whole receipt."""
    done = await conclusions.delete(deps, workspace_id, conclusion_id)
    return render.receipt(done) if receipt else render.receipt_only_header(done)
