"""Peer cards: one list of entries per (observer, observed) in each generation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import peer_cards as t


async def get(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int) -> list[str] | None:
    query = select(t.c.entries).where(t.c.generation_id == generation_pk, t.c.observer_id == observer_pk,
                                      t.c.observed_id == observed_pk)
    return (await conn.execute(query)).scalar_one_or_none()


async def put(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, generation_pk: int, observer_pk: int,
              observed_pk: int, entries: list[str], now: datetime) -> None:
    """Replace the whole card (insert when there is none)."""
    stmt = dialect.insert(t).values(workspace_id=workspace_pk, generation_id=generation_pk,
                                    observer_id=observer_pk, observed_id=observed_pk, entries=entries, updated_at=now)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["generation_id", "observer_id", "observed_id"],
                                                  set_={"entries": entries, "updated_at": now}))


async def clear(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int) -> None:
    await conn.execute(delete(t).where(t.c.generation_id == generation_pk, t.c.observer_id == observer_pk,
                                       t.c.observed_id == observed_pk))
