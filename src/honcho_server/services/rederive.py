"""Re-derivation (docs/generations.md): the durable jobs that build a generation from the message log."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import Generation
from honcho_server.domain.models import Workspace
from honcho_server.services.deps import Deps


async def enqueue(conn: AsyncConnection, deps: Deps, ws: Workspace, generation: Generation) -> int:
    """Queue, in the caller's transaction, the jobs that derive `generation` from the messages in its scope;
    returns how many were queued (its progress counts them down)."""
    raise NotImplementedError("built in the next increment")
