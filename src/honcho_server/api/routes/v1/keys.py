"""v1 key minting (0.2.0 `keys.create`, docs/v1-api.md §3.9): the v3 keys, named in v1 terms, admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from honcho_server.api.deps import DepsDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.routes import keys
from honcho_server.api.routes.v1.common import TAGS
from honcho_server.api.schemas import ErrorOut, KeyOut
from honcho_server.errors import ValidationError

router = APIRouter(route_class=PolicyRoute)


@router.post("/v1/keys", response_model=KeyOut, tags=TAGS,
             responses={405: {"model": ErrorOut, "description": "Authentication is disabled"}})
@policy(workspace=None, admin_only=True)
async def create_key(
    deps: DepsDep,
    app_id: Annotated[str | None, Query()] = None,
    user_id: Annotated[str | None, Query()] = None,
    session_id: Annotated[str | None, Query()] = None,
    collection_id: Annotated[str | None, Query()] = None,
    expires_at: Annotated[datetime | None, Query()] = None,
) -> KeyOut:
    """A key for an app, a user (a peer key) or a session; collection-scoped keys have no v3 kind (422)."""
    if collection_id is not None:
        raise ValidationError("collection-scoped keys are not supported")
    return await keys.create_key(deps, workspace_id=app_id, peer_id=user_id, session_id=session_id,
                                 expires_at=expires_at)
