"""v1 session routes (docs/v1-api.md §1.4 Sessions, §3.4): a user's sessions. Chat: chat.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api import v1_schemas as v1
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy, require_claims
from honcho_server.api.routes.v1.common import PREFIX, TAGS, claim, reach
from honcho_server.api.schemas import PageOut
from honcho_server.services.v1 import sessions

router = APIRouter(prefix=PREFIX + "/{app_id}/users/{user_id}/sessions", tags=TAGS, route_class=PolicyRoute)
USER = dict(workspace="app_id", peer="user_id")
SESSION = dict(workspace="app_id", session="session_id")


@router.post("", response_model=v1.SessionOut)
@policy(**USER)
async def create_session(app_id: str, user_id: str, deps: DepsDep, principal: PrincipalDep,
                         body: Annotated[v1.SessionCreate | None, Body()] = None) -> Response:
    """A new session (a fresh id) with the user as its member."""
    made = await sessions.create(deps, app_id, user_id, body.metadata if body else None, caller=principal)
    return render.respond(v1.session(made, user_id))


@router.get("", response_model=v1.SessionOut)
@policy(workspace="app_id", self_check=True)
async def get_session_by_query(app_id: str, user_id: str, deps: DepsDep, principal: PrincipalDep,
                               session_id: Annotated[str | None, Query()] = None) -> Response:
    """0.2.0 `sessions.get`: the session named in the query, else the key's own."""
    require_claims(principal, workspace=app_id)
    chosen = claim(session_id, principal.session, "session_id")
    await reach(deps, principal, workspace=app_id, session=chosen, member_read=True)
    return render.respond(v1.session(await sessions.require(deps, app_id, user_id, chosen), user_id))


@router.post("/list", response_model=PageOut[v1.SessionOut])
@policy(**USER)
async def list_sessions(app_id: str, user_id: str, deps: DepsDep, paging: PagingDep,
                        body: Annotated[v1.SessionListBody | None, Body()] = None) -> Response:
    """The user's active sessions (`is_active` changes nothing: a deleted session is purged, not kept)."""
    found = await sessions.list_page(deps, app_id, user_id, body.filter if body else None, paging.page,
                                     paging.size, paging.reverse)
    return render.respond(render.page(found, lambda s: v1.session(s, user_id)))


@router.get("/{session_id}", response_model=v1.SessionOut)
@policy(member_read=True, **SESSION)
async def get_session(app_id: str, user_id: str, session_id: str, deps: DepsDep) -> Response:
    return render.respond(v1.session(await sessions.require(deps, app_id, user_id, session_id), user_id))


@router.put("/{session_id}", response_model=v1.SessionOut)
@policy(**SESSION)
async def update_session(app_id: str, user_id: str, session_id: str, body: v1.MetadataUpdate, deps: DepsDep
                         ) -> Response:
    updated = await sessions.update(deps, app_id, user_id, session_id, body.metadata)
    return render.respond(v1.session(updated, user_id))


@router.delete("/{session_id}", response_model=v1.DeletedOut)
@policy(**SESSION)
async def delete_session(app_id: str, user_id: str, session_id: str, deps: DepsDep) -> Response:
    """The v3 delete: gone at once, then purged with its messages and everything derived from them."""
    await sessions.delete(deps, app_id, user_id, session_id)
    return render.respond({"message": "Session deleted successfully"})


@router.get("/{session_id}/clone", response_model=v1.SessionOut)
@policy(**SESSION)
async def clone_session(app_id: str, user_id: str, session_id: str, deps: DepsDep,
                        message_id: Annotated[str | None, Query()] = None,
                        deep_copy: Annotated[bool, Query()] = False) -> Response:
    """A copy (up to `message_id`) with the same members; `deep_copy` copies the metamessages too."""
    copy = await sessions.clone(deps, app_id, user_id, session_id, message_id, deep_copy)
    return render.respond(v1.session(copy, user_id))
