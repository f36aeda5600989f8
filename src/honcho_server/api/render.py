"""Fast JSON responses: plain dicts of domain records, serialised once (orjson).

Routes still declare pydantic `response_model`s for the OpenAPI document, but return ready responses so
FastAPI neither re-validates nor re-serialises them (a large share of per-request CPU otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response

from honcho_server.config import LLMSettings
from honcho_server.domain import jsontext, models
from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.receipts import Receipt
from honcho_server.services.llm_status import EndpointStatus


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsontext.dumps(content)


def respond(content: Any, status_code: int = 200) -> JSON:
    return JSON(content, status_code=status_code)


# Every deletion that cascades answers with its receipt's counts in this header (compact JSON, bounded in size).
RECEIPT_HEADER = "X-Honcho-Receipt"


def receipt(done: Receipt) -> JSON:
    """The whole receipt as the body, its counts in the header."""
    return JSON(done.as_dict(), headers={RECEIPT_HEADER: done.header()})


def receipt_only_header(done: Receipt) -> Response:
    """204 without a body (what the SDK expects), the counts in the header."""
    return Response(status_code=204, headers={RECEIPT_HEADER: done.header()})


def workspace(w: models.Workspace) -> dict[str, Any]:
    return {
        "id": w.name,
        "metadata": w.metadata,
        "configuration": w.configuration,
        "created_at": w.created_at,
        "uid": w.uid,
    }


def peer(p: models.Peer) -> dict[str, Any]:
    return {
        "id": p.name,
        "workspace_id": p.workspace_name,
        "created_at": p.created_at,
        "metadata": p.metadata,
        "configuration": p.configuration,
        "uid": p.uid,
    }


def session(s: models.Session) -> dict[str, Any]:
    return {
        "id": s.name,
        "is_active": s.is_active,
        "workspace_id": s.workspace_name,
        "metadata": s.metadata,
        "configuration": s.configuration,
        "created_at": s.created_at,
        "uid": s.uid,
    }


def message(m: models.Message) -> dict[str, Any]:
    return {
        "id": m.uid,
        "content": m.content,
        "peer_id": m.peer_name,
        "session_id": m.session_name,
        "metadata": m.metadata,
        "created_at": m.created_at,
        "workspace_id": m.workspace_name,
        "token_count": m.token_count,
    }


def page(p: models.Page[Any], convert: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [convert(i) for i in p.items], "total": p.total, "page": p.page, "size": p.size, "pages": p.pages}


def conclusion(c: Conclusion) -> dict[str, Any]:
    return {
        "id": c.uid,
        "content": c.content,
        "observer_id": c.observer,
        "observed_id": c.observed,
        "session_id": c.session_name,
        "level": c.level,
        "created_at": c.created_at,
        "source_ids": c.source_ids,
        "times_derived": c.times_derived,
    }


def reasoning(llm: LLMSettings) -> dict[str, Any]:
    """Whether background reasoning runs (it needs an LLM): said by /health and queue status."""
    if not llm.enabled:
        why = llm.problem or "no LLM configured: set HONCHO_LLM__PROVIDER and HONCHO_LLM__MODEL"
        return {"reasoning": "off", "reasoning_detail": f"{why}; summaries and conclusions wait as pending work "
                "until then"}
    return {"reasoning": "on", "llm": {"provider": llm.provider, "model": llm.model}}


NOT_CHECKED = "not checked yet"


def llm_endpoints(found: list[EndpointStatus]) -> list[dict[str, Any]]:
    """Each endpoint the tasks use (its base URL left out: /health is public) with what was seen it supports."""
    return [{"provider": s.endpoint.provider, "model": s.endpoint.model, "tasks": list(s.endpoint.tasks),
             "capabilities": s.capabilities.as_dict() if s.capabilities is not None else NOT_CHECKED}
            for s in found]
