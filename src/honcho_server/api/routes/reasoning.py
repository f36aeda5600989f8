"""Routes that need an LLM: dialectic chat (spec 11) and scheduling dreams (spec 5.7). Without a configured
provider they answer 400 with how to configure one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from honcho_server.api import render, sse
from honcho_server.api.deps import DepsDep, PrincipalDep
from honcho_server.api.policy import NOT_PERMITTED, PolicyRoute, policy, require_scope_key
from honcho_server.api.statuses import LLM_ERRORS
from honcho_server.domain.credentials import Principal
from honcho_server.errors import ReasoningOff, Unauthorized, ValidationError
from honcho_server.reasoning import dialectic
from honcho_server.reasoning.dialectic import Chat, ChatRequest
from honcho_server.reasoning.response_format import output_model
from honcho_server.services import access, dreams, scopes
from honcho_server.services.conclusions import check_not_scope
from honcho_server.services.deps import Deps
from honcho_server.services.representation import session_allowlist

router = APIRouter(prefix="/v3/workspaces/{workspace_id}", tags=["reasoning"], route_class=PolicyRoute)
Level = Literal["minimal", "low", "medium", "high", "max"]


class WorkspaceChatBody(BaseModel):
    query: str = Field(min_length=1, max_length=10_000)
    stream: bool = False
    reasoning_level: Level = "low"
    session_id: str | None = None
    filters: dict[str, Any] | None = None  # the session allowlist of spec 11.2 (beyond the SDK's workspace chat)
    scope: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    include_evidence: bool = False
    # The generation of memory to ask (`g2` or its name; docs/generations.md); the active one by default.
    generation: str | None = Field(default=None, min_length=1, max_length=512)


class ChatBody(WorkspaceChatBody):
    target: str | None = None


class ScheduleDreamBody(BaseModel):
    observer: str = Field(min_length=1)
    observed: str | None = None
    dream_type: Literal["omni", "card_refresh"]
    session_id: str | None = None
    rebuild: bool = False


def _request(workspace_id: str, body: WorkspaceChatBody, peer: str | None, sessions: list[str] | None
             ) -> ChatRequest:
    """Steps 4-5 of spec 11.1 that need no database: the allowlist (a `session_id` confines the chat to that
    session, which must then be in the `filters` allowlist when both are given) and the response_format."""
    if body.session_id is not None:
        if sessions is not None and body.session_id not in sessions:
            raise ValidationError("session_id must be included in filters.session_id")
        sessions = [body.session_id]
    output = output_model(body.response_format) if body.response_format is not None else None
    return ChatRequest(workspace=workspace_id, query=body.query.replace("\x00", ""), level=body.reasoning_level,
                       peer=peer, target=getattr(body, "target", None), session=body.session_id, sessions=sessions,
                       output=output, evidence=body.include_evidence, generation=body.generation)


async def _answer(deps: Deps, request: ChatRequest, stream: bool) -> Response:
    chat: Chat = await dialectic.prepare(deps, request)
    if stream:
        def final() -> dict[str, Any]:
            return {"evidence": chat.reply.evidence} if request.evidence and chat.reply else {}

        return await sse.respond(chat.stream(), final)
    reply = await chat.answer()
    return render.respond({"content": reply.content, **({"evidence": reply.evidence} if request.evidence else {})})


async def _scope_sessions(deps: Deps, workspace_id: str, scope: str | list[str]) -> list[str]:
    """The member sessions of the scope(s) named (404 for an unknown one)."""
    scopes.check_read_option(scope)
    return await scopes.member_sessions(deps, workspace_id, [scope] if isinstance(scope, str) else scope)


async def _check_member(deps: Deps, principal: Principal, workspace_id: str, session_names: list[str]) -> None:
    """A peer key may only name sessions its peer is an active member of (spec 11.1 steps 3-4)."""
    if principal.kind == "peer" and session_names and not await access.is_member_of_all(
            deps, workspace_id, session_names, principal.peer):
        raise Unauthorized(NOT_PERMITTED)


@router.post("/peers/{peer_id}/chat", responses=LLM_ERRORS)
@policy(peer="peer_id")
async def peer_chat(workspace_id: str, peer_id: str, body: ChatBody, deps: DepsDep, principal: PrincipalDep
                    ) -> Response:
    """Ask what `peer_id` knows about `target` (itself by default): JSON, or SSE with `stream`."""
    if not deps.settings.llm.enabled:
        raise ReasoningOff.because(deps.settings.llm.problem)
    check_not_scope("peer", peer_id)
    if body.target is not None:
        check_not_scope("target", body.target)
    if body.scope is not None:
        if body.filters is not None:
            raise ValidationError("`scope` and `filters` are mutually exclusive")
        if body.session_id is not None:
            raise ValidationError("`scope` and `session_id` are mutually exclusive")
        require_scope_key(principal)
    await _check_member(deps, principal, workspace_id, [body.session_id] if body.session_id else [])
    sessions = session_allowlist(body.filters)
    await _check_member(deps, principal, workspace_id, sessions or [])
    if body.scope is None:
        return await _answer(deps, _request(workspace_id, body, peer_id, sessions), body.stream)
    # One scope: its own view (404 when unknown, before the asking peer is created); several: their sessions.
    scope_sessions = await _scope_sessions(deps, workspace_id, body.scope)
    if isinstance(body.scope, str):
        return await _answer(deps, replace(_request(workspace_id, body, peer_id, None), scope=body.scope),
                             body.stream)
    return await _answer(deps, _request(workspace_id, body, peer_id, scope_sessions), body.stream)


@router.post("/chat", responses=LLM_ERRORS)
@policy()
async def workspace_chat(workspace_id: str, body: WorkspaceChatBody, deps: DepsDep) -> Response:
    """Ask about the whole workspace (every peer's own view): JSON, or SSE with `stream`."""
    if not deps.settings.llm.enabled:
        raise ReasoningOff.because(deps.settings.llm.problem)
    sessions = session_allowlist(body.filters)
    if body.scope is not None:  # recall confined to the member sessions of the scope(s)
        if body.session_id is not None:
            raise ValidationError("`scope` and `session_id` are mutually exclusive")
        if body.filters is not None:
            raise ValidationError("`scope` and `filters` are mutually exclusive")
        sessions = await _scope_sessions(deps, workspace_id, body.scope)
    return await _answer(deps, _request(workspace_id, body, None, sessions), body.stream)


@router.post("/schedule_dream", status_code=204)
@policy()
async def schedule_dream(workspace_id: str, body: ScheduleDreamBody, deps: DepsDep) -> Response:
    for name in (body.observer, body.observed):
        if name is not None and name.startswith("scope."):
            raise ValidationError(f"'{name}' is a scope; dreams are scheduled for peers")
    await dreams.schedule(deps, workspace_id, body.observer, body.observed, body.dream_type, body.session_id,
                          body.rebuild)
    return Response(status_code=204)
