"""Queue status: how much background work is done, running, waiting or parked."""

from __future__ import annotations

from honcho_server.domain.models import QueueCounts, QueueStatus
from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.repos import workspaces as workspace_repo


async def get(deps: Deps, workspace_name: str, *, observer: str | None, sender: str | None,
              session: str | None) -> QueueStatus:
    async with deps.db.read() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        if ws is None:
            return QueueStatus(totals=QueueCounts())
        return await jobs.status(conn, deps.db.dialect, ws.pk, session_name=session, observer=observer,
                                 sender=sender)
