"""Queue status: how much background work is done, running, waiting or parked; the parked jobs themselves,
and sending them back to the queue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import QueueCounts, QueueStatus
from honcho_server.queue import jobs
from honcho_server.services import workspaces
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


async def _workspace_pk(conn: AsyncConnection, workspace_name: str | None) -> int | None:
    """None (every workspace) or the named workspace's key; NotFound when it does not exist."""
    return None if workspace_name is None else (await workspaces.require(conn, workspace_name)).pk


async def failed_jobs(deps: Deps, workspace_name: str | None = None, limit: int = 50) -> list[jobs.FailedJob]:
    """Jobs parked as failed after their last attempt, with their errors, most recent first."""
    async with deps.db.read() as conn:
        return await jobs.failed(conn, await _workspace_pk(conn, workspace_name), limit)


async def redrive(deps: Deps, workspace_name: str | None = None) -> int:
    """Send the parked jobs (of one workspace, or all) back to the queue with a fresh attempt budget."""
    async with deps.db.write() as conn:
        return await jobs.redrive(conn, await _workspace_pk(conn, workspace_name), deps.now())
