"""Message rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message, Page
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import MAX_OFFSET, paginate
from honcho_server.store.tables import messages as t
from honcho_server.store.tables import peers, sessions, workspaces

# The author's name per row, looked up only for the rows a query returns (cheaper than a join that a
# window count or a filter would otherwise drag across the whole session).
PEER_NAME = select(peers.c.name).where(peers.c.id == t.c.peer_id).scalar_subquery()
_COLUMNS = (t.c.id, t.c.uid, t.c.seq, t.c.content, t.c.metadata, t.c.token_count, t.c.created_at,
            PEER_NAME.label("peer_name"))


def fields(workspace_name: str, session_name: str) -> dict[str, Field]:
    return {
        "workspace_id": Field(literal(workspace_name), "text"),
        "session_id": Field(literal(session_name), "text"),
        "peer_id": Field(PEER_NAME, "text"),
        "token_count": Field(t.c.token_count, "int"),
        "created_at": Field(t.c.created_at, "datetime"),
        "metadata": Field(t.c.metadata, "json"),
    }


def to_message(row: Any, workspace_name: str, session_name: str) -> Message:
    return Message(pk=row.id, uid=row.uid, workspace_name=workspace_name, session_name=session_name,
                   peer_name=row.peer_name, seq=row.seq, content=row.content, metadata=row.metadata,
                   token_count=row.token_count, created_at=row.created_at)


async def insert_many(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await conn.execute(insert(t), rows)


_TURNS = select(t.c.seq, t.c.uid, PEER_NAME.label("peer_name"), t.c.content, t.c.token_count, t.c.created_at)

_OLDEST_FIRST, _NEWEST_FIRST = [t.c.seq], [t.c.seq.desc()]
_IN_SESSION = select(*_COLUMNS).where(t.c.session_id == bindparam("session_pk"))


def _in_session(session_pk: int) -> Any:
    return select(*_COLUMNS).where(t.c.session_id == session_pk)


async def list_page(
    conn: AsyncConnection, dialect: Dialect, session_pk: int, workspace_name: str, session_name: str,
    filters: dict[str, Any] | None, page: int, size: int, reverse: bool, message_count: int,
) -> Page[Message]:
    """One page of a session's messages; without a filter the session's own count is the total."""
    query = _IN_SESSION
    condition = compile_filter(filters, fields(workspace_name, session_name), dialect, resource="Message")
    if condition is not None:
        query = query.where(condition)
    order = _NEWEST_FIRST if reverse else _OLDEST_FIRST
    return await paginate(conn, query, order, page, size, lambda r: to_message(r, workspace_name, session_name),
                          total=message_count if condition is None else None, params={"session_pk": session_pk})


_PAGE_BY_NAMES = (
    select(*_COLUMNS, sessions.c.message_count.label("_total"))
    .select_from(t.join(sessions, sessions.c.id == t.c.session_id).join(workspaces,
                                                                      workspaces.c.id == sessions.c.workspace_id))
    .where(workspaces.c.name == bindparam("workspace_name"), sessions.c.name == bindparam("session_name"),
           sessions.c.is_active)
)


async def page_by_names(
    conn: AsyncConnection, workspace_name: str, session_name: str, page: int, size: int, reverse: bool,
) -> Page[Message] | None:
    """One page of an active session's messages found by names, with the session's count as the total, in one
    round trip; None when it comes back empty (an unknown or inactive session, or a page past the end: the caller
    then looks the session up)."""
    offset = (page - 1) * size
    if offset > MAX_OFFSET:
        return None
    query = _PAGE_BY_NAMES.order_by(*(_NEWEST_FIRST if reverse else _OLDEST_FIRST)).limit(size).offset(offset)
    rows = list(await conn.execute(query, {"workspace_name": workspace_name, "session_name": session_name}))
    if not rows:
        return None
    return Page(items=[to_message(r, workspace_name, session_name) for r in rows], total=rows[0]._total, page=page,
                size=size)


async def find(
    conn: AsyncConnection, session_pk: int, uid: str, workspace_name: str, session_name: str,
) -> Message | None:
    row = (await conn.execute(_in_session(session_pk).where(t.c.uid == uid))).first()
    return to_message(row, workspace_name, session_name) if row else None


async def update_metadata(conn: AsyncConnection, pk: int, metadata: dict[str, Any]) -> None:
    await conn.execute(update(t).where(t.c.id == pk).values(metadata=metadata))


async def rows_up_to(conn: AsyncConnection, session_pk: int, last_seq: int | None) -> list[Any]:
    """Raw rows of a session in order, up to and including `last_seq` (all when None)."""
    query = select(t).where(t.c.session_id == session_pk)
    if last_seq is not None:
        query = query.where(t.c.seq <= last_seq)
    return list(await conn.execute(query.order_by(t.c.seq)))


async def seq_of(conn: AsyncConnection, session_pk: int, uid: str) -> int | None:
    query = select(t.c.seq).where(t.c.session_id == session_pk, t.c.uid == uid)
    return (await conn.execute(query)).scalar_one_or_none()


async def newest_within_budget(
    conn: AsyncConnection, session_pk: int, budget: int, workspace_name: str, session_name: str,
    from_seq: int | None = None,
) -> list[Message]:
    """The most recent messages (at or after `from_seq` when given) whose cumulative token count, counted
    newest first, stays within `budget`; oldest first."""
    running = func.sum(t.c.token_count).over(order_by=t.c.seq.desc()).label("running")
    query = _in_session(session_pk)
    if from_seq is not None:
        query = query.where(t.c.seq >= from_seq)
    inner = query.add_columns(running).subquery()
    query = select(inner).where(inner.c.running <= budget).order_by(inner.c.seq)
    return [to_message(r, workspace_name, session_name) for r in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class Turn:
    seq: int
    uid: str
    peer_name: str
    content: str
    token_count: int
    created_at: datetime


async def turns(conn: AsyncConnection, session_pk: int, after_seq: int, upto_seq: int) -> list[Turn]:
    """The session's messages with `after_seq < seq <= upto_seq`, in order."""
    query = _TURNS.where(t.c.session_id == session_pk, t.c.seq > after_seq, t.c.seq <= upto_seq).order_by(t.c.seq)
    return [Turn(r.seq, r.uid, r.peer_name or "", r.content, r.token_count, r.created_at)
            for r in await conn.execute(query)]


async def turns_at(conn: AsyncConnection, session_pk: int, seqs: list[int]) -> list[Turn]:
    """The session's messages with these seqs, in order (missing ones are left out)."""
    if not seqs:
        return []
    query = _TURNS.where(t.c.session_id == session_pk, t.c.seq.in_(sorted(set(seqs)))).order_by(t.c.seq)
    return [Turn(r.seq, r.uid, r.peer_name or "", r.content, r.token_count, r.created_at)
            for r in await conn.execute(query)]


async def count_between(conn: AsyncConnection, session_pk: int, after_seq: int, upto_seq: int) -> int:
    """How many of the session's messages have `after_seq < seq <= upto_seq`."""
    query = select(func.count()).select_from(t).where(t.c.session_id == session_pk, t.c.seq > after_seq,
                                                      t.c.seq <= upto_seq)
    return int((await conn.execute(query)).scalar_one())


async def present_uids(conn: AsyncConnection, session_pk: int, uids: list[str]) -> set[str]:
    """Which of `uids` are still messages of the session."""
    found: set[str] = set()
    ordered = sorted(set(uids))
    for start in range(0, len(ordered), 500):
        query = select(t.c.uid).where(t.c.session_id == session_pk, t.c.uid.in_(ordered[start:start + 500]))
        found.update((await conn.execute(query)).scalars())
    return found
