"""Scope rows, their session memberships (with each session's backfill state), and the reads that confine
recall to a scope.

A scope's memory is held by its hidden peer `scope.<name>`: the deriver writes into the scope's collections
(observer = that peer) while a session is a member, and the backfill copies a joining session's earlier
explicit conclusions there. Reads through a single scope use `ScopeCollection`, which also drops explicit
conclusions of sessions that are no longer members at once (the removal job cleans up after).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import SCOPE_PREFIX
from honcho_server.domain.models import Membership, Page, Session
from honcho_server.store.dialect import Dialect
from honcho_server.store.repos.common import paginate
from honcho_server.store.repos.conclusions import CURRENT, Collection
from honcho_server.store.repos.sessions import to_session
from honcho_server.store.tables import conclusions as c
from honcho_server.store.tables import jobs, peers, sessions
from honcho_server.store.tables import scope_sessions as ss
from honcho_server.store.tables import scopes as t


@dataclass(slots=True)
class Scope:
    pk: int
    peer_pk: int
    workspace_pk: int
    workspace_name: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    """One session's membership row in a scope."""

    session_pk: int
    active: bool
    backfill_state: str | None


@dataclass(frozen=True, slots=True)
class Backfill:
    session_pk: int
    session_name: str
    state: str
    updated_at: datetime
    docs_copied: int | None


def _scope(row: Any, workspace_name: str) -> Scope:
    return Scope(pk=row.id, peer_pk=row.peer_id, workspace_pk=row.workspace_id, workspace_name=workspace_name,
                 name=row.name, metadata=row.metadata, created_at=row.created_at)


async def insert_if_missing(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, workspace_name: str,
                            name: str, peer_pk: int, metadata: dict[str, Any], now: datetime) -> Scope | None:
    """The new scope, or None when one of that name exists already."""
    stmt = dialect.insert(t).values(workspace_id=workspace_pk, peer_id=peer_pk, name=name, metadata=metadata,
                                    created_at=now)
    row = (await conn.execute(stmt.on_conflict_do_nothing(index_elements=["workspace_id", "name"])
                              .returning(*t.c))).first()
    return _scope(row, workspace_name) if row else None


async def find_many(conn: AsyncConnection, workspace_pk: int, workspace_name: str, names: list[str]
                    ) -> dict[str, Scope]:
    if not names:
        return {}
    query = select(t).where(t.c.workspace_id == workspace_pk, t.c.name.in_(list(dict.fromkeys(names))))
    return {row.name: _scope(row, workspace_name) for row in await conn.execute(query)}


async def find(conn: AsyncConnection, workspace_pk: int, workspace_name: str, name: str) -> Scope | None:
    return (await find_many(conn, workspace_pk, workspace_name, [name])).get(name)


async def set_metadata(conn: AsyncConnection, pk: int, metadata: dict[str, Any]) -> None:
    await conn.execute(update(t).where(t.c.id == pk).values(metadata=metadata))


async def list_page(conn: AsyncConnection, workspace_pk: int, workspace_name: str, page: int, size: int,
                    reverse: bool) -> Page[Scope]:
    query = select(t).where(t.c.workspace_id == workspace_pk)
    order = [t.c.created_at.desc(), t.c.id.desc()] if reverse else [t.c.created_at, t.c.id]
    return await paginate(conn, query, order, page, size, lambda r: _scope(r, workspace_name))


def scope_peer_pks() -> Any:
    """The peers that are scopes (for hiding or listing them)."""
    return select(t.c.peer_id)


# ------------------------------------------------------------------------------------------- memberships


async def members(conn: AsyncConnection, scope_pk: int, session_pks: list[int]) -> dict[int, Member]:
    """Membership rows (active or left) of these sessions in the scope."""
    if not session_pks:
        return {}
    query = select(ss.c.session_id, ss.c.left_at, ss.c.backfill_state).where(
        ss.c.scope_id == scope_pk, ss.c.session_id.in_(session_pks))
    return {r.session_id: Member(r.session_id, r.left_at is None, r.backfill_state) for r in await conn.execute(query)}


async def join(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, scope_pk: int, session_pk: int,
               now: datetime, *, backfill: bool) -> None:
    """Make the session an active member (a session that had left joins anew); `backfill` marks its backfill
    pending, otherwise no backfill is reported for it."""
    state = "pending" if backfill else None
    values = dict(left_at=None, joined_at=now, backfill_state=state, backfill_updated_at=now if backfill else None,
                  docs_copied=None)
    stmt = dialect.insert(ss).values(workspace_id=workspace_pk, scope_id=scope_pk, session_id=session_pk, **values)
    inserted = (await conn.execute(stmt.on_conflict_do_nothing(index_elements=["scope_id", "session_id"])
                                   .returning(ss.c.session_id))).first()
    if inserted is None:
        await conn.execute(update(ss).where(ss.c.scope_id == scope_pk, ss.c.session_id == session_pk)
                           .values(**values))


async def leave(conn: AsyncConnection, scope_pk: int, session_pk: int, now: datetime) -> bool:
    """End an active membership and clear its backfill entry; False when it was not active."""
    result = await conn.execute(update(ss).where(ss.c.scope_id == scope_pk, ss.c.session_id == session_pk,
                                                 ss.c.left_at.is_(None))
                                .values(left_at=now, backfill_state=None, backfill_updated_at=None, docs_copied=None))
    return bool(result.rowcount)


async def is_active_member(conn: AsyncConnection, scope_pk: int, session_pk: int) -> bool:
    query = select(ss.c.session_id).where(ss.c.scope_id == scope_pk, ss.c.session_id == session_pk,
                                          ss.c.left_at.is_(None))
    return (await conn.execute(query)).first() is not None


async def set_backfill(conn: AsyncConnection, scope_pk: int, session_pk: int, state: str, now: datetime,
                       docs_copied: int | None = None) -> None:
    """Record a backfill outcome, on an active membership only (one that left has no entry any more)."""
    await conn.execute(update(ss).where(ss.c.scope_id == scope_pk, ss.c.session_id == session_pk,
                                        ss.c.left_at.is_(None), ss.c.backfill_state.is_not(None))
                       .values(backfill_state=state, backfill_updated_at=now, docs_copied=docs_copied))


async def backfills(conn: AsyncConnection, scope_pk: int) -> list[Backfill]:
    """The backfill entries of the scope's active members, by session name."""
    query = (select(ss.c.session_id, sessions.c.name, ss.c.backfill_state, ss.c.backfill_updated_at, ss.c.docs_copied)
             .join(sessions, sessions.c.id == ss.c.session_id)
             .where(ss.c.scope_id == scope_pk, ss.c.left_at.is_(None), ss.c.backfill_state.is_not(None))
             .order_by(ss.c.joined_at, ss.c.session_id))
    return [Backfill(r.session_id, r.name, r.backfill_state, r.backfill_updated_at, r.docs_copied)
            for r in await conn.execute(query)]


def _active_members(scope_pks: list[int]) -> Any:
    return (ss.join(sessions, sessions.c.id == ss.c.session_id), [
        ss.c.scope_id.in_(scope_pks), ss.c.left_at.is_(None), sessions.c.is_active])


async def session_page(conn: AsyncConnection, scope_pk: int, workspace_name: str, page: int, size: int,
                       reverse: bool) -> Page[Session]:
    """The active member sessions that are themselves active, oldest member first (newest with `reverse`)."""
    joined, where = _active_members([scope_pk])
    query = select(sessions).select_from(joined).where(*where)
    order = [ss.c.joined_at.desc(), sessions.c.id.desc()] if reverse else [ss.c.joined_at, sessions.c.id]
    return await paginate(conn, query, order, page, size, lambda r: to_session(r, workspace_name))


async def member_session_names(conn: AsyncConnection, scope_pks: list[int]) -> list[str]:
    """Names of the active member sessions of these scopes (active sessions only), by scope in the given order
    and then by membership age, deduplicated."""
    if not scope_pks:
        return []
    joined, where = _active_members(scope_pks)
    query = select(ss.c.scope_id, sessions.c.name).select_from(joined).where(*where).order_by(
        ss.c.joined_at, sessions.c.id)
    by_scope: dict[int, list[str]] = {}
    for row in await conn.execute(query):
        by_scope.setdefault(row.scope_id, []).append(row.name)
    return list(dict.fromkeys(name for pk in scope_pks for name in by_scope.get(pk, [])))


async def observers_of_session(conn: AsyncConnection, session_pk: int) -> dict[str, Membership]:
    """The scopes the session is an active member of, as silent members that observe everyone else: their
    peers join the observers of every message written from now on (spec 10.A)."""
    return {r.name: Membership(peer_pk=r.id, peer_name=r.name, peer_configuration=r.configuration,
                               observe_me=False, observe_others=True, active=True)
            for r in await conn.execute(_OBSERVERS_OF_SESSION, {"session_pk": session_pk})}


# Built once: every message create runs it.
_OBSERVERS_OF_SESSION = (select(peers.c.id, peers.c.name, peers.c.configuration)
                         .join(t, t.c.peer_id == peers.c.id).join(ss, ss.c.scope_id == t.c.id)
                         .where(ss.c.session_id == bindparam("session_pk"), ss.c.left_at.is_(None)))


# --------------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class ScopeCollection(Collection):
    """What a scope holds about a peer: its hidden peer's collection, where explicit conclusions count only while
    their session is an active member (so removing a session confines reads at once, before the removal job
    has cleaned the copies up). Same allowlist rule as Collection."""

    scope_pk: int = 0

    def where(self) -> list[ColumnElement[bool]]:
        current = select(ss.c.session_id).where(ss.c.scope_id == self.scope_pk, ss.c.left_at.is_(None))
        return [*Collection.where(self), or_(c.c.level != "explicit", c.c.session_id.in_(current))]


@dataclass(frozen=True, slots=True)
class Source:
    """An explicit conclusion of a session, to be copied into a scope."""

    observed_pk: int
    content: str
    fingerprint: str
    observed_at: datetime
    about_at: datetime | None
    message_ids: tuple[str, ...] | None
    embedding: bytes | None


async def explicit_of_session(conn: AsyncConnection, generation_pk: int, session_pk: int) -> list[Source]:
    """Current explicit conclusions of a generation stamped with the session, held by real peers (not by scopes),
    oldest first."""
    query = (select(c.c.observed_id, c.c.content, c.c.fingerprint, c.c.observed_at, c.c.about_at, c.c.message_ids,
                    c.c.embedding)
             .where(c.c.generation_id == generation_pk, c.c.session_id == session_pk, c.c.level == "explicit", CURRENT,
                    c.c.observer_id.not_in(scope_peer_pks()))
             .order_by(c.c.observed_at, c.c.id))
    return [Source(r.observed_id, r.content, r.fingerprint, r.observed_at, r.about_at,
                   tuple(r.message_ids) if r.message_ids else None, r.embedding) for r in await conn.execute(query)]


async def by_pk(conn: AsyncConnection, pk: int) -> Scope | None:
    row = (await conn.execute(select(t).where(t.c.id == pk))).first()
    return _scope(row, "") if row else None


async def reconcile_observers(conn: AsyncConnection, session_pk: int, observers: list[str]) -> list[str]:
    """A job's observers as of now: scopes the session left since it was queued drop out, scopes it joined
    meanwhile come in (what a joining session's pending messages yield lands in the scope too)."""
    current = list(await observers_of_session(conn, session_pk))
    kept = [n for n in observers if not n.startswith(SCOPE_PREFIX) or n in current]  # the prefix is reserved
    return list(dict.fromkeys([*kept, *current]))


async def failed_jobs(conn: AsyncConnection, kind: str, unit_keys: list[str]) -> dict[str, tuple[datetime, datetime]]:
    """(created_at, updated_at) of the newest parked (failed) job of `kind` in each of these work units."""
    if not unit_keys:
        return {}
    query = (select(jobs.c.work_unit_key, jobs.c.created_at, jobs.c.updated_at)
             .where(jobs.c.kind == kind, jobs.c.work_unit_key.in_(unit_keys), jobs.c.status == "failed")
             .order_by(jobs.c.id))
    return {r.work_unit_key: (r.created_at, r.updated_at) for r in await conn.execute(query)}
