"""Session rows and session memberships."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import GenerationKey
from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Membership, Page, Session
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import generations as g
from honcho_server.store.tables import peers
from honcho_server.store.tables import session_peers as sp
from honcho_server.store.tables import sessions as t
from honcho_server.store.tables import workspaces as ws


def fields(workspace_name: str) -> dict[str, Field]:
    return {
        "id": Field(t.c.name, "text"),
        "created_at": Field(t.c.created_at, "datetime"),
        "is_active": Field(t.c.is_active, "bool"),
        "workspace_id": Field(literal(workspace_name), "text"),
        "metadata": Field(t.c.metadata, "json"),
    }


def to_session(row: Any, workspace_name: str) -> Session:
    return Session(pk=row.id, uid=row.uid, workspace_pk=row.workspace_id, workspace_name=workspace_name,
                   name=row.name, is_active=row.is_active, metadata=row.metadata,
                   configuration=row.configuration, created_at=row.created_at, message_count=row.message_count)


async def insert_if_missing(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, workspace_name: str, name: str,
    metadata: dict[str, Any], configuration: dict[str, Any], now: Any, uid: str | None = None,
) -> Session | None:
    stmt = dialect.insert(t).values(uid=uid or new_id(), workspace_id=workspace_pk, name=name, is_active=True,
                                    metadata=metadata, configuration=configuration, last_seq=0, created_at=now)
    stmt = stmt.on_conflict_do_nothing(index_elements=["workspace_id", "name"]).returning(*t.c)
    row = (await conn.execute(stmt)).first()
    return to_session(row, workspace_name) if row else None


async def find(conn: AsyncConnection, workspace_pk: int, name: str, workspace_name: str) -> Session | None:
    row = (await conn.execute(select(t).where(t.c.workspace_id == workspace_pk, t.c.name == name))).first()
    return to_session(row, workspace_name) if row else None


# Hot statements are built once; each call only binds its values.
_BY_NAMES = select(t).join(ws, ws.c.id == t.c.workspace_id).where(
    ws.c.name == bindparam("workspace_name"), t.c.name == bindparam("session_name"))
_RESERVE = (update(t).where(t.c.id == bindparam("pk"))
            .values(last_seq=t.c.last_seq + bindparam("count"), message_count=t.c.message_count + bindparam("count"))
            .returning(t.c.last_seq))


async def find_by_names(conn: AsyncConnection, workspace_name: str, name: str) -> Session | None:
    """A session looked up by its workspace's name and its own, in one round trip."""
    row = (await conn.execute(_BY_NAMES, {"workspace_name": workspace_name, "session_name": name})).first()
    return to_session(row, workspace_name) if row else None


@dataclass(slots=True)
class AppendTarget:
    """What appending messages to a session needs to know, read in one round trip."""

    session_pk: int
    workspace_pk: int
    is_active: bool
    session_configuration: dict[str, Any]
    workspace_configuration: dict[str, Any]
    members: dict[str, Membership]
    active_generation: GenerationKey
    other_live_generations: int  # building or ready ones (usually none): new messages reach them too


_MEMBER_COLUMNS = (sp.c.peer_id, sp.c.observe_me, sp.c.observe_others, sp.c.left_at,
                   peers.c.name.label("peer_name"), peers.c.configuration.label("peer_configuration"))


def _membership(row: Any) -> Membership:
    return Membership(peer_pk=row.peer_id, peer_name=row.peer_name, peer_configuration=row.peer_configuration,
                      observe_me=row.observe_me, observe_others=row.observe_others, active=row.left_at is None)


_APPEND_TARGET = (
    select(t.c.id, t.c.is_active, t.c.configuration, t.c.workspace_id,
           ws.c.configuration.label("workspace_configuration"), *_MEMBER_COLUMNS,
           select(g.c.id).where(g.c.workspace_id == ws.c.id, g.c.state == "active").scalar_subquery()
           .label("generation_pk"),
           select(g.c.number).where(g.c.workspace_id == ws.c.id, g.c.state == "active").scalar_subquery()
           .label("generation_number"),
           select(func.count()).select_from(g).where(g.c.workspace_id == ws.c.id, g.c.state.in_(("building", "ready")))
           .scalar_subquery().label("other_generations"))
    .select_from(t.join(ws, ws.c.id == t.c.workspace_id)
                 .outerjoin(sp, sp.c.session_id == t.c.id)
                 .outerjoin(peers, peers.c.id == sp.c.peer_id))
    .where(ws.c.name == bindparam("workspace_name"), t.c.name == bindparam("session_name"))
)


async def append_target(conn: AsyncConnection, workspace_name: str, name: str) -> AppendTarget | None:
    """The session, its workspace's configuration and every membership; None when the session is missing."""
    rows = list(await conn.execute(_APPEND_TARGET, {"workspace_name": workspace_name, "session_name": name}))
    if not rows:
        return None
    first = rows[0]
    members = {r.peer_name: _membership(r) for r in rows if r.peer_id is not None}
    return AppendTarget(session_pk=first.id, workspace_pk=first.workspace_id, is_active=first.is_active,
                        session_configuration=first.configuration,
                        workspace_configuration=first.workspace_configuration, members=members,
                        active_generation=GenerationKey(first.generation_pk, first.generation_number),
                        other_live_generations=int(first.other_generations))


async def update_fields(conn: AsyncConnection, pk: int, **values: Any) -> None:
    await conn.execute(update(t).where(t.c.id == pk).values(**values))


async def reserve_seqs(conn: AsyncConnection, pk: int, count: int) -> int:
    """Reserve `count` sequence numbers; returns the last. Row-locks the session until commit."""
    return (await conn.execute(_RESERVE, {"pk": pk, "count": count})).scalar_one()


async def name_of(conn: AsyncConnection, pk: int) -> str | None:
    return (await conn.execute(select(t.c.name).where(t.c.id == pk))).scalar_one_or_none()


async def is_active(conn: AsyncConnection, pk: int) -> bool:
    """Whether the session exists and is not being deleted."""
    return bool((await conn.execute(select(t.c.is_active).where(t.c.id == pk))).scalar_one_or_none())


async def active_pks(conn: AsyncConnection, workspace_pk: int, names: list[str]) -> dict[str, int]:
    """Primary keys of the named sessions that exist and are active, keyed by name."""
    if not names:
        return {}
    query = select(t.c.name, t.c.id).where(t.c.workspace_id == workspace_pk, t.c.name.in_(names), t.c.is_active)
    return {row.name: row.id for row in await conn.execute(query)}


async def count_active(conn: AsyncConnection, workspace_pk: int) -> int:
    query = select(func.count()).select_from(t).where(t.c.workspace_id == workspace_pk, t.c.is_active)
    return (await conn.execute(query)).scalar_one()


async def list_page(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, workspace_name: str,
    filters: dict[str, Any] | None, page: int, size: int, reverse: bool, *,
    active_only: bool = True, member_pk: int | None = None,
) -> Page[Session]:
    query = select(t).where(t.c.workspace_id == workspace_pk)
    if active_only:
        query = query.where(t.c.is_active)
    if member_pk is not None:
        query = query.where(t.c.id.in_(select(sp.c.session_id).where(sp.c.peer_id == member_pk)))
    condition = compile_filter(filters, fields(workspace_name), dialect, resource="Session")
    if condition is not None:
        query = query.where(condition)
    order = [t.c.created_at.desc(), t.c.id.desc()] if reverse else [t.c.created_at, t.c.id]
    return await paginate(conn, query, order, page, size, lambda r: to_session(r, workspace_name))


async def memberships(conn: AsyncConnection, session_pk: int) -> dict[str, Membership]:
    """Every membership row of a session (active or left), keyed by peer name."""
    query = (
        select(*_MEMBER_COLUMNS)
        .join(peers, peers.c.id == sp.c.peer_id)
        .where(sp.c.session_id == session_pk)
    )
    return {row.peer_name: _membership(row) for row in await conn.execute(query)}


async def add_members(
    conn: AsyncConnection, dialect: Dialect, workspace_pk: int, session_pk: int,
    configs: dict[int, tuple[bool | None, bool | None]], now: Any,
) -> None:
    """Insert memberships (peer pk → (observe_me, observe_others)); existing rows are left alone."""
    if not configs:
        return
    rows = [dict(workspace_id=workspace_pk, session_id=session_pk, peer_id=pk, observe_me=me,
                 observe_others=others, joined_at=now, left_at=None) for pk, (me, others) in configs.items()]
    await conn.execute(dialect.insert(sp).on_conflict_do_nothing(index_elements=["session_id", "peer_id"]), rows)


async def set_member(
    conn: AsyncConnection, session_pk: int, peer_pk: int, *, rejoin: bool, now: Any, **flags: Any,
) -> None:
    """Update one membership's flags; `rejoin` clears `left_at` and restarts `joined_at`."""
    values = dict(flags)
    if rejoin:
        values.update(left_at=None, joined_at=now)
    if values:
        await conn.execute(update(sp).where(sp.c.session_id == session_pk, sp.c.peer_id == peer_pk)
                           .values(**values))


async def leave(conn: AsyncConnection, session_pk: int, peer_pks: list[int], now: Any) -> None:
    if peer_pks:
        await conn.execute(update(sp).where(sp.c.session_id == session_pk, sp.c.peer_id.in_(peer_pks),
                                            sp.c.left_at.is_(None)).values(left_at=now))


async def count_observers(conn: AsyncConnection, session_pk: int) -> int:
    query = select(func.count()).select_from(sp).where(
        and_(sp.c.session_id == session_pk, sp.c.left_at.is_(None), sp.c.observe_others.is_(True)))
    return (await conn.execute(query)).scalar_one()


async def is_active_member(conn: AsyncConnection, workspace_name: str, session_name: str, peer_name: str) -> bool:
    query = (
        select(literal(1))
        .select_from(sp.join(t, t.c.id == sp.c.session_id).join(peers, peers.c.id == sp.c.peer_id)
                     .join(ws, ws.c.id == t.c.workspace_id))
        .where(ws.c.name == workspace_name, t.c.name == session_name, peers.c.name == peer_name,
               sp.c.left_at.is_(None), t.c.is_active)
    )
    return (await conn.execute(query)).first() is not None
