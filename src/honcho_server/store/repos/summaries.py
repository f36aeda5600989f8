"""Session summaries: the latest of a kind, the messages a new one must cover, and writing one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import SessionSummary
from honcho_server.store.dialect import Dialect
from honcho_server.store.repos import generations
from honcho_server.store.tables import sessions, workspaces
from honcho_server.store.tables import summaries as t


def _summary(row: Any) -> SessionSummary:
    return SessionSummary(kind=row.kind, content=row.content, last_seq=row.last_seq, message_uid=row.message_uid,
                          token_count=row.token_count, created_at=row.created_at)


async def latest(conn: AsyncConnection, generation_pk: int, session_pk: int, kind: str) -> SessionSummary | None:
    """The newest summary of `kind` (the one covering the most messages)."""
    query = select(t).where(t.c.generation_id == generation_pk, t.c.session_id == session_pk, t.c.kind == kind)
    row = (await conn.execute(query.order_by(t.c.last_seq.desc()).limit(1))).first()
    return _summary(row) if row else None


async def latest_by_name(conn: AsyncConnection, workspace_name: str, session_name: str, generation_pk: int | None
                         ) -> dict[str, SessionSummary]:
    """kind -> newest summary of the named session (empty for an unknown or deleted session) in a generation, or
    in the workspace's active one when None (read in the same statement: no lookup of the workspace first)."""
    session_pk = (select(sessions.c.id).join(workspaces, workspaces.c.id == sessions.c.workspace_id)
                  .where(workspaces.c.name == workspace_name, sessions.c.name == session_name, sessions.c.is_active)
                  .scalar_subquery())
    newest = (select(t.c.kind, t.c.content, t.c.last_seq, t.c.message_uid, t.c.token_count, t.c.created_at)
              .where(t.c.session_id == session_pk,
                     t.c.generation_id == (generations.active(t.c.workspace_id) if generation_pk is None
                                           else generation_pk))
              .order_by(t.c.kind, t.c.last_seq.desc()))
    found: dict[str, SessionSummary] = {}
    for row in await conn.execute(newest):
        found.setdefault(row.kind, _summary(row))
    return found


async def add(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, generation_pk: int, session_pk: int,
              summary: SessionSummary) -> None:
    """Insert; a summary of the same kind up to the same message already there wins (jobs may run twice)."""
    stmt = dialect.insert(t).values(
        workspace_id=workspace_pk, generation_id=generation_pk,
        session_id=session_pk, kind=summary.kind, content=summary.content, last_seq=summary.last_seq,
        message_uid=summary.message_uid, token_count=summary.token_count, created_at=summary.created_at)
    await conn.execute(stmt.on_conflict_do_nothing(
        index_elements=["generation_id", "session_id", "kind", "last_seq"]))
