"""Session context: the most recent messages that fit a token budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from honcho_server.domain.models import Message
from honcho_server.errors import ValidationError
from honcho_server.services import sessions
from honcho_server.services.deps import Deps
from honcho_server.store.repos import messages as message_repo


@dataclass(slots=True)
class SessionContext:
    messages: list[Message] = field(default_factory=list)


async def session_context(deps: Deps, workspace_name: str, session_name: str, *, tokens: int | None,
                          summary: bool) -> SessionContext:
    """Newest messages whose running token total (newest to oldest) fits the budget, oldest first."""
    cap = deps.settings.limits.context_max_tokens
    if tokens is not None and tokens > cap:
        raise ValidationError(f"tokens must be at most {cap}")
    budget = cap if tokens is None else tokens
    if budget <= 0:
        return SessionContext()
    async with deps.db.read() as conn:
        session = await sessions.find_active(conn, workspace_name, session_name)
        if session is None:
            return SessionContext()
        recent = await message_repo.newest_within_budget(conn, session.pk, budget, workspace_name, session_name)
    return SessionContext(messages=recent)
