"""Message retrieval queries: the scope every candidate must meet, full-text candidates, and loading the
messages that vector search or neighbour propagation brought in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.messages import PEER_NAME
from honcho_server.store.tables import messages as t
from honcho_server.store.tables import peers, session_peers, sessions

_SESSION_NAME = select(sessions.c.name).where(sessions.c.id == t.c.session_id).scalar_subquery()
_COLUMNS = (t.c.id, t.c.uid, t.c.session_id, t.c.seq, t.c.content, t.c.metadata, t.c.token_count, t.c.created_at,
            PEER_NAME.label("peer_name"), _SESSION_NAME.label("session_name"))


def fields(workspace_name: str) -> dict[str, Field]:
    return {
        "workspace_id": Field(literal(workspace_name), "text"),
        "session_id": Field(_SESSION_NAME, "text"),
        "peer_id": Field(PEER_NAME, "text"),
        "token_count": Field(t.c.token_count, "int"),
        "created_at": Field(t.c.created_at, "datetime"),
        "metadata": Field(t.c.metadata, "json"),
    }


def seen_by(peer_name: str) -> Any:
    """Messages the peer could have seen: in a session it belonged to, written while it was a member."""
    sp = session_peers
    return exists(
        select(literal(1)).select_from(sp.join(peers, peers.c.id == sp.c.peer_id)).where(
            peers.c.name == peer_name, sp.c.session_id == t.c.session_id, sp.c.joined_at <= t.c.created_at,
            or_(sp.c.left_at.is_(None), t.c.created_at <= sp.c.left_at)))


def within(session_pks: tuple[int, ...] | None, peer_pks: tuple[int, ...] | None) -> list[Any]:
    """Conditions on the messages' own key columns (indexed), for sessions / peers a filter names."""
    conditions = []
    if session_pks is not None:
        conditions.append(t.c.session_id.in_(session_pks))
    if peer_pks is not None:
        conditions.append(t.c.peer_id.in_(peer_pks))
    return conditions


def scope(dialect: Dialect, workspace_pk: int, workspace_name: str, filters: dict[str, Any] | None,
          extra: list[Any]) -> Any:
    """Conditions every candidate must meet: the workspace, an active session, the caller's filters."""
    active = select(sessions.c.id).where(sessions.c.workspace_id == workspace_pk, sessions.c.is_active)
    conditions = [t.c.workspace_id == workspace_pk, t.c.session_id.in_(active), *extra]
    condition = compile_filter(filters, fields(workspace_name), dialect, resource="Message")
    if condition is not None:
        conditions.append(condition)
    return and_(*conditions)


def _message(row: Any, workspace_name: str) -> Message:
    return Message(pk=row.id, uid=row.uid, workspace_name=workspace_name, session_name=row.session_name,
                   peer_name=row.peer_name, seq=row.seq, content=row.content, metadata=row.metadata,
                   token_count=row.token_count, created_at=row.created_at, session_pk=row.session_id)


async def text_candidates(conn: AsyncConnection, dialect: Dialect, workspace_name: str, where: Any,
                          terms: list[str], limit: int, scope_rows: int | None = None) -> list[tuple[Message, float]]:
    """Messages matching any of `terms` through the full-text index with their text score, best first."""
    query = await dialect.text_search(conn, t, select(*_COLUMNS).where(where), terms, limit, scope_rows)
    return [(_message(r, workspace_name), float(r.text_score)) for r in await conn.execute(query)]


async def substring_candidates(conn: AsyncConnection, workspace_name: str, where: Any, text: str,
                               limit: int) -> list[tuple[Message, float]]:
    """Messages holding `text` literally (case-insensitive; `%` and `_` are plain characters), newest first,
    each with the text score 1: for a query the full-text index has no words for (stop words only)."""
    query = (select(*_COLUMNS).where(where, t.c.content.icontains(text, autoescape=True))
             .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit))
    return [(_message(r, workspace_name), 1.0) for r in await conn.execute(query)]


async def load(conn: AsyncConnection, workspace_name: str, where: Any, pks: list[int]) -> dict[int, Message]:
    """Those of `pks` that meet `where`, by primary key."""
    if not pks:
        return {}
    query = select(*_COLUMNS).where(where, t.c.id.in_(pks))
    return {r.id: _message(r, workspace_name) for r in await conn.execute(query)}


async def at_positions(conn: AsyncConnection, workspace_name: str, where: Any,
                       positions: list[tuple[int | None, int]]) -> dict[tuple[int | None, int], Message]:
    """Messages at (session pk, seq) positions that meet `where`."""
    if not positions:
        return {}
    query = select(*_COLUMNS).where(where, tuple_(t.c.session_id, t.c.seq).in_(positions))
    return {(r.session_id, r.seq): _message(r, workspace_name) for r in await conn.execute(query)}


async def session_sizes(conn: AsyncConnection, workspace_pk: int, names: set[str]) -> dict[int, int]:
    """Primary key -> message count of the named sessions of the workspace."""
    query = (select(sessions.c.id, sessions.c.message_count)
             .where(sessions.c.workspace_id == workspace_pk, sessions.c.name.in_(names)))
    return {int(pk): int(count) for pk, count in await conn.execute(query)}


async def peer_pks(conn: AsyncConnection, workspace_pk: int, names: set[str]) -> list[int]:
    query = select(peers.c.id).where(peers.c.workspace_id == workspace_pk, peers.c.name.in_(names))
    return list((await conn.execute(query)).scalars())


async def peer_name_words(conn: AsyncConnection, workspace_pk: int, words: list[str]) -> set[str]:
    """Those of the (lower-case) `words` that are, in any usual casing, the name of a peer of the workspace.
    By exact name, so the (workspace, name) index answers whatever the number of peers."""
    spellings = {v: w for w in words for v in (w, w.capitalize(), w.upper())}
    if not spellings:
        return set()
    query = select(peers.c.name).where(peers.c.workspace_id == workspace_pk, peers.c.name.in_(spellings))
    return {spellings[name] for name in (await conn.execute(query)).scalars()}
