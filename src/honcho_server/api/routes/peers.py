"""Peer routes (spec section 6, storage half)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy, require_claims
from honcho_server.api.schemas import (
    ListBody,
    MessageOut,
    MessageSearch,
    PageOut,
    PeerCreate,
    PeerListBody,
    PeerOut,
    PeerUpdate,
    SessionOut,
)
from honcho_server.errors import ValidationError
from honcho_server.services import peers, search

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/peers", tags=["peers"], route_class=PolicyRoute)


def _config(body: PeerCreate | PeerUpdate) -> dict | None:
    return body.configuration.model_dump(exclude_none=True) if body.configuration is not None else None


@router.post("/list", response_model=PageOut[PeerOut])
@policy()
async def list_peers(
    workspace_id: str, deps: DepsDep, paging: PagingDep, body: Annotated[PeerListBody | None, Body()] = None
) -> Response:
    if body and body.kind == "scope":
        page = await peers.list_page(deps, workspace_id, {"id": {"in": []}}, paging.page, paging.size, paging.reverse)
    else:
        page = await peers.list_page(
            deps, workspace_id, body.filters if body else None, paging.page, paging.size, paging.reverse
        )
    return render.respond(render.page(page, render.peer))


@router.post("", response_model=PeerOut, status_code=201, responses={200: {"model": PeerOut}})
@policy(self_check=True)
async def get_or_create_peer(workspace_id: str, body: PeerCreate, deps: DepsDep, principal: PrincipalDep) -> Response:
    require_claims(principal, workspace=workspace_id, peer=body.id)
    peer, created = await peers.get_or_create(deps, workspace_id, body.id, body.metadata, _config(body))
    return render.respond(render.peer(peer), 201 if created else 200)


@router.put("/{peer_id}", response_model=PeerOut)
@policy(peer="peer_id")
async def update_peer(workspace_id: str, peer_id: str, body: PeerUpdate, deps: DepsDep) -> Response:
    if peer_id.startswith("scope."):
        raise ValidationError(f"'{peer_id}' is a scope and cannot be updated as a peer")
    return render.respond(render.peer(await peers.update(deps, workspace_id, peer_id, body.metadata, _config(body))))


@router.post("/{peer_id}/sessions", response_model=PageOut[SessionOut])
@policy(peer="peer_id")
async def sessions_of_peer(
    workspace_id: str, peer_id: str, deps: DepsDep, paging: PagingDep, body: Annotated[ListBody | None, Body()] = None
) -> Response:
    page = await peers.sessions_of(
        deps, workspace_id, peer_id, body.filters if body else None, paging.page, paging.size, paging.reverse
    )
    return render.respond(render.page(page, render.session))


@router.post("/{peer_id}/search", response_model=list[MessageOut])
@policy(peer="peer_id")
async def search_peer(workspace_id: str, peer_id: str, body: MessageSearch, deps: DepsDep) -> Response:
    """Messages written by the peer."""
    found = await search.search(deps, workspace_id, body.query, body.filters, body.limit, peer=peer_id)
    return render.respond([render.message(m) for m in found])
