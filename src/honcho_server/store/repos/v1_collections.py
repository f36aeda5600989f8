"""v1 user collections and their documents: the app's own store of embedded texts, searched by exact cosine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.repos.common import MAX_OFFSET, paginate
from honcho_server.store.tables import peers
from honcho_server.store.tables import v1_collections as c
from honcho_server.store.tables import v1_documents as d

COLLECTION_FIELDS = {"metadata": Field(c.c.metadata, "json")}  # v1 filters reach metadata (docs/v1-api.md §3.10)
DOCUMENT_FIELDS = {"metadata": Field(d.c.metadata, "json"), "content": Field(d.c.content, "text")}


@dataclass(slots=True)
class Collection:
    pk: int
    uid: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class Document:
    pk: int
    uid: str
    collection_uid: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime


def _to_collection(row: Any) -> Collection:
    return Collection(pk=row.id, uid=row.uid, name=row.name, metadata=row.metadata or {}, created_at=row.created_at)


async def lock_owner(conn: AsyncConnection, peer_pk: int) -> None:
    """Serialise writes that check a user's collection names (PostgreSQL row lock; SQLite has one writer)."""
    await conn.execute(select(peers.c.id).where(peers.c.id == peer_pk).with_for_update())


async def find(conn: AsyncConnection, peer_pk: int, uid: str) -> Collection | None:
    row = (await conn.execute(select(c).where(c.c.peer_id == peer_pk, c.c.uid == uid))).first()
    return _to_collection(row) if row else None


async def find_by_name(conn: AsyncConnection, peer_pk: int, name: str) -> Collection | None:
    row = (await conn.execute(select(c).where(c.c.peer_id == peer_pk, c.c.name == name))).first()
    return _to_collection(row) if row else None


async def insert(conn: AsyncConnection, workspace_pk: int, peer_pk: int, name: str, metadata: dict[str, Any],
                 now: datetime) -> Collection:
    uid = new_id()
    await conn.execute(c.insert().values(uid=uid, workspace_id=workspace_pk, peer_id=peer_pk, name=name,
                                         metadata=metadata, created_at=now))
    found = await find(conn, peer_pk, uid)
    assert found is not None  # just inserted in this transaction
    return found


async def update_fields(conn: AsyncConnection, pk: int, **values: Any) -> None:
    if values:
        await conn.execute(update(c).where(c.c.id == pk).values(**values))


async def delete_collection(conn: AsyncConnection, pk: int) -> None:
    """The collection and (by foreign key) its documents."""
    await conn.execute(delete(c).where(c.c.id == pk))


def collection_condition(dialect: Dialect, filters: dict[str, Any] | None) -> ColumnElement[bool] | None:
    return compile_filter(filters, COLLECTION_FIELDS, dialect, resource="Collection")


async def collection_rows(conn: AsyncConnection, dialect: Dialect, peer_pk: int, filters: dict[str, Any] | None,
                          offset: int, limit: int, reverse: bool) -> tuple[list[Collection], int]:
    """A slice of a user's stored collections (oldest first unless `reverse`) and how many there are in all: the
    caller places the reserved collection around them."""
    query = select(c).where(c.c.peer_id == peer_pk)
    where = collection_condition(dialect, filters)
    if where is not None:
        query = query.where(where)
    total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    if limit <= 0 or offset > MAX_OFFSET or offset >= total:
        return [], total
    order = [c.c.created_at.desc(), c.c.id.desc()] if reverse else [c.c.created_at, c.c.id]
    rows = await conn.execute(query.order_by(*order).limit(limit).offset(offset))
    return [_to_collection(r) for r in rows], total


# ---------------------------------------------------------------------------------------------------- documents

_DOC_COLUMNS = (d.c.id, d.c.uid, d.c.content, d.c.metadata, d.c.created_at,
                select(c.c.uid).where(c.c.id == d.c.collection_id).scalar_subquery().label("collection_uid"))


def _to_document(row: Any) -> Document:
    return Document(pk=row.id, uid=row.uid, collection_uid=row.collection_uid, content=row.content,
                    metadata=row.metadata or {}, created_at=row.created_at)


async def insert_document(conn: AsyncConnection, workspace_pk: int, collection_pk: int, content: str,
                          metadata: dict[str, Any], embedding: bytes | None, now: datetime) -> Document:
    uid = new_id()
    await conn.execute(d.insert().values(uid=uid, workspace_id=workspace_pk, collection_id=collection_pk,
                                         content=content, metadata=metadata, embedding=embedding, created_at=now))
    found = await find_document(conn, collection_pk, uid)
    assert found is not None  # just inserted in this transaction
    return found


async def find_document(conn: AsyncConnection, collection_pk: int, uid: str) -> Document | None:
    row = (await conn.execute(select(*_DOC_COLUMNS).where(d.c.collection_id == collection_pk,
                                                          d.c.uid == uid))).first()
    return _to_document(row) if row else None


async def update_document(conn: AsyncConnection, pk: int, **values: Any) -> None:
    if values:
        await conn.execute(update(d).where(d.c.id == pk).values(**values))


async def delete_document(conn: AsyncConnection, pk: int) -> None:
    await conn.execute(delete(d).where(d.c.id == pk))


def document_condition(dialect: Dialect, filters: dict[str, Any] | None) -> ColumnElement[bool] | None:
    return compile_filter(filters, DOCUMENT_FIELDS, dialect, resource="Document")


async def list_documents(conn: AsyncConnection, dialect: Dialect, collection_pk: int, filters: dict[str, Any] | None,
                         page: int, size: int, reverse: bool) -> Page[Document]:
    """Oldest first (`reverse`: newest first)."""
    query = select(*_DOC_COLUMNS).where(d.c.collection_id == collection_pk)
    where = document_condition(dialect, filters)
    if where is not None:
        query = query.where(where)
    order = [d.c.created_at.desc(), d.c.id.desc()] if reverse else [d.c.created_at, d.c.id]
    return await paginate(conn, query, order, page, size, _to_document)


async def nearest(conn: AsyncConnection, collection_pk: int, vector: np.ndarray, limit: int,
                  where: ColumnElement[bool] | None) -> list[Document]:
    """The `limit` documents closest to `vector` (unit length) by cosine, most similar first.

    Exact, as for conclusions (store/repos/conclusions.nearest): a user's collection is small enough that a dot
    product over its stored vectors beats keeping an ANN index. Vectors of another size (from an embedder used
    before a model change, until `reembed`) are skipped."""
    dims = int(vector.shape[0])
    query = select(d.c.id, d.c.embedding).where(d.c.collection_id == collection_pk, d.c.embedding.is_not(None))
    if where is not None:
        query = query.where(where)
    rows = [r for r in await conn.execute(query) if len(r.embedding) == dims * 4]
    if not rows or limit <= 0:
        return []
    matrix = np.frombuffer(b"".join(r.embedding for r in rows), dtype="<f4").reshape(len(rows), dims)
    order = np.argsort(-(matrix @ vector.astype(np.float32)), kind="stable")[:limit]
    chosen = [rows[i].id for i in order]
    found = {r.id: _to_document(r) for r in await conn.execute(select(*_DOC_COLUMNS).where(d.c.id.in_(chosen)))}
    return [found[pk] for pk in chosen if pk in found]


async def recent(conn: AsyncConnection, collection_pk: int, limit: int,
                 where: Sequence[ColumnElement[bool]]) -> list[Document]:
    """Newest first: the answer by words when no query vector can be had."""
    query = (select(*_DOC_COLUMNS).where(d.c.collection_id == collection_pk, *where)
             .order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit))
    return [_to_document(r) for r in await conn.execute(query)]


async def page_after(conn: AsyncConnection, after_pk: int, limit: int) -> list[tuple[int, str]]:
    """(pk, content) of documents after `after_pk`, in pk order (re-embedding walks the table with it)."""
    query = select(d.c.id, d.c.content).where(d.c.id > after_pk).order_by(d.c.id).limit(limit)
    return [(r.id, r.content) for r in await conn.execute(query)]


async def set_embeddings(conn: AsyncConnection, rows: Sequence[tuple[int, bytes]]) -> None:
    if rows:
        stmt = update(d).where(d.c.id == bindparam("pk")).values(embedding=bindparam("blob"))
        await conn.execute(stmt, [{"pk": pk, "blob": blob} for pk, blob in rows])
