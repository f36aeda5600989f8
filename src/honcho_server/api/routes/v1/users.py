"""v1 user routes (docs/v1-api.md §1.4 Users, §3.4): an app's peers by their v1 names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api import v1_schemas as v1
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy, require_claims
from honcho_server.api.routes.v1.common import CONFLICT, PREFIX, TAGS, check_name, claim, reach
from honcho_server.api.schemas import PageOut
from honcho_server.errors import NotFound
from honcho_server.services.v1 import users

router = APIRouter(prefix=PREFIX + "/{app_id}/users", tags=TAGS, route_class=PolicyRoute)
USER = dict(workspace="app_id", peer="user_id")


@router.post("", response_model=v1.UserOut, responses=CONFLICT)
@policy(workspace="app_id", self_check=True)
async def create_user(app_id: str, body: v1.UserCreate, deps: DepsDep, principal: PrincipalDep) -> Response:
    """A new user; 409 when the name is taken. A peer key may create only its own peer."""
    require_claims(principal, workspace=app_id)
    made = await users.create(deps, app_id, body.name, body.metadata, caller=principal, exist_ok=False)
    return render.respond(v1.user(made))


@router.get("", response_model=v1.UserOut)
@policy(workspace="app_id", self_check=True)
async def get_user_by_query(app_id: str, deps: DepsDep, principal: PrincipalDep,
                            user_id: Annotated[str | None, Query()] = None) -> Response:
    """0.2.0 `users.get`: the user named in the query, else the key's own."""
    require_claims(principal, workspace=app_id)
    chosen = claim(user_id, principal.peer, "user_id")
    await reach(deps, principal, workspace=app_id, peer=chosen)
    return render.respond(v1.user(await users.get(deps, app_id, chosen)))


@router.post("/list", response_model=PageOut[v1.UserOut])
@policy(workspace="app_id")
async def list_users(app_id: str, deps: DepsDep, paging: PagingDep,
                     body: Annotated[v1.ListBody | None, Body()] = None) -> Response:
    found = await users.list_page(deps, app_id, body.filter if body else None, paging.page, paging.size,
                                  paging.reverse)
    return render.respond(render.page(found, v1.user))


@router.get("/name/{name}", response_model=v1.UserOut)
@policy(workspace="app_id", self_check=True)
async def get_user_by_name(app_id: str, name: str, deps: DepsDep, principal: PrincipalDep) -> Response:
    require_claims(principal, workspace=app_id)
    found = await users.by_name(deps, app_id, name)
    if found is None:
        raise NotFound(f"User {name[:100]!r} not found in app {app_id}")
    await reach(deps, principal, workspace=app_id, peer=found.peer.name)
    return render.respond(v1.user(found))


@router.get("/get_or_create/{name}", response_model=v1.UserOut)
@policy(workspace="app_id", self_check=True)
async def get_or_create_user(app_id: str, name: str, deps: DepsDep, principal: PrincipalDep) -> Response:
    """A GET that creates (as the SDKs call it). A peer key may create only its own peer."""
    require_claims(principal, workspace=app_id)
    made = await users.create(deps, app_id, check_name(name), None, caller=principal, exist_ok=True)
    return render.respond(v1.user(made))


@router.get("/{user_id}", response_model=v1.UserOut)
@policy(**USER)
async def get_user(app_id: str, user_id: str, deps: DepsDep) -> Response:
    return render.respond(v1.user(await users.get(deps, app_id, user_id)))


@router.put("/{user_id}", response_model=v1.UserOut, responses=CONFLICT)
@policy(**USER)
async def update_user(app_id: str, user_id: str, body: v1.AppUpdate, deps: DepsDep) -> Response:
    """Metadata replaced when given; a new name renames the user in v1 only (its id stays)."""
    return render.respond(v1.user(await users.update(deps, app_id, user_id, body.name, body.metadata)))
