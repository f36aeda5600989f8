"""Where a conclusion comes from and what became of it: its source messages, the conclusions citing it, and the
supersession columns the API's conclusion reads leave out (the memory explorer's provenance view)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message
from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import conclusions as c
from honcho_server.store.tables import messages as m
from honcho_server.store.tables import peers, sessions

MAX_LISTED = 200  # the most related conclusions or source messages one answer lists


@dataclass(frozen=True, slots=True)
class Supersession:
    superseded_by: str | None
    superseded_at: datetime | None


async def supersession(conn: AsyncConnection, workspace_pk: int, uids: Sequence[str]) -> dict[str, Supersession]:
    """The supersession columns of the conclusions named (absent: no such conclusion)."""
    if not uids:
        return {}
    query = select(c.c.uid, c.c.superseded_by, c.c.superseded_at).where(c.c.workspace_id == workspace_pk,
                                                                         c.c.uid.in_(sorted(set(uids))))
    return {row.uid: Supersession(row.superseded_by, row.superseded_at) for row in await conn.execute(query)}


async def message_ids(conn: AsyncConnection, workspace_pk: int, uid: str) -> list[str]:
    """The ids of the messages a conclusion was read from (none for derived or explicit API conclusions)."""
    query = select(c.c.message_ids).where(c.c.workspace_id == workspace_pk, c.c.uid == uid)
    return list((await conn.execute(query)).scalar_one_or_none() or [])


async def superseded_by(conn: AsyncConnection, workspace_pk: int, uid: str) -> list[str]:
    """The conclusions `uid` replaced (consolidation keeps them as history), oldest first."""
    query = (select(c.c.uid).where(c.c.workspace_id == workspace_pk, c.c.superseded_by == uid)
             .order_by(c.c.created_at, c.c.id).limit(MAX_LISTED))
    return list((await conn.execute(query)).scalars())


async def citing(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, uid: str) -> list[str]:
    """The conclusions that name `uid` among their premises (deductions, patterns, contradictions)."""
    query = (select(c.c.uid).where(c.c.workspace_id == workspace_pk, dialect.json_contains(c.c.source_ids, [uid]))
             .order_by(c.c.created_at, c.c.id).limit(MAX_LISTED))
    return list((await conn.execute(query)).scalars())


async def messages(conn: AsyncConnection, workspace_pk: int, workspace_name: str, uids: Sequence[str]
                   ) -> list[Message]:
    """The workspace's messages among `uids` (deleted ones are simply absent), in conversation order."""
    if not uids:
        return []
    query = (select(m.c.id, m.c.uid, m.c.seq, m.c.content, m.c.metadata, m.c.token_count, m.c.created_at,
                    peers.c.name.label("peer_name"), sessions.c.name.label("session_name"))
             .join(peers, peers.c.id == m.c.peer_id).join(sessions, sessions.c.id == m.c.session_id)
             .where(m.c.workspace_id == workspace_pk, m.c.uid.in_(sorted(set(uids))[:MAX_LISTED]))
             .order_by(m.c.created_at, m.c.id))
    return [Message(pk=r.id, uid=r.uid, workspace_name=workspace_name, session_name=r.session_name,
                    peer_name=r.peer_name, seq=r.seq, content=r.content, metadata=r.metadata,
                    token_count=r.token_count, created_at=r.created_at) for r in await conn.execute(query)]
