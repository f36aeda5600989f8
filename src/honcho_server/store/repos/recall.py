"""Reads of the dialectic's retrieval tools that the conclusion and search repositories do not already offer:
every peer's own view across a workspace, messages by date, and messages with their neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message
from honcho_server.store.repos import search as search_repo
from honcho_server.store.repos.conclusions import Collection
from honcho_server.store.tables import conclusions as c
from honcho_server.store.tables import messages as m
from honcho_server.store.tables import session_peers, sessions


@dataclass(frozen=True, slots=True)
class WorkspaceCollection(Collection):
    """What every peer of a workspace holds about itself (its own, omniscient view: every conclusion derived
    about a peer is stored in it), for questions about the whole workspace. Same allowlist rule as Collection.
    `observer_pk` / `observed_pk` are unused (0)."""

    def owners(self) -> list[ColumnElement[bool]]:
        return [c.c.workspace_id == self.workspace_pk, c.c.observer_id == c.c.observed_id]


async def member_session_names(conn: AsyncConnection, peer_pk: int) -> list[str]:
    """The active sessions the peer belongs or belonged to (what it may have seen of the conversations)."""
    query = (select(sessions.c.name).join(session_peers, session_peers.c.session_id == sessions.c.id)
             .where(session_peers.c.peer_id == peer_pk, sessions.c.is_active).order_by(sessions.c.id))
    return list(dict.fromkeys((await conn.execute(query)).scalars()))


async def message_pks_between(conn: AsyncConnection, where: Any, after: datetime | None, before: datetime | None,
                              limit: int, newest_first: bool) -> list[int]:
    """Keys of the messages meeting `where` sent in [after, before), in time order (newest first if asked)."""
    query = select(m.c.id).where(where)
    if after is not None:
        query = query.where(m.c.created_at >= after)
    if before is not None:
        query = query.where(m.c.created_at < before)
    order = [m.c.created_at.desc(), m.c.id.desc()] if newest_first else [m.c.created_at, m.c.id]
    return list((await conn.execute(query.order_by(*order).limit(limit))).scalars())


async def with_neighbours(conn: AsyncConnection, workspace_name: str, where: Any, uids: Sequence[str],
                          context: int) -> list[Message]:
    """The messages meeting `where` with these public ids, and up to `context` messages before and after each in
    its session (also meeting `where`), in session and conversation order."""
    if not uids:
        return []
    found = await conn.execute(select(m.c.session_id, m.c.seq).where(where, m.c.uid.in_(list(set(uids)))))
    positions = {(s, q + d) for s, q in found for d in range(-context, context + 1) if q + d > 0}
    loaded = await search_repo.at_positions(conn, workspace_name, where, sorted(positions))
    return [loaded[p] for p in sorted(loaded)]
