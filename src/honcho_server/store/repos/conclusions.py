"""Conclusion rows: insert with exact dedup, reads for representations, the API's list / get / delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import numpy as np
from sqlalchemy import ColumnElement, bindparam, false, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.conclusions import Conclusion, NewConclusion, fingerprint
from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page, Workspace
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import paginate
from honcho_server.store.tables import conclusions as t
from honcho_server.store.tables import peers, sessions

_observer = peers.alias("observer")
_observed = peers.alias("observed")
OBSERVER_NAME = select(_observer.c.name).where(_observer.c.id == t.c.observer_id).scalar_subquery()
OBSERVED_NAME = select(_observed.c.name).where(_observed.c.id == t.c.observed_id).scalar_subquery()
SESSION_NAME = select(sessions.c.name).where(sessions.c.id == t.c.session_id).scalar_subquery()
CURRENT = t.c.superseded_by.is_(None)  # not replaced by consolidation
_COLUMNS = (t.c.id, t.c.uid, t.c.level, t.c.content, t.c.times_derived, t.c.message_ids, t.c.source_ids,
            t.c.observed_at, t.c.about_at, t.c.created_at, t.c.metadata, OBSERVER_NAME.label("observer"),
            OBSERVED_NAME.label("observed"), SESSION_NAME.label("session_name"))


def fields(workspace_name: str) -> dict[str, Field]:
    """Filterable keys (spec 4.1), with the raw column names upstream also accepts."""
    text_fields = {
        "observer_id": OBSERVER_NAME, "observer": OBSERVER_NAME,
        "observed_id": OBSERVED_NAME, "observed": OBSERVED_NAME,
        "session_id": SESSION_NAME, "session_name": SESSION_NAME,
        "workspace_id": literal(workspace_name), "workspace_name": literal(workspace_name),
        "id": t.c.uid, "content": t.c.content, "superseded_by": t.c.superseded_by,
    }
    found = {key: Field(column, "text") for key, column in text_fields.items()}
    found.update({
        "level": Field(t.c.level, "enum", choices=("explicit", "deductive", "inductive", "contradiction")),
        "times_derived": Field(t.c.times_derived, "int"),
        "created_at": Field(t.c.created_at, "datetime"),
        "source_ids": Field(t.c.source_ids, "json", scalar_element_contains=True),
        "metadata": Field(t.c.metadata, "json"),
        "internal_metadata": Field(t.c.metadata, "json"),
    })
    return found


def to_conclusion(row: Any, workspace_name: str) -> Conclusion:
    return Conclusion(pk=row.id, uid=row.uid, workspace_name=workspace_name, observer=row.observer,
                      observed=row.observed, session_name=row.session_name, level=row.level, content=row.content,
                      times_derived=row.times_derived, message_ids=row.message_ids, source_ids=row.source_ids,
                      observed_at=row.observed_at, about_at=row.about_at, created_at=row.created_at,
                      metadata=row.metadata or {})


async def insert(conn: AsyncConnection, workspace_pk: int, generation_pk: int, items: Sequence[NewConclusion],
                 now: datetime) -> list[str]:
    """Insert into a generation as given (no dedup); returns the new public ids in order."""
    uids = [new_id() for _ in items]
    if not items:
        return uids
    rows = [dict(uid=uid, workspace_id=workspace_pk, observer_id=c.observer_pk,
                 observed_id=c.observed_pk, session_id=c.session_pk, level=c.level, content=c.content,
                 fingerprint=fingerprint(c.content), times_derived=c.times_derived,
                 message_ids=list(c.message_ids) if c.message_ids else None,
                 source_ids=list(c.source_ids) if c.source_ids else None, observed_at=c.observed_at,
                 about_at=c.about_at, metadata=c.metadata or {}, embedding=c.embedding, created_at=now)
            for uid, c in zip(uids, items, strict=True)]
    await conn.execute(t.insert().values(generation_id=generation_pk), rows)
    return uids


@dataclass(frozen=True, slots=True)
class Twin:
    """An existing conclusion a new one duplicates."""

    pk: int
    content: str
    times_derived: int
    message_ids: list[str] | None


def _collection(generation_pk: int, observer_pk: int, observed_pk: int, level: str, session_pk: int | None
                ) -> list[ColumnElement[bool]]:
    """One observer's conclusions about one peer at one level in a generation; explicit ones only within their
    session."""
    where = [t.c.generation_id == generation_pk, t.c.observer_id == observer_pk, t.c.observed_id == observed_pk,
             t.c.level == level, CURRENT]
    if level == "explicit":
        where.append(t.c.session_id.is_(None) if session_pk is None else t.c.session_id == session_pk)
    return where


async def exact_twins(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int, level: str,
                      session_pk: int | None, fingerprints: Sequence[str]) -> dict[str, Twin]:
    """Existing conclusions with the same normalised content, by fingerprint."""
    if not fingerprints:
        return {}
    query = (select(t.c.id, t.c.fingerprint, t.c.content, t.c.times_derived, t.c.message_ids)
             .where(*_collection(generation_pk, observer_pk, observed_pk, level, session_pk),
                    t.c.fingerprint.in_(sorted(set(fingerprints)))).order_by(t.c.id))
    found: dict[str, Twin] = {}
    for row in await conn.execute(query):
        found.setdefault(row.fingerprint, Twin(row.id, row.content, row.times_derived, row.message_ids))
    return found


async def vectors(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int, level: str,
                  session_pk: int | None, dimensions: int) -> tuple[list[Twin], np.ndarray]:
    """The collection's embedded conclusions (of the embedder's size) and their unit vectors as one matrix."""
    query = (select(t.c.id, t.c.content, t.c.times_derived, t.c.message_ids, t.c.embedding)
             .where(*_collection(generation_pk, observer_pk, observed_pk, level, session_pk),
                    t.c.embedding.is_not(None)))
    rows = _sized(await conn.execute(query), dimensions)
    return [Twin(r.id, r.content, r.times_derived, r.message_ids) for r in rows], _matrix(rows, dimensions)


def _sized(rows: Any, dimensions: int) -> list[Any]:
    """Rows whose stored vector is of the embedder's size (others predate a model change)."""
    return [r for r in rows if len(r.embedding) == dimensions * 4]


def _matrix(rows: list[Any], dimensions: int) -> np.ndarray:
    """The rows' stored vectors as one float32 matrix."""
    return np.frombuffer(b"".join(r.embedding for r in rows), dtype="<f4").reshape(len(rows), dimensions)


async def reinforce(conn: AsyncConnection, pk: int, message_ids: Sequence[str]) -> None:
    """Count one more independent derivation of a conclusion, which now rests on `message_ids` (all of them)."""
    await conn.execute(update(t).where(t.c.id == pk).values(times_derived=t.c.times_derived + 1,
                                                            message_ids=list(message_ids) or None))


async def replace_content(conn: AsyncConnection, pk: int, content: str, embedding: bytes | None) -> None:
    """A near-duplicate said more: keep the row (and its count), take the richer wording."""
    await conn.execute(update(t).where(t.c.id == pk).values(content=content, fingerprint=fingerprint(content),
                                                            embedding=embedding))


def _scoped(workspace_pk: int, generation_pk: int) -> Any:
    """The conclusions of one generation of a workspace."""
    return select(*_COLUMNS).where(t.c.workspace_id == workspace_pk, t.c.generation_id == generation_pk)


async def get(conn: AsyncConnection, ws: Workspace, uid: str) -> Conclusion | None:
    """In the generation the workspace's reads serve."""
    row = (await conn.execute(_scoped(ws.pk, ws.generation_pk).where(t.c.uid == uid))).first()
    return to_conclusion(row, ws.name) if row else None


async def by_uids(conn: AsyncConnection, workspace_pk: int, workspace_name: str, generation_pk: int,
                  uids: Sequence[str]) -> list[Conclusion]:
    if not uids:
        return []
    rows = await conn.execute(_scoped(workspace_pk, generation_pk).where(t.c.uid.in_(list(set(uids)))))
    return [to_conclusion(r, workspace_name) for r in rows]


def _mentions(filters: Any, key: str) -> bool:
    """Whether `key` appears anywhere in a filter (inside AND / OR / NOT too)."""
    if isinstance(filters, dict):
        return key in filters or any(_mentions(v, key) for v in filters.values())
    if isinstance(filters, list):
        return any(_mentions(v, key) for v in filters)
    return False


def condition(dialect: Dialect, workspace_name: str, filters: dict[str, Any] | None) -> ColumnElement[bool] | None:
    """A client filter (spec 4.1) as one condition on conclusion rows (None when it sets none); FilterError."""
    return compile_filter(filters, fields(workspace_name), dialect, resource="Conclusion")


async def list_page(conn: AsyncConnection, dialect: Dialect, ws: Workspace, filters: dict[str, Any] | None,
                    page: int, size: int, reverse: bool) -> Page[Conclusion]:
    """Newest first unless `reverse` (spec 9.2). Superseded conclusions are history: listed only when the filter
    asks about `superseded_by` (e.g. `{"superseded_by": {"ne": null}}`)."""
    query = _scoped(ws.pk, ws.generation_pk)
    if not _mentions(filters, "superseded_by"):
        query = query.where(CURRENT)
    where = condition(dialect, ws.name, filters)
    if where is not None:
        query = query.where(where)
    order = [t.c.created_at, t.c.id] if reverse else [t.c.created_at.desc(), t.c.id.desc()]
    return await paginate(conn, query, order, page, size, lambda r: to_conclusion(r, ws.name))


@dataclass(frozen=True, slots=True)
class Collection:
    """Which conclusions a read may see: one observer about one peer in one generation, optionally confined to
    sessions (then only explicit conclusions of those sessions: derived ones rest on premises from anywhere). An
    empty allowlist sees nothing."""

    workspace_pk: int
    workspace_name: str
    generation_pk: int
    observer_pk: int
    observed_pk: int
    session_pks: tuple[int, ...] | None = None

    @classmethod
    def of(cls, ws: Workspace, observer_pk: int, observed_pk: int, session_pks: tuple[int, ...] | None = None,
           **more: Any) -> Self:
        """The collection in the generation the workspace's reads serve."""
        return cls(ws.pk, ws.name, ws.generation_pk, observer_pk, observed_pk, session_pks, **more)

    def owners(self) -> list[ColumnElement[bool]]:
        """Whose conclusions these are (before the allowlist)."""
        return [t.c.observer_id == self.observer_pk, t.c.observed_id == self.observed_pk]

    def where(self) -> list[ColumnElement[bool]]:
        where = [*self.owners(), t.c.generation_id == self.generation_pk, CURRENT]
        if self.session_pks is not None:
            if not self.session_pks:
                return [false()]
            where += [t.c.level == "explicit", t.c.session_id.in_(self.session_pks)]
        return where


async def recent(conn: AsyncConnection, scope: Collection, limit: int,
                 extra: Sequence[ColumnElement[bool]] = ()) -> list[Conclusion]:
    """Newest first (by when they were learned)."""
    if limit <= 0:
        return []
    query = (select(*_COLUMNS).where(*scope.where(), *extra)
             .order_by(t.c.observed_at.desc(), t.c.id.desc()).limit(limit))
    return [to_conclusion(r, scope.workspace_name) for r in await conn.execute(query)]


async def containing_any(conn: AsyncConnection, dialect: Dialect, scope: Collection, words: Sequence[str],
                         limit: int, extra: Sequence[ColumnElement[bool]] = ()) -> list[Conclusion]:
    """Conclusions containing any of `words` (case-insensitive), newest first: recall by words when there is
    no query vector."""
    by_words = condition(dialect, scope.workspace_name, {"OR": [{"content": {"icontains": w}} for w in words]})
    return await recent(conn, scope, limit, [*extra, *([by_words] if by_words is not None else [])])


async def most_derived(conn: AsyncConnection, scope: Collection, limit: int) -> list[Conclusion]:
    """The most reinforced first, then the newest."""
    if limit <= 0:
        return []
    query = (select(*_COLUMNS).where(*scope.where())
             .order_by(t.c.times_derived.desc(), t.c.observed_at.desc(), t.c.id.desc()).limit(limit))
    return [to_conclusion(r, scope.workspace_name) for r in await conn.execute(query)]


async def nearest(conn: AsyncConnection, scope: Collection, query_vector: np.ndarray, limit: int,
                  max_distance: float | None = None, extra: Sequence[ColumnElement[bool]] = ()) -> list[Conclusion]:
    """The `limit` conclusions closest to `query_vector` (unit length) by cosine, within `max_distance`.

    Exact: a collection is one observer's view of one peer (hundreds to a few thousand rows), so reading its
    vectors and taking a dot product is faster and simpler than maintaining a second ANN index."""
    if limit <= 0:
        return []
    dims = int(query_vector.shape[0])
    rows = _sized(await conn.execute(select(t.c.id, t.c.embedding)
                                     .where(*scope.where(), *extra, t.c.embedding.is_not(None))), dims)
    if not rows:
        return []
    similarity = _matrix(rows, dims) @ query_vector.astype(np.float32)
    order = np.argsort(-similarity, kind="stable")
    chosen = [rows[i].id for i in order[:limit]
              if max_distance is None or 1.0 - float(similarity[i]) <= max_distance]
    if not chosen:
        return []
    found = {r.id: to_conclusion(r, scope.workspace_name)
             for r in await conn.execute(select(*_COLUMNS).where(t.c.id.in_(chosen)))}
    return [found[pk] for pk in chosen if pk in found]


async def page_after(conn: AsyncConnection, after_pk: int, limit: int) -> list[tuple[int, str]]:
    """(pk, content) of conclusions after `after_pk`, in pk order (re-embedding walks the table with it)."""
    query = select(t.c.id, t.c.content).where(t.c.id > after_pk).order_by(t.c.id).limit(limit)
    return [(r.id, r.content) for r in await conn.execute(query)]


async def set_embeddings(conn: AsyncConnection, rows: Sequence[tuple[int, bytes]]) -> None:
    if rows:
        stmt = update(t).where(t.c.id == bindparam("pk")).values(embedding=bindparam("blob"))
        await conn.execute(stmt, [{"pk": pk, "blob": blob} for pk, blob in rows])


async def supersede(conn: AsyncConnection, pks: Sequence[int], by_uid: str, now: datetime) -> None:
    """Retire conclusions in favour of `by_uid`: kept as history, out of current reads."""
    if pks:
        await conn.execute(update(t).where(t.c.id.in_(list(pks)), CURRENT).values(superseded_by=by_uid,
                                                                                   superseded_at=now))


async def fold_in(conn: AsyncConnection, pk: int, duplicate_pks: Sequence[int], content: str | None = None,
                  embedding: bytes | None = None) -> None:
    """Give a kept conclusion the count and sources of the duplicates merged into it (and a new wording), as
    stored now: a derivation that reinforced one of them since it was read is not lost."""
    rows = {r.id: r for r in await conn.execute(select(t.c.id, t.c.times_derived, t.c.message_ids)
                                                 .where(t.c.id.in_([pk, *duplicate_pks])))}
    merged = [rows[i] for i in [pk, *duplicate_pks] if i in rows]
    sources = list(dict.fromkeys(m for r in merged for m in r.message_ids or []))
    values: dict[str, Any] = {"times_derived": sum(r.times_derived for r in merged), "message_ids": sources or None}
    if content is not None:
        values.update(content=content, fingerprint=fingerprint(content), embedding=embedding)
    await conn.execute(update(t).where(t.c.id == pk).values(**values))


async def count_explicit_since(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int,
                               since: datetime | None) -> int:
    """Current explicit conclusions of a collection recorded after `since` (all when None)."""
    query = select(func.count()).select_from(t).where(t.c.generation_id == generation_pk,
                                                      t.c.observer_id == observer_pk,
                                                      t.c.observed_id == observed_pk, t.c.level == "explicit", CURRENT)
    if since is not None:
        query = query.where(t.c.created_at > since)
    return int((await conn.execute(query)).scalar_one())


async def exact_twins_any_level(conn: AsyncConnection, generation_pk: int, observer_pk: int, observed_pk: int,
                                fingerprints: Sequence[str]) -> set[str]:
    """Which of `fingerprints` a current conclusion of the collection already has (any level, any session)."""
    if not fingerprints:
        return set()
    query = select(t.c.fingerprint).where(t.c.generation_id == generation_pk, t.c.observer_id == observer_pk,
                                          t.c.observed_id == observed_pk, CURRENT,
                                          t.c.fingerprint.in_(sorted(set(fingerprints))))
    return set((await conn.execute(query)).scalars())


async def lock_current(conn: AsyncConnection, pks: Sequence[int]) -> set[int]:
    """Those of `pks` still current, share-locked until commit (a concurrent delete waits, so a new conclusion
    never cites a premise that vanished meanwhile; SQLite's single writer already serialises)."""
    if not pks:
        return set()
    query = select(t.c.id).where(t.c.id.in_(sorted(set(pks))), CURRENT).with_for_update(read=True)
    return set((await conn.execute(query)).scalars())
