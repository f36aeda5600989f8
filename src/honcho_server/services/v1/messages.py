"""v1 messages: `is_user` picks the author, the path's user or the app's assistant (docs/v1-api.md §3.3-3.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honcho_server.domain.credentials import Principal
from honcho_server.domain.models import Message, Page
from honcho_server.services import messages
from honcho_server.services.deps import Deps
from honcho_server.services.v1 import assistant, names
from honcho_server.services.v1.filters import metadata_filter


@dataclass(frozen=True, slots=True)
class NewMessage:
    content: str
    is_user: bool
    metadata: dict[str, Any] | None


async def create(deps: Deps, app_id: str, user_id: str, session_id: str, batch: list[NewMessage], *,
                 caller: Principal) -> list[Message]:
    """Append in request order, through the v3 write path (jobs, membership, the key's confinement)."""
    async with deps.db.read() as conn:
        ws, _, _ = await names.require_path(conn, app_id, user_id, session_id)
    bot = await assistant.ensure(deps, ws) if not all(m.is_user for m in batch) else ""
    new = [messages.NewMessage(content=m.content, peer_name=user_id if m.is_user else bot,
                               metadata=m.metadata or {}) for m in batch]
    return await messages.create(deps, app_id, session_id, new, caller=caller)


async def get(deps: Deps, app_id: str, user_id: str, session_id: str, message_id: str) -> Message:
    async with deps.db.read() as conn:
        await names.require_path(conn, app_id, user_id, session_id)
    return await messages.get(deps, app_id, session_id, message_id)


async def update(deps: Deps, app_id: str, user_id: str, session_id: str, message_id: str,
                 metadata: dict[str, Any]) -> Message:
    async with deps.db.read() as conn:
        await names.require_path(conn, app_id, user_id, session_id)
    return await messages.update_metadata(deps, app_id, session_id, message_id, metadata)


async def list_page(deps: Deps, app_id: str, user_id: str, session_id: str, given: dict[str, Any] | None,
                    page: int, size: int, reverse: bool) -> Page[Message]:
    async with deps.db.read() as conn:
        await names.require_path(conn, app_id, user_id, session_id)
    return await messages.list_page(deps, app_id, session_id, metadata_filter(given), page, size, reverse)
