"""Peer routes (spec section 6, storage half)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, GenerationQuery, MaxDistance, PagingDep, PrincipalDep, TopK
from honcho_server.api.policy import PolicyRoute, policy, require_claims, require_scope_key
from honcho_server.api.schemas import (
    ListBody,
    MessageOut,
    MessageSearch,
    PageOut,
    PeerCardBody,
    PeerCardOut,
    PeerContextOut,
    PeerCreate,
    PeerListBody,
    PeerOut,
    PeerUpdate,
    RepresentationBody,
    RepresentationOut,
    SessionOut,
)
from honcho_server.domain.conclusions import MAX_CONCLUSIONS
from honcho_server.errors import ValidationError
from honcho_server.services import peer_cards, peers, representation, scopes, search
from honcho_server.services.representation import Recall

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/peers", tags=["peers"], route_class=PolicyRoute)


def _config(body: PeerCreate | PeerUpdate) -> dict[str, Any] | None:
    return body.configuration.model_dump(exclude_none=True) if body.configuration is not None else None


@router.post("/list", response_model=PageOut[PeerOut])
@policy()
async def list_peers(
    workspace_id: str, deps: DepsDep, paging: PagingDep, body: Annotated[PeerListBody | None, Body()] = None
) -> Response:
    page = await peers.list_page(deps, workspace_id, body.filters if body else None, paging.page, paging.size,
                                 paging.reverse, body.kind if body else None)
    return render.respond(render.page(page, render.peer))


@router.post("", response_model=PeerOut, status_code=201, responses={200: {"model": PeerOut}})
@policy(self_check=True)
async def get_or_create_peer(workspace_id: str, body: PeerCreate, deps: DepsDep, principal: PrincipalDep) -> Response:
    require_claims(principal, workspace=workspace_id, peer=body.id)
    peer, created = await peers.get_or_create(deps, workspace_id, body.id, body.metadata, _config(body),
                                              caller=principal)
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


@router.post("/{peer_id}/representation", response_model=RepresentationOut)
@policy(peer="peer_id")
async def get_representation(
    workspace_id: str, peer_id: str, deps: DepsDep, principal: PrincipalDep,
    body: Annotated[RepresentationBody | None, Body()] = None, generation: GenerationQuery = None,
) -> Response:
    """The peer's working representation of `target` (itself by default) as markdown; "" when unknown."""
    body = body or RepresentationBody()
    if body.scope is not None:
        require_scope_key(principal)
        if body.filters is not None or body.session_id is not None:
            raise ValidationError("`scope` is mutually exclusive with `filters` and `session_id`")
        scopes.check_read_option(body.scope)
    recall = Recall(max_conclusions=body.max_conclusions or MAX_CONCLUSIONS, search_query=body.search_query,
                    search_top_k=body.search_top_k, search_max_distance=body.search_max_distance,
                    include_most_frequent=bool(body.include_most_frequent))
    text = await representation.representation(deps, workspace_id, peer_id, body.target or peer_id,
                                               representation.allowlist(body.session_id, body.filters), recall,
                                               scope=body.scope, generation=generation)
    return render.respond({"representation": text})


@router.get("/{peer_id}/card", response_model=PeerCardOut)
@policy(peer="peer_id")
async def get_peer_card(
    workspace_id: str, peer_id: str, deps: DepsDep, target: Annotated[str | None, Query()] = None,
    generation: GenerationQuery = None,
) -> Response:
    return render.respond({"peer_card": await peer_cards.get(deps, workspace_id, peer_id, target, generation)})


@router.put("/{peer_id}/card", response_model=PeerCardOut)
@policy(peer="peer_id")
async def set_peer_card(
    workspace_id: str, peer_id: str, body: PeerCardBody, deps: DepsDep, principal: PrincipalDep,
    target: Annotated[str | None, Query()] = None,
) -> Response:
    """Replace the whole card; the peer (and the target) are created when missing (a peer key: its own only)."""
    card = await peer_cards.put(deps, workspace_id, peer_id, target, body.peer_card, caller=principal)
    return render.respond({"peer_card": card})


@router.get("/{peer_id}/context", response_model=PeerContextOut)
@policy(peer="peer_id")
async def get_peer_context(
    workspace_id: str, peer_id: str, deps: DepsDep,
    target: Annotated[str | None, Query()] = None,
    search_query: Annotated[str | None, Query()] = None,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_frequent: bool = True,
    max_conclusions: TopK = None,
    generation: GenerationQuery = None,
) -> Response:
    """Representation and card of `target` (itself by default) as the peer sees it, never session-bound."""
    observed = target or peer_id
    recall = Recall(max_conclusions=max_conclusions or MAX_CONCLUSIONS, search_query=search_query,
                    search_top_k=search_top_k, search_max_distance=search_max_distance,
                    include_most_frequent=include_most_frequent)
    found = await representation.peer_context(deps, workspace_id, peer_id, observed, recall, generation)
    return render.respond({"peer_id": peer_id, "target_id": observed, "representation": found.representation,
                           "peer_card": found.card})
