"""Scope routes (spec 10.A): workspace or admin keys only (peer and session keys are refused by the policy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import (
    PageOut,
    ScopeCreate,
    ScopeOut,
    ScopeSessionsBody,
    ScopeStatusOut,
    SessionOut,
)
from honcho_server.services import scopes
from honcho_server.store.repos.scopes import Scope

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/scopes", tags=["scopes"], route_class=PolicyRoute)


def _scope(s: Scope) -> dict[str, Any]:
    return {"id": s.name, "metadata": s.metadata, "created_at": s.created_at}


@router.post("", response_model=ScopeOut, status_code=201, responses={200: {"model": ScopeOut}})
@policy()
async def get_or_create_scope(workspace_id: str, body: ScopeCreate, deps: DepsDep) -> Response:
    scope, created = await scopes.get_or_create(deps, workspace_id, body.id, body.metadata)
    return render.respond(_scope(scope), 201 if created else 200)


@router.post("/list", response_model=PageOut[ScopeOut])
@policy()
async def list_scopes(workspace_id: str, deps: DepsDep, paging: PagingDep) -> Response:
    page = await scopes.list_page(deps, workspace_id, paging.page, paging.size, paging.reverse)
    return render.respond(render.page(page, _scope))


@router.get("/{scope_id}", response_model=ScopeOut)
@policy()
async def get_scope(workspace_id: str, scope_id: str, deps: DepsDep) -> Response:
    return render.respond(_scope(await scopes.get(deps, workspace_id, scope_id)))


@router.get("/{scope_id}/status", response_model=ScopeStatusOut)
@policy()
async def scope_status(workspace_id: str, scope_id: str, deps: DepsDep) -> Response:
    """Each member session's backfill: pending, then completed (with `docs_copied`) or failed."""
    found = await scopes.status(deps, workspace_id, scope_id)
    return render.respond({"backfill_status": {
        name: {"state": s.state, "updated_at": s.updated_at.isoformat(),
               **({"docs_copied": s.docs_copied} if s.docs_copied is not None else {})}
        for name, s in found.items()}})


@router.post("/{scope_id}/sessions", status_code=204)
@policy()
async def add_scope_sessions(workspace_id: str, scope_id: str, body: ScopeSessionsBody, deps: DepsDep) -> Response:
    """Sessions join (idempotent); those holding messages are backfilled in the background."""
    await scopes.add_sessions(deps, workspace_id, scope_id, body.session_ids)
    return Response(status_code=204)


@router.post("/{scope_id}/sessions/list", response_model=PageOut[SessionOut])
@policy()
async def list_scope_sessions(workspace_id: str, scope_id: str, deps: DepsDep, paging: PagingDep) -> Response:
    """Active member sessions, oldest member first (`reverse`: newest first)."""
    page = await scopes.sessions_page(deps, workspace_id, scope_id, paging.page, paging.size, paging.reverse)
    return render.respond(render.page(page, render.session))


@router.delete("/{scope_id}/sessions/{session_id}", status_code=204)
@policy()
async def remove_scope_session(workspace_id: str, scope_id: str, session_id: str, deps: DepsDep) -> Response:
    """The session leaves; what the scope holds from it is removed in the background."""
    await scopes.remove_session(deps, workspace_id, scope_id, session_id)
    return Response(status_code=204)
