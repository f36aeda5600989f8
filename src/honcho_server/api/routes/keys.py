"""API key minting (spec 10.C). Health: routes/health.py; metrics: routes/metrics.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import ErrorOut, KeyOut
from honcho_server.domain.credentials import mint_key
from honcho_server.errors import Disabled, ValidationError

router = APIRouter(route_class=PolicyRoute)


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

