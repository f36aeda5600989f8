"""v1 document routes (docs/v1-api.md §1.4): in a user collection, or in the reserved `honcho` (the user's
conclusions about itself: workspace-level keys only, like the v3 conclusion routes, §3.9). Policy ws+peer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.render import RECEIPT_HEADER
from honcho_server.api.routes.v1_data.common import USER, deleted, document, require_workspace_key
from honcho_server.api.schemas import PageOut
from honcho_server.api.v1_data_schemas import (
    DeletedOut,
    DocumentCreate,
    DocumentOut,
    DocumentQuery,
    DocumentUpdate,
    FilterBody,
)
from honcho_server.domain.credentials import Principal
from honcho_server.services.v1_data import documents as service
from honcho_server.services.v1_data.collections import HONCHO

router = APIRouter(prefix=USER + "/collections/{collection_id}/documents", tags=["v1 documents"],
                   route_class=PolicyRoute)
USER_POLICY = {"workspace": "app_id", "peer": "user_id"}


def _reach(collection_id: str, principal: Principal) -> None:
    if collection_id == HONCHO:
        require_workspace_key(principal)


@router.post("", response_model=DocumentOut)
@policy(**USER_POLICY)
async def create_document(app_id: str, user_id: str, collection_id: str, body: DocumentCreate, deps: DepsDep,
                          principal: PrincipalDep) -> Response:
    """Embedded with the configured embedder; in `honcho`, an explicit conclusion of the user about itself."""
    _reach(collection_id, principal)
    at, made = await service.create(deps, app_id, user_id, collection_id, body.content, body.metadata)
    return render.respond(document(at.owner, collection_id, made))


@router.post("/list", response_model=PageOut[DocumentOut])
@policy(**USER_POLICY)
async def list_documents(app_id: str, user_id: str, collection_id: str, deps: DepsDep, paging: PagingDep,
                         principal: PrincipalDep, body: Annotated[FilterBody | None, Body()] = None) -> Response:
    """Oldest first."""
    _reach(collection_id, principal)
    at, page = await service.list_page(deps, app_id, user_id, collection_id, body.filter if body else None,
                                       paging.page, paging.size, paging.reverse)
    return render.respond(render.page(page, lambda d: document(at.owner, collection_id, d)))


@router.post("/query", response_model=list[DocumentOut])
@policy(**USER_POLICY)
async def query_documents(app_id: str, user_id: str, collection_id: str, body: DocumentQuery, deps: DepsDep,
                          principal: PrincipalDep) -> Response:
    """The `top_k` closest in meaning to `query` (cosine), most similar first; `filter` selects first."""
    _reach(collection_id, principal)
    at, found = await service.query(deps, app_id, user_id, collection_id, body.query, body.top_k, body.filter)
    return render.respond([document(at.owner, collection_id, d) for d in found])


@router.get("/{document_id}", response_model=DocumentOut)
@policy(**USER_POLICY)
async def get_document(app_id: str, user_id: str, collection_id: str, document_id: str, deps: DepsDep,
                       principal: PrincipalDep) -> Response:
    _reach(collection_id, principal)
    at, found = await service.get(deps, app_id, user_id, collection_id, document_id)
    return render.respond(document(at.owner, collection_id, found))


@router.put("/{document_id}", response_model=DocumentOut)
@policy(**USER_POLICY)
async def update_document(app_id: str, user_id: str, collection_id: str, document_id: str, body: DocumentUpdate,
                          deps: DepsDep, principal: PrincipalDep) -> Response:
    """Content (embedded again) and/or metadata, each when not null; `honcho`'s documents: 422."""
    _reach(collection_id, principal)
    at, found = await service.update(deps, app_id, user_id, collection_id, document_id, body.content, body.metadata)
    return render.respond(document(at.owner, collection_id, found))


@router.delete("/{document_id}", response_model=DeletedOut)
@policy(**USER_POLICY)
async def delete_document(app_id: str, user_id: str, collection_id: str, document_id: str, deps: DepsDep,
                          principal: PrincipalDep) -> Response:
    """In `honcho`, the v3 conclusion delete, with its cascade (the receipt's counts in `X-Honcho-Receipt`)."""
    _reach(collection_id, principal)
    receipt = await service.delete(deps, app_id, user_id, collection_id, document_id)
    return deleted("Document", {RECEIPT_HEADER: receipt} if receipt else None)
