"""v1 user collection routes (docs/v1-api.md §1.4): create, get by id (0.0.19: in the path; 0.2.0: in the query),
by name, list (the reserved `honcho` first), update, delete. Policy ws+peer (§3.9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes.v1_data.common import CONFLICT, USER, collection, deleted
from honcho_server.api.schemas import PageOut
from honcho_server.api.v1_data_schemas import (
    CollectionCreate,
    CollectionOut,
    CollectionUpdate,
    DeletedOut,
    FilterBody,
)
from honcho_server.errors import ValidationError
from honcho_server.services.v1_data import collections as service

router = APIRouter(prefix=USER + "/collections", tags=["v1 collections"], route_class=PolicyRoute)
USER_POLICY = {"workspace": "app_id", "peer": "user_id"}


@router.post("", response_model=CollectionOut, responses=CONFLICT)
@policy(**USER_POLICY)
async def create_collection(app_id: str, user_id: str, body: CollectionCreate, deps: DepsDep) -> Response:
    """409 when the user has a collection of that name; the name `honcho` is reserved (422)."""
    found = await service.create(deps, app_id, user_id, body.name, body.metadata)
    return render.respond(collection(found.owner, found.item))


@router.get("", response_model=CollectionOut)
@policy(**USER_POLICY)
async def get_collection_by_query(app_id: str, user_id: str, deps: DepsDep,
                                  collection_id: Annotated[str | None, Query()] = None) -> Response:
    """0.2.0's get. Without `collection_id` it would be the key's collection, and keys name none: 422."""
    if not collection_id:
        raise ValidationError("collection_id is required: keys are not scoped to a collection")
    found = await service.get(deps, app_id, user_id, collection_id)
    return render.respond(collection(found.owner, found.item))


@router.post("/list", response_model=PageOut[CollectionOut])
@policy(**USER_POLICY)
async def list_collections(app_id: str, user_id: str, deps: DepsDep, paging: PagingDep,
                           body: Annotated[FilterBody | None, Body()] = None) -> Response:
    """Oldest first, `honcho` first of all (it has no metadata: listed only without a filter)."""
    owner, page = await service.list_page(deps, app_id, user_id, body.filter if body else None, paging.page,
                                          paging.size, paging.reverse)
    return render.respond(render.page(page, lambda c: collection(owner, c)))


@router.get("/name/{name}", response_model=CollectionOut)
@policy(**USER_POLICY)
async def get_collection_by_name(app_id: str, user_id: str, name: str, deps: DepsDep) -> Response:
    found = await service.get_by_name(deps, app_id, user_id, name)
    return render.respond(collection(found.owner, found.item))


@router.get("/{collection_id}", response_model=CollectionOut)
@policy(**USER_POLICY)
async def get_collection(app_id: str, user_id: str, collection_id: str, deps: DepsDep) -> Response:
    """0.0.19's get."""
    found = await service.get(deps, app_id, user_id, collection_id)
    return render.respond(collection(found.owner, found.item))


@router.put("/{collection_id}", response_model=CollectionOut, responses=CONFLICT)
@policy(**USER_POLICY)
async def update_collection(app_id: str, user_id: str, collection_id: str, body: CollectionUpdate,
                            deps: DepsDep) -> Response:
    """Rename (409 when taken; `honcho` is reserved) and/or replace the metadata; `honcho` itself: 422."""
    found = await service.update(deps, app_id, user_id, collection_id, body.name, body.metadata)
    return render.respond(collection(found.owner, found.item))


@router.delete("/{collection_id}", response_model=DeletedOut)
@policy(**USER_POLICY)
async def delete_collection(app_id: str, user_id: str, collection_id: str, deps: DepsDep) -> Response:
    """The collection and its documents; `honcho`: 422."""
    await service.delete(deps, app_id, user_id, collection_id)
    return deleted("Collection")
