"""What the v1 data routes share: the route class that marks conflicts final, the user prefix, the shapes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response

from honcho_server.api import render
from honcho_server.api.policy import PolicyRoute
from honcho_server.api.schemas import ErrorOut
from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.credentials import Principal
from honcho_server.errors import Conflict, Unauthorized
from honcho_server.services.access import NOT_PERMITTED
from honcho_server.services.v1_data.honcho_collection import metadata_of
from honcho_server.services.v1_data.paths import Owner
from honcho_server.store.repos.v1_collections import Collection, Document
from honcho_server.store.repos.v1_metamessages import Metamessage

USER = "/v1/apps/{app_id}/users/{user_id}"
NO_RETRY = {"x-should-retry": "false"}  # the v1 SDKs retry a 409 unless told not to (docs/v1-api.md §1.9)
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "The name is taken"}}


class V1Route(PolicyRoute):
    """A PolicyRoute whose 409s say `x-should-retry: false`: a conflict is final, and the SDK would otherwise
    send the same request three times."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except Conflict as exc:
                return render.JSON({"detail": exc.message}, status_code=409, headers=NO_RETRY)

        return handler


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
