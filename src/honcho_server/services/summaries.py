"""Reading session summaries (they are written by the worker: reasoning/summaries.py)."""

from __future__ import annotations

from honcho_server.domain.models import SessionSummary
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import summaries as repo


async def latest(deps: Deps, workspace_name: str, session_name: str, generation: str | None = None
                 ) -> dict[str, SessionSummary]:
    """kind -> the newest summary of the session in the active generation (or the one `generation` names); empty
    for an unknown session (spec 7.13: 200 with nulls)."""
    async with deps.db.read() as conn:
        ws = await workspaces.serving(conn, workspace_name, generation) if generation is not None else None
        return await repo.latest_by_name(conn, workspace_name, session_name, ws.generation_pk if ws else None)
