"""Session routes (spec section 7, storage half)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, GenerationQuery, MaxDistance, PagingDep, PrincipalDep, TopK
from honcho_server.api.policy import NOT_PERMITTED, PolicyRoute, policy, require_claims, require_scope_key
from honcho_server.api.schemas import (
    ListBody,
    Message,
    MessageOut,
    MessageSearch,
    PageOut,
    PeerOut,
    SessionContextOut,
    SessionCreate,
    SessionOut,
    SessionPeerConfigIn,
    SessionSummariesOut,
    SessionUpdate,
    Summary,
)
from honcho_server.domain.conclusions import MAX_CONCLUSIONS
from honcho_server.domain.configuration import SessionPeerConfig
from honcho_server.domain.credentials import Principal
from honcho_server.errors import Unauthorized, ValidationError
from honcho_server.services import access, context, search, sessions
from honcho_server.services import summaries as summary_service
from honcho_server.services.context import PeerView
from honcho_server.services.deps import Deps
from honcho_server.services.representation import Recall

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/sessions", tags=["sessions"], route_class=PolicyRoute)
SESSION = dict(session="session_id")
PeerMapBody = Annotated[dict[str, SessionPeerConfigIn], Body()]


@router.post("/list", response_model=PageOut[SessionOut])
@policy()
async def list_sessions(
    workspace_id: str, deps: DepsDep, paging: PagingDep, body: Annotated[ListBody | None, Body()] = None
) -> Response:
    page = await sessions.list_page(
        deps, workspace_id, body.filters if body else None, paging.page, paging.size, paging.reverse
    )
    return render.respond(render.page(page, render.session))


@router.post("", response_model=SessionOut, status_code=201, responses={200: {"model": SessionOut}})
@policy(self_check=True)
async def get_or_create_session(
    workspace_id: str, body: SessionCreate, deps: DepsDep, principal: PrincipalDep
) -> Response:
    require_claims(principal, workspace=workspace_id, session=body.id)
    if body.scopes and principal.kind not in ("admin", "workspace"):
        raise Unauthorized("Scope membership requires a workspace-level key")
    session, created = await sessions.get_or_create(
        deps, workspace_id, body.id, body.metadata, body.configuration, body.peers, caller=principal,
        scopes=body.scopes,
    )
    return render.respond(render.session(session), 201 if created else 200)


@router.put("/{session_id}", response_model=SessionOut)
@policy(**SESSION)
async def update_session(workspace_id: str, session_id: str, body: SessionUpdate, deps: DepsDep) -> Response:
    return render.respond(
        render.session(await sessions.update(deps, workspace_id, session_id, body.metadata, body.configuration))
    )


@router.delete("/{session_id}", response_model=Message, status_code=202)
@policy(**SESSION)
async def delete_session(workspace_id: str, session_id: str, deps: DepsDep) -> Message:
    await sessions.delete(deps, workspace_id, session_id)
    return Message(message="Session deleted successfully")


@router.post("/{session_id}/clone", response_model=SessionOut, status_code=201)
@policy(**SESSION)
async def clone_session(
    workspace_id: str, session_id: str, deps: DepsDep, message_id: Annotated[str | None, Query()] = None
) -> Response:
    return render.respond(render.session(await sessions.clone(deps, workspace_id, session_id, message_id)), 201)


@router.post("/{session_id}/peers", response_model=SessionOut)
@policy(**SESSION)
async def add_session_peers(
    workspace_id: str, session_id: str, body: PeerMapBody, deps: DepsDep, principal: PrincipalDep
) -> Response:
    return render.respond(
        render.session(await sessions.add_peers(deps, workspace_id, session_id, body, caller=principal))
    )


@router.put("/{session_id}/peers", response_model=SessionOut)
@policy(**SESSION)
async def set_session_peers(
    workspace_id: str, session_id: str, body: PeerMapBody, deps: DepsDep, principal: PrincipalDep
) -> Response:
    return render.respond(
        render.session(await sessions.set_peers(deps, workspace_id, session_id, body, caller=principal))
    )


@router.delete("/{session_id}/peers", response_model=SessionOut)
@policy(**SESSION)
async def remove_session_peers(
    workspace_id: str, session_id: str, body: Annotated[list[str], Body()], deps: DepsDep
) -> Response:
    return render.respond(render.session(await sessions.remove_peers(deps, workspace_id, session_id, body)))


@router.get("/{session_id}/peers", response_model=PageOut[PeerOut])
@policy(member_read=True, **SESSION)
async def list_session_peers(workspace_id: str, session_id: str, deps: DepsDep, paging: PagingDep) -> Response:
    return render.respond(
        render.page(await sessions.members(deps, workspace_id, session_id, paging.page, paging.size), render.peer)
    )


@router.get("/{session_id}/peers/{peer_id}/config", response_model=SessionPeerConfig)
@policy(member_read=True, **SESSION)
async def get_session_peer_config(
    workspace_id: str, session_id: str, peer_id: str, deps: DepsDep, principal: PrincipalDep
) -> SessionPeerConfig:
    if principal.kind == "peer" and principal.peer != peer_id:
        raise Unauthorized("JWT not permissioned for this resource")
    return await sessions.get_peer_config(deps, workspace_id, session_id, peer_id)


@router.put("/{session_id}/peers/{peer_id}/config", status_code=204)
@policy(**SESSION)
async def set_session_peer_config(
    workspace_id: str, session_id: str, peer_id: str, body: SessionPeerConfigIn, deps: DepsDep
) -> Response:
    await sessions.set_peer_config(deps, workspace_id, session_id, peer_id, body)
    return Response(status_code=204)


@dataclass(frozen=True)
class ContextQuery:
    tokens: int | None
    summary: bool
    scope: str | None
    view: PeerView | None


async def context_query(
    session_id: str,
    tokens: Annotated[int | None, Query()] = None,
    summary: bool = True,
    peer_target: Annotated[str | None, Query()] = None,
    peer_perspective: Annotated[str | None, Query()] = None,
    scope: Annotated[str | None, Query()] = None,
    sessions: Annotated[list[str] | None, Query()] = None,
    limit_to_session: bool = False,
    search_query: Annotated[str | None, Query()] = None,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_frequent: bool = False,
    max_conclusions: TopK = None,
) -> ContextQuery:
    """The query parameters of spec 7.12; the peer view only exists with a `peer_target`."""
    if peer_target is None:
        for name, value in (("peer_perspective", peer_perspective), ("scope", scope), ("sessions", sessions)):
            if value is not None:
                raise ValidationError(f"`{name}` requires `peer_target`")
        return ContextQuery(tokens, summary, None, None)
    recall = Recall(max_conclusions=max_conclusions or MAX_CONCLUSIONS, search_query=search_query,
                    search_top_k=search_top_k, search_max_distance=search_max_distance,
                    include_most_frequent=include_most_frequent)
    view = PeerView(target=peer_target, perspective=peer_perspective, sessions=sessions,
                    limit_to_session=limit_to_session, recall=recall, scope=scope)
    context.check_view(session_id, view)  # before any authorization lookup is made for it
    return ContextQuery(tokens, summary, scope, view)


async def _authorize_view(deps: Deps, principal: Principal, workspace_id: str, q: ContextQuery
                          ) -> PeerView | None:
    """The peer view the caller may have. A session token sees only what its session holds: the view is
    confined to the session (explicit conclusions learned there, no card) and naming other sessions is
    refused. A peer token sees only through its own eyes, and only sessions it is in (spec 7.12); a scope
    needs a workspace or admin key (401)."""
    if q.scope is not None:
        if q.view and q.view.perspective is not None:
            raise ValidationError("`scope` and `peer_perspective` are mutually exclusive")
        require_scope_key(principal)
    if q.view is None:
        return None
    if principal.kind == "session":
        if any(name != principal.session for name in q.view.sessions or []):
            raise Unauthorized(NOT_PERMITTED)
        return replace(q.view, sessions=None, limit_to_session=True)
    if principal.kind != "peer":
        return q.view
    if q.view.observer != principal.peer:
        raise Unauthorized(NOT_PERMITTED)
    for name in q.view.sessions or []:
        if not await access.is_active_member(deps, workspace_id, name, principal.peer):
            raise Unauthorized(NOT_PERMITTED)
    return q.view


@router.get("/{session_id}/context", response_model=SessionContextOut)
@policy(member_read=True, **SESSION)
async def get_session_context(
    workspace_id: str, session_id: str, deps: DepsDep, principal: PrincipalDep,
    q: Annotated[ContextQuery, Depends(context_query)], generation: GenerationQuery = None,
) -> Response:
    """A summary and the newest messages within the token budget, with `peer_target`'s representation and
    card (as `peer_perspective` sees it) when asked."""
    view = await _authorize_view(deps, principal, workspace_id, q)
    found = await context.session_context(deps, workspace_id, session_id, tokens=q.tokens, summary=q.summary,
                                          view=view, generation=generation)
    summary = Summary.of(found.summary)
    return render.respond({"id": session_id, "messages": [render.message(m) for m in found.messages],
                           "summary": summary.model_dump() if summary else None,
                           "peer_representation": found.representation, "peer_card": found.card})


@router.get("/{session_id}/summaries", response_model=SessionSummariesOut)
@policy(member_read=True, **SESSION)
async def get_session_summaries(workspace_id: str, session_id: str, deps: DepsDep,
                                generation: GenerationQuery = None) -> SessionSummariesOut:
    """The newest short and long summaries (null until the worker has written one; unknown session: both null)."""
    return SessionSummariesOut.of(session_id, await summary_service.latest(deps, workspace_id, session_id,
                                                                           generation))


@router.post("/{session_id}/search", response_model=list[MessageOut])
@policy(member_read=True, **SESSION)
async def search_session(workspace_id: str, session_id: str, body: MessageSearch, deps: DepsDep) -> Response:
    found = await search.search(deps, workspace_id, body.query, body.filters, body.limit, session=session_id)
    return render.respond([render.message(m) for m in found])
