"""Rows a cascading deletion reads and writes (services/cascade.py decides what goes).

Conclusions point at what they rest on by public id, in JSON lists: `message_ids` (source messages) and
`source_ids` (premise conclusions); `superseded_by` names the conclusion that replaced one. These helpers find the
rows citing given ids, tell which ids still exist, and apply the outcome. Lists of ids are sent in chunks, so a
session of any size stays within the databases' limits on bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import conclusions as t
from honcho_server.store.tables import jobs, messages, peer_cards, peers, sessions, summaries

CHUNK = 500  # ids per statement


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


@dataclass(frozen=True, slots=True)
class Link:
    """A conclusion with what it rests on."""

    pk: int
    uid: str
    observer_pk: int
    observed_pk: int
    session_pk: int | None
    level: str
    generation_pk: int
    message_ids: tuple[str, ...]
    source_ids: tuple[str, ...]
    superseded_by: str | None
    superseded_at: datetime | None


_LINK = select(t.c.id, t.c.uid, t.c.observer_id, t.c.observed_id, t.c.session_id, t.c.level, t.c.generation_id,
               t.c.message_ids,
               t.c.source_ids, t.c.superseded_by, t.c.superseded_at)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _link(row: Any) -> Link:
    return Link(pk=row.id, uid=row.uid, observer_pk=row.observer_id, observed_pk=row.observed_id,
                session_pk=row.session_id, level=row.level, generation_pk=row.generation_id,
                message_ids=_ids(row.message_ids),
                source_ids=_ids(row.source_ids), superseded_by=row.superseded_by, superseded_at=row.superseded_at)


async def _links(conn: AsyncConnection, query: Select[Any]) -> list[Link]:
    """Rows locked until the transaction ends (PostgreSQL; SQLite has one writer): what is read is what is changed."""
    return [_link(r) for r in await conn.execute(query.order_by(t.c.id).with_for_update())]


async def by_uids(conn: AsyncConnection, workspace_pk: int, uids: Iterable[str]) -> list[Link]:
    found: list[Link] = []
    for chunk in _chunks(uids):
        found += await _links(conn, _LINK.where(t.c.workspace_id == workspace_pk, t.c.uid.in_(chunk)))
    return found


async def copies_elsewhere(conn: AsyncConnection, workspace_pk: int, seeds: Sequence[Link]) -> list[Link]:
    """The copies, in the workspace's other generations, of those of `seeds` an app wrote through the API
    (explicit, read from no message: not derived, so each generation holds its own copy, written together):
    same collection, session, wording and moment of writing (services/conclusions.create)."""
    found: list[Link] = []
    for seed in seeds:
        if seed.level != "explicit" or seed.message_ids:
            continue
        row = (await conn.execute(select(t.c.fingerprint, t.c.created_at).where(t.c.id == seed.pk))).first()
        if row is None:
            continue
        same = await _links(conn, _LINK.where(
            t.c.workspace_id == workspace_pk, t.c.generation_id != seed.generation_pk, t.c.level == "explicit",
            t.c.observer_id == seed.observer_pk, t.c.observed_id == seed.observed_pk,
            t.c.session_id.is_(None) if seed.session_pk is None else t.c.session_id == seed.session_pk,
            t.c.fingerprint == row.fingerprint, t.c.created_at == row.created_at))
        found += [link for link in same if not link.message_ids]  # (an absent list may be stored as JSON null)
    return found


async def in_session(conn: AsyncConnection, session_pk: int) -> list[Link]:
    """Every conclusion stamped with the session."""
    return await _links(conn, _LINK.where(t.c.session_id == session_pk))


def _cites(dialect: Dialect, column: Any, values: Any) -> ColumnElement[bool]:
    items = dialect.json_array_items(column)
    return exists(select(items.c.value).where(items.c.value.in_(values)))


async def citing_conclusions(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, uids: Iterable[str]
                             ) -> list[Link]:
    """Conclusions whose `source_ids` name any of `uids`."""
    found: dict[int, Link] = {}
    for chunk in _chunks(uids):
        query = _LINK.where(t.c.workspace_id == workspace_pk, t.c.source_ids.is_not(None),
                            _cites(dialect, t.c.source_ids, chunk))
        found.update((link.pk, link) for link in await _links(conn, query))
    return list(found.values())


async def citing_messages(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, *,
                          uids: Iterable[str] = (), session_pk: int | None = None) -> list[Link]:
    """Conclusions whose `message_ids` name any of `uids`, or (with `session_pk`) any message of that session."""
    found: dict[int, Link] = {}
    chosen: list[Any] = list(_chunks(uids))
    if session_pk is not None:
        chosen.append(select(messages.c.uid).where(messages.c.session_id == session_pk).scalar_subquery())
    for values in chosen:
        query = _LINK.where(t.c.workspace_id == workspace_pk, t.c.message_ids.is_not(None),
                            _cites(dialect, t.c.message_ids, values))
        found.update((link.pk, link) for link in await _links(conn, query))
    return list(found.values())


async def superseded_by(conn: AsyncConnection, workspace_pk: int, uids: Iterable[str]) -> list[Link]:
    """Conclusions retired in favour of any of `uids`."""
    found: list[Link] = []
    for chunk in _chunks(uids):
        found += await _links(conn, _LINK.where(t.c.workspace_id == workspace_pk, t.c.superseded_by.in_(chunk)))
    return found


async def existing_conclusions(conn: AsyncConnection, workspace_pk: int, uids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(uids):
        query = select(t.c.uid).where(t.c.workspace_id == workspace_pk, t.c.uid.in_(chunk))
        found.update((await conn.execute(query)).scalars())
    return found


async def existing_messages(conn: AsyncConnection, workspace_pk: int, uids: Iterable[str],
                            *, outside_session: int | None = None) -> set[str]:
    """Which of `uids` are messages of the workspace (not of `outside_session`, when given)."""
    found: set[str] = set()
    for chunk in _chunks(uids):
        query = select(messages.c.uid).where(messages.c.workspace_id == workspace_pk, messages.c.uid.in_(chunk))
        if outside_session is not None:
            query = query.where(messages.c.session_id != outside_session)
        found.update((await conn.execute(query)).scalars())
    return found


async def delete_conclusions(conn: AsyncConnection, pks: Sequence[int]) -> None:
    for start in range(0, len(pks), CHUNK):
        await conn.execute(delete(t).where(t.c.id.in_(list(pks[start:start + CHUNK]))))


@dataclass(frozen=True, slots=True)
class Relink:
    """New values for a surviving conclusion (each list None when empty)."""

    pk: int
    message_ids: list[str] | None
    source_ids: list[str] | None
    session_pk: int | None
    superseded_by: str | None
    superseded_at: datetime | None


async def relink(conn: AsyncConnection, changes: Sequence[Relink]) -> None:
    if not changes:
        return
    stmt = update(t).where(t.c.id == bindparam("pk")).values(
        message_ids=bindparam("new_message_ids", type_=t.c.message_ids.type),
        source_ids=bindparam("new_source_ids", type_=t.c.source_ids.type), session_id=bindparam("new_session"),
        superseded_by=bindparam("new_superseded_by"),
        superseded_at=bindparam("new_superseded_at", type_=t.c.superseded_at.type))
    await conn.execute(stmt, [dict(pk=c.pk, new_message_ids=c.message_ids, new_source_ids=c.source_ids,
                                   new_session=c.session_pk, new_superseded_by=c.superseded_by,
                                   new_superseded_at=c.superseded_at) for c in changes])


async def peer_names(conn: AsyncConnection, pks: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    return {r.id: r.name for r in await conn.execute(select(peers.c.id, peers.c.name).where(peers.c.id.in_(wanted)))}


@dataclass(frozen=True, slots=True)
class SessionRef:
    pk: int
    workspace_pk: int
    name: str


async def session_ref(conn: AsyncConnection, session_pk: int) -> SessionRef | None:
    query = select(sessions.c.workspace_id, sessions.c.name).where(sessions.c.id == session_pk)
    row = (await conn.execute(query)).first()
    return SessionRef(session_pk, row.workspace_id, row.name) if row else None


async def session_names(conn: AsyncConnection, pks: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    query = select(sessions.c.id, sessions.c.name).where(sessions.c.id.in_(wanted))
    return {r.id: r.name for r in await conn.execute(query)}


async def cards_with_entries(conn: AsyncConnection, cards: Iterable[tuple[int, int, int]]
                             ) -> list[tuple[int, int, int]]:
    """Which (generation, observer, observed) cards have at least one entry, in the given order."""
    out = []
    for generation_pk, observer_pk, observed_pk in dict.fromkeys(cards):
        query = select(peer_cards.c.entries).where(peer_cards.c.generation_id == generation_pk,
                                                   peer_cards.c.observer_id == observer_pk,
                                                   peer_cards.c.observed_id == observed_pk)
        entries = (await conn.execute(query)).scalar_one_or_none()
        if entries:
            out.append((generation_pk, observer_pk, observed_pk))
    return out


# ---------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class CoveringSummary:
    kind: str
    last_seq: int
    message_uid: str
    generation_pk: int


async def remove_summaries_from(conn: AsyncConnection, session_pk: int, seq: int) -> list[CoveringSummary]:
    """Delete the session's summaries covering message `seq` (each covers the session up to its `last_seq`)."""
    where = [summaries.c.session_id == session_pk, summaries.c.last_seq >= seq]
    query = select(summaries.c.kind, summaries.c.last_seq, summaries.c.message_uid,
                   summaries.c.generation_id).where(*where)
    found = [CoveringSummary(r.kind, r.last_seq, r.message_uid, r.generation_id)
             for r in await conn.execute(query.order_by(summaries.c.kind, summaries.c.last_seq))]
    if found:
        await conn.execute(delete(summaries).where(*where))
    return found


async def session_summaries(conn: AsyncConnection, session_pk: int) -> list[CoveringSummary]:
    query = (select(summaries.c.kind, summaries.c.last_seq, summaries.c.message_uid, summaries.c.generation_id)
             .where(summaries.c.session_id == session_pk).order_by(summaries.c.kind, summaries.c.last_seq))
    return [CoveringSummary(r.kind, r.last_seq, r.message_uid, r.generation_id) for r in await conn.execute(query)]


async def delete_message(conn: AsyncConnection, dialect: Dialect, session_pk: int, message_pk: int, seq: int
                         ) -> None:
    """Delete one message (its vector and full-text row go with it), keep the session's count, and re-index the
    message after it, whose full-text document quoted it. Seqs are never reused: `last_seq` stays."""
    await conn.execute(delete(messages).where(messages.c.id == message_pk))
    await conn.execute(update(sessions).where(sessions.c.id == session_pk).values(
        message_count=sessions.c.message_count - 1))
    following = select(messages.c.id).where(messages.c.session_id == session_pk, messages.c.seq == seq + 1)
    nxt = (await conn.execute(following)).scalar_one_or_none()
    if nxt is not None:
        await dialect.refresh_message_text(conn, [nxt])


# ---------------------------------------------------------------------------------------------- receipts


async def record_receipt(conn: AsyncConnection, job_id: int, receipt: dict[str, Any]) -> None:
    """Keep a receipt in the payload of the job that did the work (`payload.receipt`)."""
    payload = (await conn.execute(select(jobs.c.payload).where(jobs.c.id == job_id))).scalar_one_or_none()
    if payload is not None:
        await conn.execute(update(jobs).where(jobs.c.id == job_id).values(payload={**payload, "receipt": receipt}))


async def job_receipt(conn: AsyncConnection, job_id: int) -> dict[str, Any] | None:
    payload = (await conn.execute(select(jobs.c.payload).where(jobs.c.id == job_id))).scalar_one_or_none()
    return (payload or {}).get("receipt")
