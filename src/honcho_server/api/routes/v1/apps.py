"""v1 app routes (docs/v1-api.md §1.4 Apps, §3.4): workspaces by their v1 names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api import v1_schemas as v1
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes.v1.common import CONFLICT, PREFIX, TAGS, check_name, claim, missing, reach
from honcho_server.api.schemas import PageOut
from honcho_server.services.v1 import apps

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=PolicyRoute)


@router.post("", response_model=v1.AppOut, responses=CONFLICT)
@policy(workspace=None, self_check=True)
async def create_app(body: v1.AppCreate, deps: DepsDep, principal: PrincipalDep) -> Response:
    """A new app; 409 when the name is taken. A workspace key may create only the app it is for."""
    made = await apps.create(deps, body.name, body.metadata, caller=principal, exist_ok=False)
    return render.respond(v1.app(made))


@router.get("", response_model=v1.AppOut)
@policy(workspace=None, self_check=True)
async def get_app_by_query(deps: DepsDep, principal: PrincipalDep,
                           app_id: Annotated[str | None, Query()] = None) -> Response:
    """0.2.0 `apps.get`: the app named in the query, else the key's own."""
    chosen = claim(app_id, principal.workspace, "app_id")
    await reach(deps, principal, workspace=chosen)
    return render.respond(v1.app(await apps.get(deps, chosen)))


@router.post("/list", response_model=PageOut[v1.AppOut])
@policy(workspace=None, admin_only=True)
async def list_apps(deps: DepsDep, paging: PagingDep, body: Annotated[v1.ListBody | None, Body()] = None
                    ) -> Response:
    found = await apps.list_page(deps, body.filter if body else None, paging.page, paging.size, paging.reverse)
    return render.respond(render.page(found, v1.app))


@router.get("/name/{name}", response_model=v1.AppOut)
@policy(workspace=None, self_check=True)
async def get_app_by_name(name: str, deps: DepsDep, principal: PrincipalDep) -> Response:
    found = await apps.by_name(deps, name)
    if found is None:
        raise missing(principal, f"App {name[:100]!r}")
    await reach(deps, principal, workspace=found.ws.name)
    return render.respond(v1.app(found))


@router.get("/get_or_create/{name}", response_model=v1.AppOut)
@policy(workspace=None, self_check=True)
async def get_or_create_app(name: str, deps: DepsDep, principal: PrincipalDep) -> Response:
    """A GET that creates (as the SDKs call it). A workspace key may create only the app it is for."""
    return render.respond(v1.app(await apps.create(deps, check_name(name), None, caller=principal, exist_ok=True)))


@router.get("/{app_id}", response_model=v1.AppOut)
@policy(workspace="app_id")
async def get_app(app_id: str, deps: DepsDep) -> Response:
    return render.respond(v1.app(await apps.get(deps, app_id)))


@router.put("/{app_id}", response_model=v1.AppOut, responses=CONFLICT)
@policy(workspace="app_id")
async def update_app(app_id: str, body: v1.AppUpdate, deps: DepsDep) -> Response:
    """Metadata replaced when given; a new name renames the app in v1 only (its id stays)."""
    return render.respond(v1.app(await apps.update(deps, app_id, body.name, body.metadata)))
