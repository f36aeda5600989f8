"""v1 metamessage routes (docs/v1-api.md §1.4): 0.0.19's under a session (a message required) and its user-level
list; 0.2.0's under the user. Policy ws+peer: the app's key or the user's own (§3.9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes.v1_data.common import USER, metamessage
from honcho_server.api.schemas import PageOut
from honcho_server.api.v1_data_schemas import (
    MetamessageCreate,
    MetamessageList,
    MetamessageOut,
    MetamessageUpdate,
    SessionMetamessageCreate,
    SessionMetamessageList,
    SessionMetamessageUpdate,
)
from honcho_server.services.v1_data import metamessages as service
from honcho_server.store.repos.v1_metamessages import Selection

router = APIRouter(prefix=USER, tags=["v1 metamessages"], route_class=PolicyRoute)
SESSION = "/sessions/{session_id}/metamessages"
USER_POLICY = {"workspace": "app_id", "peer": "user_id"}


@router.post(SESSION, response_model=MetamessageOut)
@policy(**USER_POLICY)
async def create_session_metamessage(app_id: str, user_id: str, session_id: str, body: SessionMetamessageCreate,
                                     deps: DepsDep) -> Response:
    """0.0.19: a metamessage on a message of the session."""
    found = await service.create(deps, app_id, user_id, body.metamessage_type, body.content, body.metadata,
                                 session_id, body.message_id)
    return render.respond(metamessage(found.owner, found.item))


@router.post(SESSION + "/list", response_model=PageOut[MetamessageOut])
@policy(**USER_POLICY)
async def list_session_metamessages(app_id: str, user_id: str, session_id: str, deps: DepsDep, paging: PagingDep,
                                    body: Annotated[SessionMetamessageList | None, Body()] = None) -> Response:
    """0.0.19: the session's metamessages tied to a message, oldest first."""
    body = body or SessionMetamessageList()
    chosen = Selection(message_uid=body.message_id, metamessage_type=body.metamessage_type)
    owner, page = await service.list_page(deps, app_id, user_id, chosen, body.filter, paging.page, paging.size,
                                          paging.reverse, in_session=session_id)
    return render.respond(render.page(page, lambda m: metamessage(owner, m)))


@router.get(SESSION + "/{metamessage_id}", response_model=MetamessageOut)
@policy(**USER_POLICY)
async def get_session_metamessage(app_id: str, user_id: str, session_id: str, metamessage_id: str,
                                  message_id: Annotated[str, Query()], deps: DepsDep) -> Response:
    """0.0.19: 404 unless the metamessage is in the session and tied to `message_id`."""
    found = await service.get(deps, app_id, user_id, metamessage_id, session_id=session_id, message_id=message_id)
    return render.respond(metamessage(found.owner, found.item))


@router.put(SESSION + "/{metamessage_id}", response_model=MetamessageOut)
@policy(**USER_POLICY)
async def update_session_metamessage(app_id: str, user_id: str, session_id: str, metamessage_id: str,
                                     body: SessionMetamessageUpdate, deps: DepsDep) -> Response:
    """0.0.19: `message_id` (required) re-links it within the session."""
    found = await service.update(deps, app_id, user_id, metamessage_id, metamessage_type=body.metamessage_type,
                                 metadata=body.metadata, message_id=body.message_id, in_session=session_id)
    return render.respond(metamessage(found.owner, found.item))


@router.post("/metamessages", response_model=MetamessageOut)
@policy(**USER_POLICY)
async def create_metamessage(app_id: str, user_id: str, body: MetamessageCreate, deps: DepsDep) -> Response:
    """0.2.0: a metamessage of the user; a message without a session puts it in the message's session."""
    found = await service.create(deps, app_id, user_id, body.metamessage_type, body.content, body.metadata,
                                 body.session_id, body.message_id)
    return render.respond(metamessage(found.owner, found.item))


@router.post("/metamessages/list", response_model=PageOut[MetamessageOut])
@policy(**USER_POLICY)
async def list_metamessages(app_id: str, user_id: str, deps: DepsDep, paging: PagingDep,
                            body: Annotated[MetamessageList | None, Body()] = None) -> Response:
    """Both versions: all of the user's metamessages, oldest first, by session, message, type and metadata."""
    body = body or MetamessageList()
    chosen = Selection(session_name=body.session_id, message_uid=body.message_id,
                       metamessage_type=body.metamessage_type)
    owner, page = await service.list_page(deps, app_id, user_id, chosen, body.filter, paging.page, paging.size,
                                          paging.reverse)
    return render.respond(render.page(page, lambda m: metamessage(owner, m)))


@router.get("/metamessages/{metamessage_id}", response_model=MetamessageOut)
@policy(**USER_POLICY)
async def get_metamessage(app_id: str, user_id: str, metamessage_id: str, deps: DepsDep) -> Response:
    found = await service.get(deps, app_id, user_id, metamessage_id)
    return render.respond(metamessage(found.owner, found.item))


@router.put("/metamessages/{metamessage_id}", response_model=MetamessageOut)
@policy(**USER_POLICY)
async def update_metamessage(app_id: str, user_id: str, metamessage_id: str, body: MetamessageUpdate,
                             deps: DepsDep) -> Response:
    """0.2.0: absent fields are unchanged; null `session_id` / `message_id` unlink."""
    given = body.model_fields_set
    found = await service.update(
        deps, app_id, user_id, metamessage_id, metamessage_type=body.metamessage_type, metadata=body.metadata,
        session_id=body.session_id if "session_id" in given else service.UNSET,
        message_id=body.message_id if "message_id" in given else service.UNSET)
    return render.respond(metamessage(found.owner, found.item))
