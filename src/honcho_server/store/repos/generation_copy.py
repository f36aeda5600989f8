"""A scoped rederive's carry-over (docs/generations.md): a generation built for a peer, some sessions or a time
re-derives only its scope, so at creation it receives a copy of everything of the source (active) generation
outside that scope, and activating it later loses nothing.

In scope (not copied; the rederive writes it anew), every rule the scope sets holding at once:

- conclusions: `peer` -> about that peer (observed); `sessions` -> explicit ones read in those sessions (derived
  levels carry no session: copied unless the peer rule takes them); `since` -> learned (`observed_at`) then or
  later.
- peer cards: those about the scope's peer. Other scopes copy every card: the rederive's dreams refresh them.
- summaries: none under a peer scope (a peer's rederive keeps the summaries); else those of the scope's sessions
  whose last message was written at or after `since` (a summary whose last message is gone is not copied).

An app's own conclusions (written through the API, read from no message) are copied whatever the scope, a whole
workspace's too: no rederive can make them again.

Copied conclusions get new public ids, and the references between them (premises in `source_ids`, the
`superseded_by` of a replaced one) follow the copies. A reference to a conclusion that was not copied is dropped:
that premise or replacement belongs to the scope and is derived again, so a copy it superseded is current again
until a dream of the new generation decides otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, insert, literal, not_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.store.repos import rederive_scope
from honcho_server.store.repos.rederive_scope import RederiveScope
from honcho_server.store.tables import conclusions, messages, peer_cards, summaries

BATCH = 500  # conclusion rows read and inserted at a time (each carries its vector)


async def copy_outside_scope(conn: AsyncConnection, workspace_pk: int, source_pk: int, target_pk: int,
                             scope: Mapping[str, Any]) -> dict[str, int]:
    """Copy into generation `target_pk` the rows of `source_pk` outside `scope` (see the module docstring), in the
    caller's transaction; returns the rows copied per table. A whole-workspace scope copies nothing."""
    resolved = await rederive_scope.resolve(conn, workspace_pk, scope)
    if resolved.whole:  # only what no rederive can make again: the app's own conclusions
        return {"conclusions": await _conclusions(conn, workspace_pk, source_pk, target_pk, resolved),
                "peer_cards": 0, "summaries": 0}
    return {"conclusions": await _conclusions(conn, workspace_pk, source_pk, target_pk, resolved),
            "peer_cards": await _cards(conn, workspace_pk, source_pk, target_pk, resolved),
            "summaries": await _summaries(conn, workspace_pk, source_pk, target_pk, resolved)}


def _all(rules: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Every rule holds (true when there is none)."""
    return and_(true(), *rules)


def _peer_rule(column: ColumnElement[int], scope: RederiveScope) -> list[ColumnElement[bool]]:
    if scope.peer is None:
        return []
    return [column == scope.peer_pk] if scope.peer_pk is not None else [false()]


# ------------------------------------------------------------------------------------------- conclusions

_C_COPIED = [c for c in conclusions.c if c.name not in ("id", "uid", "generation_id")]


def _conclusion_in_scope(scope: RederiveScope) -> ColumnElement[bool]:
    c = conclusions.c
    rules = _peer_rule(c.observed_id, scope)
    if scope.session_pks is not None:
        # Written out in full: a NULL session would make `IN` unknown, and NOT unknown copies nothing.
        rules.append(and_(c.level == "explicit", c.session_id.is_not(None), c.session_id.in_(scope.session_pks))
                     if scope.session_pks else false())
    if scope.since is not None:
        rules.append(c.observed_at >= scope.since)
    return _all(rules)


async def _conclusions(conn: AsyncConnection, workspace_pk: int, source_pk: int, target_pk: int,
                       scope: RederiveScope) -> int:
    c = conclusions.c
    mine = [c.workspace_id == workspace_pk, c.generation_id == source_pk]
    in_scope = _conclusion_in_scope(scope) if not scope.whole else true()
    outside = list(await conn.execute(select(c.id, c.uid).where(*mine, not_(in_scope))))
    # An app's own conclusions (explicit, read from no message) are copied whatever the scope: no rederive can
    # make them again. (An absent list may be stored as JSON null: told apart here, not in SQL.)
    apps = [r for r in await conn.execute(select(c.id, c.uid, c.message_ids).where(*mine, in_scope,
                                                                                    c.level == "explicit"))
            if not r.message_ids]
    # Every new id first (a row may point at one copied after it); then the rows by key, a batch at a time (paging
    # through the scope's filter again would rescan the generation on every page).
    found = sorted([*outside, *apps], key=lambda row: row.id)
    renamed = {row.uid: new_id() for row in found}
    for start in range(0, len(found), BATCH):
        keys = [row.id for row in found[start:start + BATCH]]
        rows = await conn.execute(select(c.uid, *_C_COPIED).where(c.id.in_(keys)).order_by(c.id))
        await conn.execute(insert(conclusions), [_copy(row, renamed, target_pk) for row in rows])
    return len(found)


def _copy(row: Any, renamed: dict[str, str], target_pk: int) -> dict[str, Any]:
    values = dict(row._mapping)
    premises = [renamed[uid] for uid in row.source_ids or [] if uid in renamed]
    by = renamed.get(row.superseded_by) if row.superseded_by else None
    values.update(uid=renamed[row.uid], generation_id=target_pk, source_ids=premises or None, superseded_by=by,
                  superseded_at=row.superseded_at if by else None)
    return values


# ------------------------------------------------------------------------------------------ cards, summaries


async def _cards(conn: AsyncConnection, workspace_pk: int, source_pk: int, target_pk: int,
                 scope: RederiveScope) -> int:
    p = peer_cards.c
    rule = _peer_rule(p.observed_id, scope)
    in_scope = rule[0] if rule else false()  # only the peer rule takes cards
    query = select(p.workspace_id, literal(target_pk), p.observer_id, p.observed_id, p.entries, p.updated_at).where(
        p.workspace_id == workspace_pk, p.generation_id == source_pk, not_(in_scope))
    return await _insert_from(conn, peer_cards, ["workspace_id", "generation_id", "observer_id", "observed_id",
                                                 "entries", "updated_at"], query)


def _summary_in_scope(scope: RederiveScope) -> ColumnElement[bool]:
    s = summaries.c
    if scope.peer is not None:
        return false()
    rules: list[ColumnElement[bool]] = []
    if scope.session_pks is not None:
        rules.append(s.session_id.in_(scope.session_pks) if scope.session_pks else false())
    if scope.since is not None:
        m = messages.c
        rules.append(not_(exists().where(m.session_id == s.session_id, m.seq == s.last_seq,
                                         m.created_at < scope.since)))
    return _all(rules)


async def _summaries(conn: AsyncConnection, workspace_pk: int, source_pk: int, target_pk: int,
                     scope: RederiveScope) -> int:
    s = summaries.c
    names = ["workspace_id", "session_id", "generation_id", "kind", "content", "last_seq", "message_uid",
             "token_count", "created_at"]
    query = select(*[literal(target_pk) if n == "generation_id" else s[n] for n in names]).where(
        s.workspace_id == workspace_pk, s.generation_id == source_pk, not_(_summary_in_scope(scope)))
    return await _insert_from(conn, summaries, names, query)


async def _insert_from(conn: AsyncConnection, table: Any, names: list[str], query: Any) -> int:
    """INSERT ... SELECT; returns the rows inserted (counted first: drivers differ in what they report)."""
    count = int((await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    if count:
        await conn.execute(insert(table).from_select(names, query))
    return count
