"""The reads that compare two generations of one workspace (docs/generations.md, "Compare"): conclusion counts per
pair and level, the current conclusions of one that the other lacks (by content fingerprint), peer cards, and the
latest summaries per session. Every query names the workspace and both generations; the caller checked that the
generations belong to the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.tables import conclusions as c
from honcho_server.store.tables import peer_cards as pc
from honcho_server.store.tables import peers, session_peers, sessions
from honcho_server.store.tables import summaries as s

_observer = peers.alias("observer")
_observed = peers.alias("observed")


def _names(table: Any) -> tuple[Any, Any]:
    """The observer's and observed peer's names of a conclusion or card row."""
    return (select(_observer.c.name).where(_observer.c.id == table.c.observer_id).scalar_subquery().label("observer"),
            select(_observed.c.name).where(_observed.c.id == table.c.observed_id).scalar_subquery().label("observed"))


def _about(table: Any, observed_pk: int | None) -> list[ColumnElement[bool]]:
    return [] if observed_pk is None else [table.c.observed_id == observed_pk]


async def level_counts(conn: AsyncConnection, workspace_pk: int, generation_pks: Sequence[int],
                       observed_pk: int | None) -> list[tuple[int, str, str, str, int]]:
    """(generation, observer, observed, level, count) of current conclusions."""
    observer, observed = _names(c)
    query = (select(c.c.generation_id, observer, observed, c.c.level, func.count())
             .where(c.c.workspace_id == workspace_pk, c.c.generation_id.in_(list(generation_pks)),
                    c.c.superseded_by.is_(None), *_about(c, observed_pk))
             .group_by(c.c.generation_id, c.c.observer_id, c.c.observed_id, c.c.level))
    return [(int(g), o, d, level, int(n)) for g, o, d, level, n in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class Differing:
    """A current conclusion of one generation whose content the other does not hold for the same pair."""

    observer: str
    observed: str
    uid: str
    level: str
    content: str
    embedding: bytes | None


async def only_in(conn: AsyncConnection, workspace_pk: int, this_pk: int, other_pk: int, observed_pk: int | None
                  ) -> list[Differing]:
    """Current conclusions of generation `this_pk` with no current conclusion of the same fingerprint about the same
    (observer, observed) in `other_pk`, oldest first."""
    twin = c.alias("twin")
    held = exists().where(twin.c.generation_id == other_pk, twin.c.observer_id == c.c.observer_id,
                          twin.c.observed_id == c.c.observed_id, twin.c.fingerprint == c.c.fingerprint,
                          twin.c.superseded_by.is_(None))
    observer, observed = _names(c)
    query = (select(observer, observed, c.c.uid, c.c.level, c.c.content, c.c.embedding)
             .where(c.c.workspace_id == workspace_pk, c.c.generation_id == this_pk, c.c.superseded_by.is_(None),
                    ~held, *_about(c, observed_pk))
             .order_by(c.c.id))
    return [Differing(*row) for row in await conn.execute(query)]


async def cards(conn: AsyncConnection, workspace_pk: int, generation_pks: Sequence[int], observed_pk: int | None
                ) -> list[tuple[int, str, str, list[str]]]:
    """(generation, observer, observed, entries) of every peer card of the generations."""
    observer, observed = _names(pc)
    query = (select(pc.c.generation_id, observer, observed, pc.c.entries)
             .where(pc.c.workspace_id == workspace_pk, pc.c.generation_id.in_(list(generation_pks)),
                    *_about(pc, observed_pk)))
    return [(int(g), o, d, list(entries or [])) for g, o, d, entries in await conn.execute(query)]


async def latest_summaries(conn: AsyncConnection, workspace_pk: int, generation_pks: Sequence[int],
                           member_pk: int | None) -> list[tuple[int, str, str, str]]:
    """(generation, session, kind, content) of the newest summary of each kind per session and generation; only
    the sessions `member_pk` is or was a member of when given."""
    newest = (select(s.c.generation_id, s.c.session_id, s.c.kind, func.max(s.c.last_seq).label("last_seq"))
              .where(s.c.workspace_id == workspace_pk, s.c.generation_id.in_(list(generation_pks)))
              .group_by(s.c.generation_id, s.c.session_id, s.c.kind).subquery())
    query = (select(s.c.generation_id, sessions.c.name, s.c.kind, s.c.content)
             .join(newest, and_(newest.c.generation_id == s.c.generation_id, newest.c.session_id == s.c.session_id,
                                newest.c.kind == s.c.kind, newest.c.last_seq == s.c.last_seq))
             .join(sessions, sessions.c.id == s.c.session_id))
    if member_pk is not None:
        query = query.where(exists().where(session_peers.c.session_id == s.c.session_id,
                                           session_peers.c.peer_id == member_pk))
    return [(int(g), name, kind, content) for g, name, kind, content in await conn.execute(query)]
