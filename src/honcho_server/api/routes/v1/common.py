"""What the v1 routes share: their tag, the 409 they document, and authorization of ids that arrive late."""

from __future__ import annotations

from typing import Any

from honcho_server.api.schemas import ErrorOut
from honcho_server.domain.credentials import Principal
from honcho_server.domain.ids import NAME_MAX
from honcho_server.errors import NotFound, Unauthorized, ValidationError
from honcho_server.services import access
from honcho_server.services.deps import Deps

TAGS: list[Any] = ["v1"]
PREFIX = "/v1/apps"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The name is taken (sent with `x-should-retry: false`)"}}


def claim(given: str | None, from_key: str | None, what: str) -> str:
    """A 0.2.0 `get` names its id in the query, or else means the key's own (§1.3); 422 when neither says."""
    chosen = given or from_key
    if not chosen:
        raise ValidationError(f"{what} is required (the key names none)")
    return chosen


async def reach(deps: Deps, principal: Principal, *, workspace: str, peer: str | None = None,
                session: str | None = None, member_read: bool = False) -> None:
    """The policy check of a route whose ids were not in its path (a query, or resolved from a name)."""
    await access.check_reach(deps, principal, workspace=workspace, peer=peer, session=session,
                             member_read=member_read)


def missing(principal: Principal, what: str) -> Exception:
    """Not found by name: a 404 for admin keys; for any other key a 401, as for any id outside its reach (the
    workspace check of every other route runs before a lookup, so no key learns what exists elsewhere)."""
    return NotFound(f"{what} not found") if principal.admin else Unauthorized(access.NOT_PERMITTED)


def check_name(name: str) -> str:
    """A v1 name arriving in a path (`get_or_create/{name}`) holds to the body's rules."""
    if len(name) > NAME_MAX:
        raise ValidationError(f"name is too long: {len(name)} characters (at most {NAME_MAX})")
    return name
