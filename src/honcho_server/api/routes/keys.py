"""API key minting (spec 10.C), health and metrics."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from honcho_server.api import render
from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import ErrorOut, KeyOut
from honcho_server.domain.credentials import mint_key
from honcho_server.errors import Disabled, ValidationError
from honcho_server.services import llm_status

router = APIRouter(route_class=PolicyRoute)
log = logging.getLogger("honcho_server.api")


@router.post(
    "/v3/keys",
    response_model=KeyOut,
    tags=["keys"],
    responses={405: {"model": ErrorOut, "description": "Authentication is disabled"}},
)
@policy(workspace=None, admin_only=True)
async def create_key(
    deps: DepsDep,
    workspace_id: Annotated[str | None, Query()] = None,
    peer_id: Annotated[str | None, Query()] = None,
    session_id: Annotated[str | None, Query()] = None,
    expires_at: Annotated[datetime | None, Query()] = None,
) -> KeyOut:
    auth = deps.settings.auth
    if not auth.enabled or auth.jwt_secret is None:
        raise Disabled()
    try:
        key = mint_key(
            auth.jwt_secret.get_secret_value(),
            workspace=workspace_id,
            peer=peer_id,
            session=session_id,
            expires_at=expires_at,
            now=deps.now(),
        )
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return KeyOut(key=key)


@router.get("/health", tags=["health"])
@policy(public=True)
async def health(deps: DepsDep) -> dict:
    """Liveness, whether background reasoning is on (it needs a configured LLM), and when it is, what each LLM
    endpoint was seen to support (`honcho-server llm check` probes them; "not checked yet" until then)."""
    body = {"status": "ok", **render.reasoning(deps.settings.llm)}
    if deps.settings.llm.enabled:
        try:
            body["llm_endpoints"] = render.llm_endpoints(await llm_status.stored(deps))
        except Exception:  # liveness must not depend on reading what was learned
            log.exception("could not read the LLM capabilities for /health")
            body["llm_endpoints"] = "could not be read (see the server log)"
    return body


@router.get("/metrics", tags=["health"], response_class=Response)
@policy(public=True)
async def metrics(deps: DepsDep) -> Response:
    """Prometheus counters of this process (LLM calls, tokens, cost, latency) when `server.metrics_enabled`
    (HONCHO_SERVER__METRICS_ENABLED or METRICS_ENABLED); 404 otherwise (spec 10.D)."""
    if not deps.settings.server.metrics_enabled:
        return Response("Metrics are disabled", status_code=404, media_type="text/plain")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
