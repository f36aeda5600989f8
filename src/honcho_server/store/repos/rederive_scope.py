"""What a rederive's scope (docs/generations.md: `{"peer"?, "sessions"?, "since"?}`) covers, read from the store:
the scope's names resolved to keys, the messages it replays and the memberships that decide who observes them.
Not to be confused with recall scopes (store/repos/scopes.py), which are named sets of sessions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Membership
from honcho_server.store.tables import messages, peers, scope_sessions, scopes, session_peers, sessions


@dataclass(frozen=True, slots=True)
class RederiveScope:
    """A scope with its names resolved. Each rule is None when the scope does not set it; a rule naming a peer or
    sessions that do not exist matches nothing (`peer_pk` None with `peer` set, or an empty `session_pks`)."""

    peer: str | None = None
    peer_pk: int | None = None
    session_pks: tuple[int, ...] | None = None
    since: datetime | None = None

    @property
    def whole(self) -> bool:
        """The whole workspace: no rule at all."""
        return self.peer is None and self.session_pks is None and self.since is None


def parse_since(value: Any) -> datetime | None:
    """The scope's `since` as an aware UTC datetime (ISO text or a datetime; a naive one is taken as UTC)."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def resolve(conn: AsyncConnection, workspace_pk: int, scope: Mapping[str, Any]) -> RederiveScope:
    """The scope's peer and session names as keys of `workspace_pk` (an empty value is no rule)."""
    peer = scope.get("peer") or None
    peer_pk = None
    if peer is not None:
        peer_pk = (await conn.execute(select(peers.c.id).where(peers.c.workspace_id == workspace_pk,
                                                               peers.c.name == peer))).scalar_one_or_none()
    names = list(scope.get("sessions") or [])
    session_pks = None
    if names:
        found = await conn.execute(select(sessions.c.id).where(sessions.c.workspace_id == workspace_pk,
                                                               sessions.c.name.in_(names)))
        session_pks = tuple(sorted(found.scalars()))
    return RederiveScope(peer=peer, peer_pk=peer_pk, session_pks=session_pks, since=parse_since(scope.get("since")))


# ------------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class ScopedSession:
    pk: int
    name: str
    configuration: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScopedMessage:
    """A message the rederive replays, with the message just before it (seq - 1) when there is one: the deriver
    shows that one as context when another peer wrote it."""

    session_pk: int
    seq: int
    sender_pk: int
    tokens: int
    before_sender_pk: int | None
    before_tokens: int


def _session_rule(column: ColumnElement[int], scope: RederiveScope) -> list[ColumnElement[bool]]:
    """The sessions rule on `column` (a session key), none without one."""
    if scope.session_pks is None:
        return []
    return [column.in_(scope.session_pks)] if scope.session_pks else [false()]


async def sessions_in(conn: AsyncConnection, workspace_pk: int, scope: RederiveScope) -> list[ScopedSession]:
    """The scope's sessions (every one of the workspace without a sessions rule); those being deleted are left
    out, as the deriver leaves them."""
    query = (select(sessions.c.id, sessions.c.name, sessions.c.configuration)
             .where(sessions.c.workspace_id == workspace_pk, sessions.c.is_active,
                    *_session_rule(sessions.c.id, scope))
             .order_by(sessions.c.id))
    return [ScopedSession(r.id, r.name, r.configuration or {}) for r in await conn.execute(query)]


async def messages_in(conn: AsyncConnection, workspace_pk: int, scope: RederiveScope) -> list[ScopedMessage]:
    """The messages in scope, by session then seq: of the scope's active sessions, created at or after `since`,
    sent by `peer`."""
    m, before = messages, messages.alias("before")
    where = [m.c.workspace_id == workspace_pk, sessions.c.is_active, *_session_rule(sessions.c.id, scope)]
    if scope.peer is not None:
        where.append(m.c.peer_id == scope.peer_pk if scope.peer_pk is not None else false())
    if scope.since is not None:
        where.append(m.c.created_at >= scope.since)
    query = (select(m.c.session_id, m.c.seq, m.c.peer_id, m.c.token_count, before.c.peer_id.label("before_peer"),
                    before.c.token_count.label("before_tokens"))
             .select_from(m.join(sessions, sessions.c.id == m.c.session_id)
                          .outerjoin(before, and_(before.c.session_id == m.c.session_id, before.c.seq == m.c.seq - 1)))
             .where(*where).order_by(m.c.session_id, m.c.seq))
    return [ScopedMessage(r.session_id, r.seq, r.peer_id, r.token_count, r.before_peer, r.before_tokens or 0)
            for r in await conn.execute(query)]


async def peer_names(conn: AsyncConnection, workspace_pk: int) -> dict[int, str]:
    rows = await conn.execute(select(peers.c.id, peers.c.name).where(peers.c.workspace_id == workspace_pk))
    return {r.id: r.name for r in rows}


async def members_in(conn: AsyncConnection, workspace_pk: int, scope: RederiveScope
                     ) -> dict[int, dict[str, Membership]]:
    """Per session in scope, every membership by peer name (as at a message append: the members, plus the recall
    scopes the session belongs to as silent members observing everyone)."""
    sp = session_peers
    query = (select(sp.c.session_id, sp.c.peer_id, sp.c.observe_me, sp.c.observe_others, sp.c.left_at, peers.c.name,
                    peers.c.configuration)
             .join(peers, peers.c.id == sp.c.peer_id)
             .where(sp.c.workspace_id == workspace_pk, *_session_rule(sp.c.session_id, scope)))
    out: dict[int, dict[str, Membership]] = {}
    for r in await conn.execute(query):
        out.setdefault(r.session_id, {})[r.name] = Membership(
            peer_pk=r.peer_id, peer_name=r.name, peer_configuration=r.configuration or {}, observe_me=r.observe_me,
            observe_others=r.observe_others, active=r.left_at is None)
    ss = scope_sessions
    silent = (select(ss.c.session_id, peers.c.id, peers.c.name, peers.c.configuration)
              .select_from(ss.join(scopes, scopes.c.id == ss.c.scope_id).join(peers, peers.c.id == scopes.c.peer_id))
              .where(ss.c.workspace_id == workspace_pk, ss.c.left_at.is_(None), *_session_rule(ss.c.session_id, scope)))
    for s in await conn.execute(silent):
        out.setdefault(s.session_id, {})[s.name] = Membership(
            peer_pk=s.id, peer_name=s.name, peer_configuration=s.configuration or {}, observe_me=False,
            observe_others=True, active=True)
    return out
