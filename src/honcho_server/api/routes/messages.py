"""Message routes (spec section 8)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Response, UploadFile
from pydantic import ValidationError as PydanticValidationError

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import (
    ErrorOut,
    ListBody,
    MessageBatch,
    MessageOut,
    MessageUpdate,
    PageOut,
    ReceiptOut,
    as_utc,
)
from honcho_server.domain import jsontext
from honcho_server.domain.configuration import MessageConfiguration
from honcho_server.domain.metadata import TooLarge, check_metadata, check_size
from honcho_server.errors import FileTooLarge, ValidationError
from honcho_server.services import cascade, messages, uploads

router = APIRouter(
    prefix="/v3/workspaces/{workspace_id}/sessions/{session_id}/messages", tags=["messages"], route_class=PolicyRoute
)
SESSION = dict(session="session_id")


@router.post("", response_model=list[MessageOut], status_code=201)
@router.post("/", response_model=list[MessageOut], status_code=201, include_in_schema=False)
@policy(**SESSION)
async def create_messages(
    workspace_id: str, session_id: str, body: MessageBatch, deps: DepsDep, principal: PrincipalDep
) -> Response:
    batch = [
        messages.NewMessage(
            content=m.content,
            peer_name=m.peer_id,
            metadata=m.metadata or {},
            configuration=m.configuration,
            created_at=m.created_at,
        )
        for m in body.messages
    ]
    return render.respond(
        [render.message(m) for m in await messages.create(deps, workspace_id, session_id, batch, caller=principal)],
        201,
    )


def _lenient_json(text: str | None) -> dict[str, Any] | None:
    """Upload form fields: malformed JSON is ignored, as the reference does (too deep or not Unicode included)."""
    try:
        value = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or jsontext.too_deep(value) or jsontext.has_lone_surrogate(value):
        return None
    return value


def _lenient_datetime(text: str | None) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00"))) if text else None
    except ValueError:
        return None


@router.post(
    "/upload",
    response_model=list[MessageOut],
    status_code=201,
    responses={
        413: {"model": ErrorOut, "description": "File too large"},
        415: {"model": ErrorOut, "description": "Unsupported file type"},
    },
)
@policy(**SESSION)
async def upload_file(
    workspace_id: str,
    session_id: str,
    deps: DepsDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
    peer_id: Annotated[str, Form(min_length=1)],
    metadata: Annotated[str | None, Form()] = None,
    configuration: Annotated[str | None, Form()] = None,
    created_at: Annotated[str | None, Form()] = None,
) -> Response:
    limit = deps.settings.limits.max_file_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"File is larger than the {limit}-byte limit")
    meta, raw_config = _lenient_json(metadata), _lenient_json(configuration)
    try:  # oversized objects are refused as in JSON bodies (storing them whole, or dropping them silently, is worse)
        check_size(meta, "metadata")
        check_size(raw_config, "configuration")
    except TooLarge as exc:
        raise ValidationError(str(exc)) from None
    try:
        meta = check_metadata(meta) if meta is not None else {}
    except (ValueError, RecursionError):  # over the limits: ignored like malformed JSON, never stored unchecked
        meta = {}
    try:
        config = MessageConfiguration.model_validate(raw_config) if configuration else None
    except (ValueError, PydanticValidationError):
        config = None
    text_chunks = await asyncio.to_thread(uploads.file_to_chunks, data, file.content_type or "")
    created = await uploads.store_chunks(
        deps,
        workspace_id,
        session_id,
        text_chunks,
        peer_id=peer_id,
        filename=file.filename,
        content_type=file.content_type or "",
        size=len(data),
        metadata=meta,
        configuration=config,
        created_at=_lenient_datetime(created_at),
        caller=principal,
    )
    return render.respond([render.message(m) for m in created], 201)


@router.post("/list", response_model=PageOut[MessageOut])
@policy(member_read=True, **SESSION)
async def list_messages(
    workspace_id: str,
    session_id: str,
    deps: DepsDep,
    paging: PagingDep,
    body: Annotated[ListBody | None, Body()] = None,
) -> Response:
    page = await messages.list_page(
        deps, workspace_id, session_id, body.filters if body else None, paging.page, paging.size, paging.reverse
    )
    return render.respond(render.page(page, render.message))


@router.get("/{message_id}", response_model=MessageOut)
@policy(member_read=True, **SESSION)
async def get_message(workspace_id: str, session_id: str, message_id: str, deps: DepsDep) -> Response:
    return render.respond(render.message(await messages.get(deps, workspace_id, session_id, message_id)))


@router.put("/{message_id}", response_model=MessageOut)
@policy(**SESSION)
async def update_message(
    workspace_id: str, session_id: str, message_id: str, body: MessageUpdate, deps: DepsDep
) -> Response:
    updated = await messages.update_metadata(deps, workspace_id, session_id, message_id, body.metadata)
    return render.respond(render.message(updated))


@router.delete("/{message_id}", response_model=ReceiptOut)
@policy(**SESSION)
async def delete_message(workspace_id: str, session_id: str, message_id: str, deps: DepsDep) -> Response:
    """Delete a message and what rests on it: conclusions read only from it, the summaries covering it (queued
    again without it), its vector and full-text entry. Not in the reference API. 200 with the receipt (its counts
    also in the `X-Honcho-Receipt` header); 404 for an unknown session or message."""
    return render.receipt(await cascade.delete_message(deps, workspace_id, session_id, message_id))
