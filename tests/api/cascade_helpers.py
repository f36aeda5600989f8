"""Helpers of the cascade-deletion tests: history links written straight to the table, conclusion rows by content,
and the no-orphan invariants checked against the database itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api_helpers import workspace_pk
from sqlalchemy import func, select, update

from honcho_server.services.deps import Deps
from honcho_server.store import tables


async def supersede(deps: Deps, old: str, new: str) -> None:
    """Record that conclusion `new` replaced `old` (as a dream does)."""
    c = tables.conclusions
    async with deps.db.write() as conn:
        await conn.execute(update(c).where(c.c.uid == old).values(superseded_by=new, superseded_at=deps.now()))


@dataclass(frozen=True)
class Row:
    uid: str
    level: str
    session: str | None
    message_ids: list[str]
    source_ids: list[str]
    superseded_by: str | None
    superseded_at: Any


async def conclusion_rows(deps: Deps, ws: str) -> dict[str, Row]:
    """Every conclusion of the workspace (history included), by content."""
    c, s = tables.conclusions, tables.sessions
    query = (select(c.c.uid, c.c.content, c.c.level, s.c.name, c.c.message_ids, c.c.source_ids, c.c.superseded_by,
                    c.c.superseded_at)
             .outerjoin(s, s.c.id == c.c.session_id).where(c.c.workspace_id == await workspace_pk(deps, ws)))
    async with deps.db.read() as conn:
        return {r.content: Row(r.uid, r.level, r.name, list(r.message_ids or []), list(r.source_ids or []),
                               r.superseded_by, r.superseded_at) for r in await conn.execute(query)}


async def assert_no_orphans(deps: Deps, ws: str, deleted: list[tuple[str, int]] = ()) -> None:
    """Nothing in the workspace points at what is gone: every premise, source message and successor of a
    conclusion exists (so no explicit conclusion cites only missing messages); no summary covers a
    deleted message (`deleted`: (session name, seq); checked before any summary is written again: a new one
    covers the span without it); every session's message_count is its number of messages."""
    c, m, s, sm = tables.conclusions, tables.messages, tables.sessions, tables.summaries
    ws_pk = await workspace_pk(deps, ws)
    async with deps.db.read() as conn:
        rows = list(await conn.execute(select(c.c.uid, c.c.level, c.c.message_ids, c.c.source_ids, c.c.superseded_by)
                                       .where(c.c.workspace_id == ws_pk)))
        conclusion_uids = {r.uid for r in rows}
        message_uids = set((await conn.execute(select(m.c.uid).where(m.c.workspace_id == ws_pk))).scalars())
        for r in rows:
            assert set(r.source_ids or []) <= conclusion_uids, f"{r.uid} cites missing premises"
            assert set(r.message_ids or []) <= message_uids, f"{r.uid} cites missing messages"
            assert r.superseded_by is None or r.superseded_by in conclusion_uids, f"{r.uid} superseded by nothing"
        for session_name, seq in deleted:
            covering = (select(func.count()).select_from(sm).join(s, s.c.id == sm.c.session_id)
                        .where(s.c.workspace_id == ws_pk, s.c.name == session_name, sm.c.last_seq >= seq))
            assert (await conn.execute(covering)).scalar_one() == 0, f"a summary of {session_name} covers seq {seq}"
        counted = (select(s.c.name, s.c.message_count, select(func.count()).select_from(m)
                          .where(m.c.session_id == s.c.id).scalar_subquery().label("actual"))
                   .where(s.c.workspace_id == ws_pk))
        for row in await conn.execute(counted):
            assert row.message_count == row.actual, f"session {row.name}: {row.message_count} != {row.actual}"
