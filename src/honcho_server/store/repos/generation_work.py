"""What re-derivation reads and writes besides the derived rows themselves: the messages in a generation's scope,
its open work in the queue, its cost so far, its progress and state (services/rederive.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import conclusions, generations, jobs, llm_calls, messages, peers, sessions

_OPEN = jobs.c.status.in_([literal_column("'pending'"), literal_column("'running'")])


@dataclass(frozen=True, slots=True)
class ScopedMessage:
    seq: int
    sender: str
    tokens: int


async def sessions_in_scope(conn: AsyncConnection, workspace_pk: int, names: Sequence[str] | None) -> list[str]:
    """The workspace's active sessions (those named, when `names` is given), oldest first."""
    query = select(sessions.c.name).where(sessions.c.workspace_id == workspace_pk, sessions.c.is_active)
    if names is not None:
        query = query.where(sessions.c.name.in_(list(names)))
    return list((await conn.execute(query.order_by(sessions.c.id))).scalars())


async def messages_in_scope(conn: AsyncConnection, session_pk: int, since: datetime | None, sender: str | None
                            ) -> list[ScopedMessage]:
    """The session's messages a rederive replays, in order: those sent since `since`, by `sender`, when given."""
    query = (select(messages.c.seq, peers.c.name, messages.c.token_count)
             .join(peers, peers.c.id == messages.c.peer_id).where(messages.c.session_id == session_pk))
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if sender is not None:
        query = query.where(peers.c.name == sender)
    return [ScopedMessage(int(r.seq), r.name, int(r.token_count))
            for r in await conn.execute(query.order_by(messages.c.seq))]


async def open_work(conn: AsyncConnection, dialect: Dialect, generation_pk: int, besides: int,
                    task: str | None = None) -> int:
    """Rederive jobs of the generation still pending or running, `besides` (the one running now) aside; only
    those of `task` when given."""
    query = (select(func.count()).select_from(jobs)
             .where(jobs.c.kind == "rederive", _OPEN, jobs.c.id != besides,
                    dialect.json_text(jobs.c.payload, "generation") == str(generation_pk)))
    if task is not None:
        query = query.where(dialect.json_text(jobs.c.payload, "task") == task)
    return int((await conn.execute(query)).scalar_one())


async def cost(conn: AsyncConnection, generation_pk: int) -> float:
    """What the generation's model calls have cost so far (calls of unknown price count nothing)."""
    query = select(func.coalesce(func.sum(llm_calls.c.cost_usd), 0.0)).where(llm_calls.c.generation_id == generation_pk)
    return float((await conn.execute(query)).scalar_one())


async def set_progress(conn: AsyncConnection, generation_pk: int, progress: dict[str, Any], state: str | None,
                       now: datetime) -> None:
    """Record progress; `state` "ready" also stamps `ready_at` (only a building generation becomes ready)."""
    values: dict[str, Any] = {"progress": progress}
    stmt = update(generations).where(generations.c.id == generation_pk)
    if state == "ready":
        values.update(state="ready", ready_at=now)
        stmt = stmt.where(generations.c.state == "building")
    await conn.execute(stmt.values(**values))


async def fail(conn: AsyncConnection, generation_pk: int, reason: str, now: datetime) -> None:
    """A generation that is not active stops, saying why (the active one never fails: it serves reads)."""
    await conn.execute(update(generations).where(generations.c.id == generation_pk, generations.c.state != "active")
                       .values(state="failed", error=reason, retired_at=now))


async def collections_with(conn: AsyncConnection, generation_pk: int, at_least: int, observed: str | None
                           ) -> list[tuple[str, str]]:
    """(observer, observed) names of the generation's collections holding at least `at_least` current explicit
    conclusions (about `observed` only, when given)."""
    observer_peer, observed_peer = peers.alias("observer"), peers.alias("observed")
    query = (select(observer_peer.c.name, observed_peer.c.name)
             .select_from(conclusions.join(observer_peer, observer_peer.c.id == conclusions.c.observer_id)
                          .join(observed_peer, observed_peer.c.id == conclusions.c.observed_id))
             .where(conclusions.c.generation_id == generation_pk, conclusions.c.level == "explicit",
                    conclusions.c.superseded_by.is_(None))
             .group_by(observer_peer.c.name, observed_peer.c.name)
             .having(func.count() >= at_least).order_by(observer_peer.c.name, observed_peer.c.name))
    if observed is not None:
        query = query.where(observed_peer.c.name == observed)
    return [(r[0], r[1]) for r in await conn.execute(query)]
