"""Liveness (/health, never touches the database) and readiness (/ready: database, schema, worker, queue lag)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from honcho_server.api import render
from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.services import llm_status, readiness

router = APIRouter(route_class=PolicyRoute)
log = logging.getLogger("honcho_server.api")


class CheckOut(BaseModel):
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    status: str  # "ready" or "not ready"
    detail: str | None = None  # the failing checks, when not ready
    checks: dict[str, CheckOut]
    llm_endpoints: Any = None


@router.get("/health", tags=["health"])
@policy(public=True)
async def health(deps: DepsDep) -> dict[str, Any]:
    """Liveness: the process answers (no database access, so a database outage never restarts it), and
    whether background reasoning is on (it needs a configured LLM). Readiness is /ready."""
    return {"status": "ok", **render.reasoning(deps.settings.llm)}


@router.get("/ready", tags=["health"], response_model=ReadyOut, response_model_exclude_none=True,
            responses={503: {"model": ReadyOut, "description": "Not ready: `detail` names the failing checks"}})
@policy(public=True)
async def ready(deps: DepsDep) -> render.JSON:
    """Readiness: the database answers, its schema revision is this server's, a worker's heartbeat is recent and
    no due job has waited too long (thresholds: `ready.*` settings). 200 with each check, or 503 naming what
    fails. With an LLM configured, what each endpoint was seen to support (`honcho-server llm check` probes
    them; "not checked yet" until then)."""
    result = await readiness.check(deps)
    body: dict[str, Any] = {"status": "ready" if result.ready else "not ready"}
    if not result.ready:
        body["detail"] = "; ".join(result.reasons())
    body["checks"] = {name: {"ok": c.ok, "detail": c.detail} for name, c in result.checks.items()}
    if deps.settings.llm.enabled and result.checks["database"].ok:
        try:
            body["llm_endpoints"] = render.llm_endpoints(await llm_status.stored(deps))
        except Exception:  # what was learned about the LLM is information, not a readiness condition
            log.exception("could not read the LLM capabilities for /ready")
            body["llm_endpoints"] = "could not be read (see the server log)"
    return render.JSON(body, status_code=200 if result.ready else 503)
