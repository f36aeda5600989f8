"""Bulk deletes used by the purge jobs; foreign keys cascade to memberships and jobs."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.tables import messages, sessions, workspaces


async def delete_session_messages(conn: AsyncConnection, session_pk: int, limit: int) -> int:
    batch = select(messages.c.id).where(messages.c.session_id == session_pk).limit(limit)
    result = await conn.execute(delete(messages).where(messages.c.id.in_(batch.scalar_subquery())))
    return result.rowcount


async def workspace_of(conn: AsyncConnection, session_pk: int) -> int | None:
    return (await conn.execute(select(sessions.c.workspace_id).where(sessions.c.id == session_pk))).scalar_one_or_none()


async def delete_session(conn: AsyncConnection, session_pk: int) -> None:
    await conn.execute(delete(sessions).where(sessions.c.id == session_pk))


async def session_pks(conn: AsyncConnection, workspace_pk: int) -> list[int]:
    return list((await conn.execute(select(sessions.c.id).where(sessions.c.workspace_id == workspace_pk))).scalars())


async def delete_workspace(conn: AsyncConnection, workspace_pk: int) -> None:
    await conn.execute(delete(workspaces).where(workspaces.c.id == workspace_pk))
