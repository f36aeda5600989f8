"""v1 message routes (docs/v1-api.md §1.4 Messages, §3.3-3.4): `is_user` is the path's user or the assistant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from honcho_server.api import render
from honcho_server.api import v1_schemas as v1
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes.v1.common import PREFIX, TAGS
from honcho_server.api.schemas import PageOut
from honcho_server.services.v1 import messages

router = APIRouter(prefix=PREFIX + "/{app_id}/users/{user_id}/sessions/{session_id}/messages", tags=TAGS,
                   route_class=PolicyRoute)
SESSION = dict(workspace="app_id", session="session_id")


def _new(body: v1.MessageCreate) -> messages.NewMessage:
    return messages.NewMessage(content=body.content, is_user=body.is_user, metadata=body.metadata)


@router.post("", response_model=v1.MessageOut)
@policy(**SESSION)
async def create_message(app_id: str, user_id: str, session_id: str, body: v1.MessageCreate, deps: DepsDep,
                         principal: PrincipalDep) -> Response:
    made = await messages.create(deps, app_id, user_id, session_id, [_new(body)], caller=principal)
    return render.respond(v1.message(made[0], user_id))


@router.post("/batch", response_model=list[v1.MessageOut])
@policy(**SESSION)
async def create_messages(app_id: str, user_id: str, session_id: str, body: v1.MessageBatch, deps: DepsDep,
                          principal: PrincipalDep) -> Response:
    """1 to 100 messages, kept in order."""
    made = await messages.create(deps, app_id, user_id, session_id, [_new(m) for m in body.messages],
                                 caller=principal)
    return render.respond([v1.message(m, user_id) for m in made])


@router.post("/list", response_model=PageOut[v1.MessageOut])
@policy(member_read=True, **SESSION)
async def list_messages(app_id: str, user_id: str, session_id: str, deps: DepsDep, paging: PagingDep,
                        body: Annotated[v1.ListBody | None, Body()] = None) -> Response:
    found = await messages.list_page(deps, app_id, user_id, session_id, body.filter if body else None,
                                     paging.page, paging.size, paging.reverse)
    return render.respond(render.page(found, lambda m: v1.message(m, user_id)))


@router.get("/{message_id}", response_model=v1.MessageOut)
@policy(member_read=True, **SESSION)
async def get_message(app_id: str, user_id: str, session_id: str, message_id: str, deps: DepsDep) -> Response:
    found = await messages.get(deps, app_id, user_id, session_id, message_id)
    return render.respond(v1.message(found, user_id))


@router.put("/{message_id}", response_model=v1.MessageOut)
@policy(**SESSION)
async def update_message(app_id: str, user_id: str, session_id: str, message_id: str, body: v1.MetadataUpdate,
                         deps: DepsDep) -> Response:
    updated = await messages.update(deps, app_id, user_id, session_id, message_id, body.metadata)
    return render.respond(v1.message(updated, user_id))
