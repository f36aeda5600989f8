"""Hard deletion of sessions and workspaces, in bounded batches so no transaction grows unbounded."""

from __future__ import annotations

from honcho_server.services.deps import Deps
from honcho_server.store.repos import purge

BATCH = 5000


async def purge_session(deps: Deps, session_pk: int) -> None:
    """Delete a session and everything under it (messages, memberships, jobs)."""
    while True:
        async with deps.db.write() as conn:
            if not await purge.delete_session_messages(conn, session_pk, BATCH):
                await purge.delete_session(conn, session_pk)
                return


async def purge_workspace(deps: Deps, workspace_pk: int) -> None:
    """Delete a workspace and everything in it."""
    async with deps.db.read() as conn:
        session_pks = await purge.session_pks(conn, workspace_pk)
    for pk in session_pks:
        await purge_session(deps, pk)
    async with deps.db.write() as conn:
        await purge.delete_workspace(conn, workspace_pk)
