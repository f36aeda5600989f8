"""Generations of a workspace's derived memory (docs/generations.md): the first one, made with the workspace, and
the active one, which every derived row written now belongs to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.tables import generations as t


async def create_first(conn: AsyncConnection, workspace_pk: int, now: datetime) -> int:
    """Generation 1 of a new workspace, active at once; returns its key."""
    stmt = insert(t).values(workspace_id=workspace_pk, number=1, state="active", recipe={}, fingerprint="",
                            scope={}, started_by="workspace", progress={}, created_at=now, activated_at=now)
    return int((await conn.execute(stmt.returning(t.c.id))).scalar_one())


def active(workspace_pk: int) -> ScalarSelect[int]:
    """The key of the workspace's active generation, as an expression a write puts in its `generation_id` (no
    round trip of its own). Every workspace has one: made with it, or by migration 0015; were it missing, the
    column's NOT NULL refuses the row."""
    return select(t.c.id).where(t.c.workspace_id == workspace_pk, t.c.state == "active").scalar_subquery()
