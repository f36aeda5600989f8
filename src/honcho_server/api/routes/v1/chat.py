"""v1 dialectic chat (docs/v1-api.md §1.8, §3.8): what the user's memory says about the user, with the path's
session read for its recent history; recall is confined to that session only under a session key.

The streamed variants (0.0.19's `…/chat/stream`, 0.2.0's `…/chat` with `stream: true`) send the answer's text as
it is written, raw: the v1 SDKs never parse events, so SSE framing would reach the app as literal `data:` lines.
Everything that can be refused is refused as JSON before the first byte, as in v3 (api/sse.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from honcho_server.api import render, sse
from honcho_server.api import v1_schemas as v1
from honcho_server.api.deps import DepsDep, PrincipalDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes.v1.common import PREFIX, TAGS
from honcho_server.api.statuses import LLM_ERRORS
from honcho_server.domain.credentials import Principal
from honcho_server.errors import ReasoningOff, ValidationError
from honcho_server.reasoning import dialectic
from honcho_server.reasoning.dialectic import ChatRequest
from honcho_server.services.deps import Deps
from honcho_server.services.v1 import sessions

router = APIRouter(prefix=PREFIX + "/{app_id}/users/{user_id}/sessions/{session_id}", tags=TAGS,
                   route_class=PolicyRoute)
# The user's key, a key of the session (then confined to it), or a workspace or admin key.
CHAT = dict(workspace="app_id", peer="user_id", session="session_id")
MAX_QUERY = 10_000  # the v3 chat's `query` limit
MEDIA_TYPE = "text/event-stream; charset=utf-8"  # any non-JSON type works; the charset makes iter_text() decode UTF-8


def question(queries: str | list[str]) -> str:
    """Several queries are one question (one agent run, one answer)."""
    if isinstance(queries, str):
        text = queries
    elif len(queries) == 1:
        text = queries[0]
    else:
        text = "Answer each of these questions:\n" + "\n".join(f"{i}. {q}" for i, q in enumerate(queries, 1))
    text = text.replace("\x00", "")
    if not text.strip() or len(text) > MAX_QUERY:
        raise ValidationError(f"queries must hold 1 to {MAX_QUERY} characters in total")
    return text


# Raw text: the v1 SDKs read the body as it comes (`iter_text()`) or whole; they parse no events, so SSE framing
# would reach the app as text. A failure after the first chunk can only end the body early.
RAW_TEXT = sse.Framing(media_type=MEDIA_TYPE, delta=str.encode, error=lambda _message: None, done=lambda: None)


async def _chat(deps: Deps, principal: Principal, app_id: str, user_id: str, session_id: str, body: v1.ChatBody,
                stream: bool) -> Response:
    if not deps.settings.llm.enabled:
        raise ReasoningOff.because(deps.settings.llm.problem)
    query = question(body.queries)
    await sessions.require(deps, app_id, user_id, session_id)  # 404: unknown, or the user is not in it
    confined = [session_id] if principal.kind == "session" else None
    chat = await dialectic.prepare(deps, ChatRequest(workspace=app_id, query=query, peer=user_id,
                                                     session=session_id, sessions=confined))
    if stream:
        return await sse.stream(chat.stream(), RAW_TEXT)
    reply = await chat.answer()
    return render.respond({"content": reply.content or ""})  # both SDKs type it as a string


@router.post("/chat", response_model=v1.ChatOut, responses=LLM_ERRORS)
@policy(**CHAT)
async def chat(app_id: str, user_id: str, session_id: str, body: v1.ChatBody, deps: DepsDep,
               principal: PrincipalDep) -> Response:
    """`{"content": …}`, or with `stream: true` the answer as raw text chunks (0.2.0)."""
    return await _chat(deps, principal, app_id, user_id, session_id, body, body.stream)


@router.post("/chat/stream", responses=LLM_ERRORS)
@policy(**CHAT)
async def chat_stream(app_id: str, user_id: str, session_id: str, body: v1.ChatBody, deps: DepsDep,
                      principal: PrincipalDep) -> Response:
    """The answer as raw text chunks, `text/event-stream` without event framing (0.0.19's `sessions.stream`)."""
    return await _chat(deps, principal, app_id, user_id, session_id, body, True)
