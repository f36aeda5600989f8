"""What the v1 data routes share: the user prefix and the shapes (a 409 under /v1 says `x-should-retry: false`:
api/errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from honcho_server.api import render
from honcho_server.api.schemas import ErrorOut
from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.credentials import Principal
from honcho_server.errors import Unauthorized
from honcho_server.services.access import NOT_PERMITTED
from honcho_server.services.v1_data.honcho_collection import metadata_of
from honcho_server.services.v1_data.paths import Owner
from honcho_server.store.repos.v1_collections import Collection, Document
from honcho_server.store.repos.v1_metamessages import Metamessage

USER = "/v1/apps/{app_id}/users/{user_id}"
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "The name is taken"}}


def require_workspace_key(principal: Principal) -> None:
    """The reserved collection's documents are conclusions: like the v3 conclusion routes, workspace-level keys
    only (docs/v1-api.md §3.9)."""
    if principal.kind not in ("admin", "workspace"):
        raise Unauthorized(NOT_PERMITTED)


def metamessage(owner: Owner, m: Metamessage) -> dict[str, Any]:
    return {"id": m.uid, "app_id": owner.app_id, "user_id": owner.user_id, "session_id": m.session_name,
            "message_id": m.message_uid, "label": m.metamessage_type, "metamessage_type": m.metamessage_type,
            "content": m.content, "metadata": m.metadata, "created_at": m.created_at}


def collection(owner: Owner, c: Collection) -> dict[str, Any]:
    return {"id": c.uid, "app_id": owner.app_id, "user_id": owner.user_id, "name": c.name, "metadata": c.metadata,
            "created_at": c.created_at}


def document(owner: Owner, collection_id: str, d: Document | Conclusion) -> dict[str, Any]:
    """A stored document, or a conclusion of the reserved collection (its exposed fields as metadata)."""
    metadata = metadata_of(d) if isinstance(d, Conclusion) else d.metadata
    return {"id": d.uid, "app_id": owner.app_id, "user_id": owner.user_id, "collection_id": collection_id,
            "content": d.content, "metadata": metadata, "created_at": d.created_at}


def deleted(what: str, headers: dict[str, str] | None = None) -> Response:
    """v1 deletes answer a JSON object (the SDKs return it as is)."""
    return render.JSON({"message": f"{what} deleted successfully"}, headers=headers)
