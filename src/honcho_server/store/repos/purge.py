"""Bulk deletes used by the purge jobs; foreign keys cascade to memberships and jobs."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.tables import messages, sessions, workspaces


async def session_is(conn: AsyncConnection, session_pk: int, uid: str | None, workspace_pk: int | None) -> bool:
    """Whether row `session_pk` is still the session a purge was asked for. SQLite hands a deleted row's id to the
    next insert when it was the highest, so an id alone may name a newer session by the time a purge runs: the uid
    says it is the same one (jobs queued before uids were recorded: it must at least be hidden, i.e. deleted)."""
    row = (await conn.execute(select(sessions.c.uid, sessions.c.workspace_id, sessions.c.is_active)
                              .where(sessions.c.id == session_pk))).first()
    if row is None or (workspace_pk is not None and row.workspace_id != workspace_pk):
        return False
    return row.uid == uid if uid is not None else not row.is_active


async def workspace_is(conn: AsyncConnection, workspace_pk: int, uid: str | None) -> bool:
    """Whether row `workspace_pk` is still the workspace a purge was asked for (see `session_is`)."""
    found = (await conn.execute(select(workspaces.c.uid).where(workspaces.c.id == workspace_pk))).first()
    return found is not None and (uid is None or found.uid == uid)


async def delete_session_messages(conn: AsyncConnection, session_pk: int, limit: int) -> int:
    batch = select(messages.c.id).where(messages.c.session_id == session_pk).limit(limit)
    result = await conn.execute(delete(messages).where(messages.c.id.in_(batch.scalar_subquery())))
    return result.rowcount


async def workspace_of(conn: AsyncConnection, session_pk: int) -> int | None:
    return (await conn.execute(select(sessions.c.workspace_id).where(sessions.c.id == session_pk))).scalar_one_or_none()


async def delete_session(conn: AsyncConnection, session_pk: int) -> None:
    await conn.execute(delete(sessions).where(sessions.c.id == session_pk))


async def session_keys(conn: AsyncConnection, workspace_pk: int) -> list[tuple[int, str]]:
    """(id, uid) of the workspace's sessions."""
    query = select(sessions.c.id, sessions.c.uid).where(sessions.c.workspace_id == workspace_pk)
    return [(pk, uid) for pk, uid in await conn.execute(query)]


async def delete_workspace(conn: AsyncConnection, workspace_pk: int) -> None:
    await conn.execute(delete(workspaces).where(workspaces.c.id == workspace_pk))
