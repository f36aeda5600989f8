"""Routes that need an LLM: dialectic chat (spec 11) and scheduling dreams (spec 5.7). Without a configured
provider they answer 400 with how to configure one."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.errors import BadRequest, ReasoningOff, ValidationError
from honcho_server.services import dreams
from honcho_server.services.deps import Deps

router = APIRouter(prefix="/v3/workspaces/{workspace_id}", tags=["reasoning"], route_class=PolicyRoute)


class ChatBody(BaseModel):
    query: str = Field(min_length=1, max_length=10_000)
    stream: bool = False
    reasoning_level: Literal["minimal", "low", "medium", "high", "max"] = "low"
    session_id: str | None = None
    target: str | None = None
    filters: dict[str, Any] | None = None
    scope: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    include_evidence: bool = False


class ScheduleDreamBody(BaseModel):
    observer: str = Field(min_length=1)
    observed: str | None = None
    dream_type: Literal["omni", "card_refresh"]
    session_id: str | None = None
    rebuild: bool = False


def _chat(deps: Deps) -> Response:
    if not deps.settings.llm.enabled:
        raise ReasoningOff()
    raise BadRequest("Dialectic chat is not available in this version of the server")


@router.post("/peers/{peer_id}/chat")
@policy(peer="peer_id")
async def peer_chat(workspace_id: str, peer_id: str, body: ChatBody, deps: DepsDep) -> Response:
    return _chat(deps)


@router.post("/chat")
@policy()
async def workspace_chat(workspace_id: str, body: ChatBody, deps: DepsDep) -> Response:
    return _chat(deps)


@router.post("/schedule_dream", status_code=204)
@policy()
async def schedule_dream(workspace_id: str, body: ScheduleDreamBody, deps: DepsDep) -> Response:
    for name in (body.observer, body.observed):
        if name is not None and name.startswith("scope."):
            raise ValidationError("Scopes are not supported by this server yet")
    await dreams.schedule(deps, workspace_id, body.observer, body.observed, body.dream_type, body.session_id,
                          body.rebuild)
    return Response(status_code=204)
