"""Workspace routes (spec section 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy, require_claims
from honcho_server.api.schemas import (
    ErrorOut,
    ListBody,
    Message,
    MessageOut,
    PageOut,
    QueueStatusOut,
    UsageOut,
    WorkspaceCreate,
    WorkspaceMessageSearch,
    WorkspaceOut,
    WorkspaceUpdate,
)
from honcho_server.services import llm_usage, queue_status, search, workspaces

router = APIRouter(prefix="/v3/workspaces", tags=["workspaces"], route_class=PolicyRoute)


@router.post("", response_model=WorkspaceOut, status_code=201, responses={200: {"model": WorkspaceOut}})
@policy(self_check=True)
async def get_or_create_workspace(body: WorkspaceCreate, deps: DepsDep, principal: PrincipalDep) -> Response:
    require_claims(principal, workspace=body.id)
    ws, created = await workspaces.get_or_create(deps, body.id, body.metadata, body.configuration)
    return render.respond(render.workspace(ws), 201 if created else 200)


@router.post("/list", response_model=PageOut[WorkspaceOut])
@policy(workspace=None, admin_only=True)
async def list_workspaces(
    deps: DepsDep, paging: PagingDep, body: Annotated[ListBody | None, Body()] = None
) -> Response:
    page = await workspaces.list_page(deps, body.filters if body else None, paging.page, paging.size, paging.reverse)
    return render.respond(render.page(page, render.workspace))


@router.put("/{workspace_id}", response_model=WorkspaceOut)
@policy()
async def update_workspace(workspace_id: str, body: WorkspaceUpdate, deps: DepsDep) -> Response:
    return render.respond(
        render.workspace(await workspaces.update(deps, workspace_id, body.metadata, body.configuration))
    )


@router.delete(
    "/{workspace_id}",
    response_model=Message,
    status_code=202,
    responses={409: {"model": ErrorOut, "description": "Sessions are still active"}},
)
@policy()
async def delete_workspace(workspace_id: str, deps: DepsDep) -> Message:
    await workspaces.delete(deps, workspace_id)
    return Message(message="Workspace deletion accepted")


@router.get("/{workspace_id}/queue/status", response_model=QueueStatusOut)
@policy()
async def get_queue_status(
    workspace_id: str,
    deps: DepsDep,
    observer_id: Annotated[str | None, Query()] = None,
    sender_id: Annotated[str | None, Query()] = None,
    session_id: Annotated[str | None, Query()] = None,
) -> QueueStatusOut:
    result = await queue_status.get(
        deps, workspace_id, observer=observer_id or None, sender=sender_id or None, session=session_id or None
    )
    return QueueStatusOut.of(result, render.reasoning(deps.settings.llm))


@router.get("/{workspace_id}/usage", response_model=UsageOut)
@policy()
async def get_usage(
    workspace_id: str,
    deps: DepsDep,
    since: Annotated[datetime | None, Query(description="only calls at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="only calls before this time")] = None,
) -> UsageOut:
    """LLM calls made for this workspace's reasoning: tokens, requests and estimated cost per task and model."""
    return UsageOut.of(workspace_id, await llm_usage.get(deps, workspace_id, since, until))


@router.post("/{workspace_id}/search", response_model=list[MessageOut])
@policy()
async def search_workspace(workspace_id: str, body: WorkspaceMessageSearch, deps: DepsDep) -> Response:
    found = await search.search(deps, workspace_id, body.query, body.filters, body.limit, scope=body.scope)
    return render.respond([render.message(m) for m in found])
