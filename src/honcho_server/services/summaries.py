"""Reading session summaries (they are written by the worker: reasoning/summaries.py)."""

from __future__ import annotations

from honcho_server.domain.models import SessionSummary
from honcho_server.services.deps import Deps
from honcho_server.store.repos import summaries as repo


async def latest(deps: Deps, workspace_name: str, session_name: str) -> dict[str, SessionSummary]:
    """kind -> the newest summary of the session; empty for an unknown session (spec 7.13: 200 with nulls)."""
    async with deps.db.read() as conn:
        return await repo.latest_by_name(conn, workspace_name, session_name)
