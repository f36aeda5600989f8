"""v1 metamessage rows: a user's notes, optionally tied to one of its sessions and one of that session's messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import messages, sessions
from honcho_server.store.tables import v1_metamessages as t

SESSION_NAME = select(sessions.c.name).where(sessions.c.id == t.c.session_id).scalar_subquery()
MESSAGE_UID = select(messages.c.uid).where(messages.c.id == t.c.message_id).scalar_subquery()
_COLUMNS = (t.c.id, t.c.uid, t.c.session_id, t.c.message_id, t.c.metamessage_type, t.c.content, t.c.metadata,
            t.c.created_at, SESSION_NAME.label("session_name"), MESSAGE_UID.label("message_uid"))
FIELDS = {"metadata": Field(t.c.metadata, "json")}  # v1 filters reach metadata only (docs/v1-api.md §3.10)
# Not of a session being deleted: it is gone for every read at once, before its purge removes the rows.
_LIVE = or_(t.c.session_id.is_(None),
            t.c.session_id.in_(select(sessions.c.id).where(sessions.c.id == t.c.session_id, sessions.c.is_active)))


@dataclass(slots=True)
class Metamessage:
    pk: int
    uid: str
    session_pk: int | None
    session_name: str | None
    message_pk: int | None
    message_uid: str | None
    metamessage_type: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message a metamessage may point at, with its session."""

    pk: int
    uid: str
    session_pk: int


def _to_metamessage(row: Any) -> Metamessage:
    return Metamessage(pk=row.id, uid=row.uid, session_pk=row.session_id, session_name=row.session_name,
                       message_pk=row.message_id, message_uid=row.message_uid, metamessage_type=row.metamessage_type,
                       content=row.content, metadata=row.metadata or {}, created_at=row.created_at)


async def find_message(conn: AsyncConnection, workspace_pk: int, uid: str) -> MessageRef | None:
    """A message of the workspace by its public id."""
    query = select(messages.c.id, messages.c.session_id).where(messages.c.workspace_id == workspace_pk,
                                                               messages.c.uid == uid)
    row = (await conn.execute(query)).first()
    return MessageRef(row.id, uid, row.session_id) if row else None


async def insert(conn: AsyncConnection, workspace_pk: int, peer_pk: int, session_pk: int | None,
                 message_pk: int | None, metamessage_type: str, content: str, metadata: dict[str, Any],
                 now: datetime) -> str:
    uid = new_id()
    await conn.execute(t.insert().values(uid=uid, workspace_id=workspace_pk, peer_id=peer_pk, session_id=session_pk,
                                         message_id=message_pk, metamessage_type=metamessage_type, content=content,
                                         metadata=metadata, created_at=now))
    return uid


async def get(conn: AsyncConnection, peer_pk: int, uid: str) -> Metamessage | None:
    """One of the user's metamessages."""
    row = (await conn.execute(select(*_COLUMNS).where(t.c.peer_id == peer_pk, t.c.uid == uid, _LIVE))).first()
    return _to_metamessage(row) if row else None


async def update_fields(conn: AsyncConnection, pk: int, **values: Any) -> None:
    if values:
        await conn.execute(update(t).where(t.c.id == pk).values(**values))


@dataclass(frozen=True, slots=True)
class Selection:
    """Which of a user's metamessages a list returns; names are matched exactly (an unknown one matches none)."""

    session_pk: int | None = None  # a session already resolved (the 0.0.19 session routes)
    session_name: str | None = None
    message_uid: str | None = None
    metamessage_type: str | None = None
    linked_only: bool = False  # only those tied to a message (0.0.19 types `message_id` as a non-null string)


def _where(workspace_pk: int, peer_pk: int, chosen: Selection) -> list[ColumnElement[bool]]:
    where = [t.c.peer_id == peer_pk, _LIVE]
    if chosen.session_pk is not None:
        where.append(t.c.session_id == chosen.session_pk)
    if chosen.session_name is not None:
        where.append(t.c.session_id.in_(select(sessions.c.id).where(sessions.c.workspace_id == workspace_pk,
                                                                    sessions.c.name == chosen.session_name)))
    if chosen.message_uid is not None:
        where.append(t.c.message_id.in_(select(messages.c.id).where(messages.c.workspace_id == workspace_pk,
                                                                    messages.c.uid == chosen.message_uid)))
    if chosen.metamessage_type is not None:
        where.append(t.c.metamessage_type == chosen.metamessage_type)
    if chosen.linked_only:
        where.append(t.c.message_id.is_not(None))
    return where


def condition(dialect: Dialect, filters: dict[str, Any] | None) -> ColumnElement[bool] | None:
    """A v3 DSL filter on metamessage rows (FilterError, a 422, when misused)."""
    return compile_filter(filters, FIELDS, dialect, resource="Metamessage")


async def list_page(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, peer_pk: int, chosen: Selection,
                    filters: dict[str, Any] | None, page: int, size: int, reverse: bool) -> Page[Metamessage]:
    """Oldest first (`reverse`: newest first)."""
    query: Select[Any] = select(*_COLUMNS).where(*_where(workspace_pk, peer_pk, chosen))
    where = condition(dialect, filters)
    if where is not None:
        query = query.where(where)
    order = [t.c.created_at.desc(), t.c.id.desc()] if reverse else [t.c.created_at, t.c.id]
    return await paginate(conn, query, order, page, size, _to_metamessage)



async def copy_to_clone(conn: AsyncConnection, original_pk: int, copy_pk: int, now: datetime) -> int:
    """Copy a session's metamessages into its clone, each tied to the clone's message at the same position
    (those tied to a message the clone stops before are left out); returns how many were copied."""
    at = {r.seq: r.id for r in await conn.execute(select(messages.c.seq, messages.c.id)
                                                   .where(messages.c.session_id == copy_pk))}
    source = (select(t, messages.c.seq).select_from(t.outerjoin(messages, messages.c.id == t.c.message_id))
              .where(t.c.session_id == original_pk).order_by(t.c.id))
    rows = [dict(uid=new_id(), workspace_id=r.workspace_id, peer_id=r.peer_id, session_id=copy_pk,
                 message_id=at[r.seq] if r.message_id is not None else None, metamessage_type=r.metamessage_type,
                 content=r.content, metadata=r.metadata, created_at=r.created_at)
            for r in await conn.execute(source) if r.message_id is None or r.seq in at]
    if rows:
        await conn.execute(t.insert(), rows)
    return len(rows)
