"""Rows the embedder needs, and the record of which embedding model filled the vector table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.repos.messages import PEER_NAME
from honcho_server.store.tables import embedding_space as space
from honcho_server.store.tables import messages as t
from honcho_server.store.tables import sessions

_ACTIVE_SESSIONS = select(sessions.c.id).where(sessions.c.is_active)


@dataclass(frozen=True, slots=True)
class EmbeddingSpace:
    model_id: str
    dimensions: int


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """A message as the embedder sees it."""

    pk: int
    session_pk: int
    seq: int
    peer_name: str
    content: str


async def recorded_space(conn: AsyncConnection) -> EmbeddingSpace | None:
    row = (await conn.execute(select(space.c.model_id, space.c.dimensions).where(space.c.id == 1))).first()
    return EmbeddingSpace(row.model_id, row.dimensions) if row else None


async def record_space(conn: AsyncConnection, dialect: Dialect, value: EmbeddingSpace, now: datetime) -> None:
    await conn.execute(delete(space))
    await conn.execute(dialect.insert(space).values(id=1, model_id=value.model_id, dimensions=value.dimensions,
                                                    updated_at=now))


def _source(row: Any) -> SourceMessage:
    return SourceMessage(pk=row.id, session_pk=row.session_id, seq=row.seq, peer_name=row.peer_name or "",
                         content=row.content)


_SOURCE_COLUMNS = (t.c.id, t.c.session_id, t.c.seq, t.c.content, PEER_NAME.label("peer_name"))


async def session_range(conn: AsyncConnection, session_pk: int, first_seq: int, last_seq: int) -> list[SourceMessage]:
    """Messages `first_seq..last_seq` of a session, in order."""
    query = (select(*_SOURCE_COLUMNS)
             .where(t.c.session_id == session_pk, t.c.seq >= first_seq, t.c.seq <= last_seq)
             .order_by(t.c.seq))
    return [_source(r) for r in await conn.execute(query)]


async def page_after(conn: AsyncConnection, after_pk: int, limit: int) -> list[SourceMessage]:
    """Messages of active sessions in primary-key order after `after_pk` (re-embedding walks them all)."""
    query = (select(*_SOURCE_COLUMNS).where(t.c.id > after_pk, t.c.session_id.in_(_ACTIVE_SESSIONS))
             .order_by(t.c.id).limit(limit))
    return [_source(r) for r in await conn.execute(query)]


async def count_messages(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(t).where(t.c.session_id.in_(_ACTIVE_SESSIONS))
    return int((await conn.execute(query)).scalar_one())

