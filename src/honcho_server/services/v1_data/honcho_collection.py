"""The documents of the reserved collection `honcho` (docs/v1-api.md §3.7): the user's current conclusions about
itself (observer = observed = the user) in the workspace's active generation, through the v3 conclusion services."""

from __future__ import annotations

from typing import Any

from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.models import Page
from honcho_server.domain.receipts import Receipt
from honcho_server.errors import NotFound, ValidationError
from honcho_server.services import conclusions
from honcho_server.services.conclusions import ConclusionInput, ConclusionQuery
from honcho_server.services.deps import Deps
from honcho_server.services.v1_data.paths import Owner

READ_ONLY = ("documents of the reserved collection 'honcho' are derived memory: delete and create instead")
# Document.metadata keys, each the conclusion field of that name (and what a v1 filter may select on).
EXPOSED = ("level", "session_id", "times_derived")
_NOTHING: dict[str, Any] = {"id": {"in": []}}  # a v3 condition no conclusion meets
_LOGICAL = ("AND", "OR", "NOT")


def metadata_of(c: Conclusion) -> dict[str, Any]:
    return {"level": c.level, "session_id": c.session_name, "times_derived": c.times_derived}


def _translated(given: Any) -> Any:
    """A v1 filter on the exposed metadata as a v3 conclusion filter; other keys match nothing."""
    if isinstance(given, list):
        return [_translated(item) for item in given]
    if not isinstance(given, dict):
        return given  # the DSL refuses it (422)
    parts = []
    for key, value in given.items():
        if key in _LOGICAL:
            parts.append({key: _translated(value)})
        else:
            parts.append({key: value} if key in EXPOSED else _NOTHING)
    return {"AND": parts} if parts else {}


def _collection(owner: Owner, filters: dict[str, Any] | None) -> dict[str, Any]:
    """The v3 filter of the user's own conclusions, narrowed by the v1 filter."""
    chosen: dict[str, Any] = {"observer_id": owner.user_id, "observed_id": owner.user_id}
    if filters:
        chosen["AND"] = [_translated(filters)]
    return chosen


def _mine(owner: Owner, c: Conclusion) -> bool:
    return c.observer == owner.user_id and c.observed == owner.user_id


async def list_page(deps: Deps, owner: Owner, filters: dict[str, Any] | None, page: int, size: int,
                    reverse: bool) -> Page[Conclusion]:
    """Oldest first like every v1 list (v3 lists conclusions newest first)."""
    return await conclusions.list_page(deps, owner.app_id, _collection(owner, filters), page, size, not reverse)


async def get(deps: Deps, owner: Owner, uid: str) -> Conclusion:
    found = await conclusions.get(deps, owner.app_id, uid)
    if not _mine(owner, found):
        raise NotFound(f"Document {uid} not found in collection honcho")
    return found


async def create(deps: Deps, owner: Owner, content: str) -> Conclusion:
    """An explicit conclusion of the user about itself, with no session: the app's own, kept across rederives."""
    return (await conclusions.create(deps, owner.app_id, [ConclusionInput(content, owner.user_id, owner.user_id)]))[0]


async def delete(deps: Deps, owner: Owner, uid: str) -> Receipt:
    """The conclusion and what rests on it (the v3 cascade)."""
    await get(deps, owner, uid)
    return await conclusions.delete(deps, owner.app_id, uid)


async def query(deps: Deps, owner: Owner, text: str, top_k: int, filters: dict[str, Any] | None
                ) -> list[Conclusion]:
    return await conclusions.query(deps, owner.app_id, ConclusionQuery(text, top_k, None, _collection(owner, filters)))


def refuse_update() -> None:
    raise ValidationError(READ_ONLY)
