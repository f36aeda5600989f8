"""Message vectors on SQLite: one sqlite-vec `vec0` table, partitioned by workspace, searched exactly.

Design and measurements: docs/search.md, "Vector search design".

* `workspace_id` is the vec0 PARTITION KEY: a query with `workspace_id = ?` reads only that workspace's chunks.
  Never query it with `IN (...)`: vec0 then runs one KNN per value and returns k unsorted rows for each.
* session_id / peer_id / created_at (integer µs since the epoch, UTC) are metadata columns. Plain comparisons
  and `IN (...)` on them are checked inside the scan, before the top k is kept, so a filter never makes the answer
  short. An *expression* on a column (`session_id + 0 = ?`) is applied after the top k: never write one.
* The search is an exact scan of the workspace (sqlite-vec 0.1.9 has no ANN index): ~5 ms per 10k vectors of
  dimension 384 with `PRAGMA mmap_size` at 1 GB, less with a filter.
* `chunk_size=64`: the default (1024) allocates ~1.6 MB per workspace up front.
* Virtual tables take no part in foreign keys, so an AFTER DELETE trigger on `messages` removes the vector; SQLite
  runs it for rows removed by ON DELETE CASCADE too (session, peer and workspace deletes).
  Caveat: with that trigger in place, a connection that has not loaded sqlite-vec (the `sqlite3` shell, or this
  server falling back to the stock driver) cannot delete messages ("no such module: vec0").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect.base import VECTOR_TABLE, VectorScope, check_k, epoch_us, unit_rows, unit_vector

T = VECTOR_TABLE
TRIGGER = f"{T}_delete"
CHUNK_SIZE = 64
# Rows per executemany call when storing (one statement compiled, executed once per row by SQLite: cheap).
BATCH = 500


def _ddl(dimensions: int) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {T} USING vec0("
        "message_id INTEGER PRIMARY KEY, "
        "workspace_id INTEGER PARTITION KEY, "
        "session_id INTEGER, "
        "peer_id INTEGER, "
        "created_at INTEGER, "
        f"embedding FLOAT[{dimensions}] distance_metric=cosine, chunk_size={CHUNK_SIZE})",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER DELETE ON messages BEGIN "
        f"DELETE FROM {T} WHERE message_id = old.id; END",
    ]


_DIMENSIONS = re.compile(r"embedding\s+FLOAT\[(\d+)\]", re.IGNORECASE)


async def dimensions(conn: AsyncConnection) -> int | None:
    sql = (await conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                              {"name": T})).scalar()
    if sql is None:
        return None
    match = _DIMENSIONS.search(sql)
    if match is None:
        raise RuntimeError(f"unexpected definition of {T}: {sql}")
    return int(match.group(1))


async def create(conn: AsyncConnection, dims: int) -> None:
    if dims <= 0:
        raise ValueError("dimensions must be positive")
    existing = await dimensions(conn)
    if existing is not None and existing != dims:
        raise ValueError(f"{T} exists with {existing} dimensions, not {dims}; drop it first")
    for statement in _ddl(dims):
        await conn.execute(text(statement))


async def drop(conn: AsyncConnection) -> None:
    # The trigger first: left behind, it would make every message delete fail.
    await conn.execute(text(f"DROP TRIGGER IF EXISTS {TRIGGER}"))
    await conn.execute(text(f"DROP TABLE IF EXISTS {T}"))  # vec0 drops its shadow tables with it


# messages.created_at is SQLAlchemy's SQLite text form 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC, 6 digits), turned
# into µs exactly (strftime('%s') floors to the second, so this is right before 1970 too).
_CREATED_US = ("(CAST(strftime('%s', created_at) AS INTEGER) * 1000000 "
               "+ CAST(substr(created_at, 21, 6) AS INTEGER))")
# vec0 has no upsert: delete, then insert from the message row (nothing is inserted when the message is gone).
_DELETE = text(f"DELETE FROM {T} WHERE message_id = :message_id")
_INSERT = text(f"INSERT INTO {T}(message_id, workspace_id, session_id, peer_id, created_at, embedding) "
               f"SELECT id, workspace_id, session_id, peer_id, {_CREATED_US}, :embedding "
               "FROM messages WHERE id = :message_id")


async def store(conn: AsyncConnection, rows: Sequence[tuple[int, Any]]) -> int:
    if not rows:
        return 0
    # Last one wins when a batch names a message twice (a second INSERT of one rowid would fail).
    latest = dict(zip((int(pk) for pk, _ in rows), range(len(rows)), strict=True))
    matrix = unit_rows([rows[i][1] for i in latest.values()])
    params = [{"message_id": pk, "embedding": matrix[j].astype("<f4", copy=False).tobytes()}
              for j, pk in enumerate(latest)]
    stored = 0
    for start in range(0, len(params), BATCH):
        chunk = params[start:start + BATCH]
        await conn.execute(_DELETE, [{"message_id": p["message_id"]} for p in chunk])
        result = await conn.execute(_INSERT, chunk)
        stored += max(result.rowcount, 0)
    return stored


async def nearest(conn: AsyncConnection, query: Any, k: int, scope: VectorScope) -> list[tuple[int, float]]:
    q = unit_vector(query)
    params: dict[str, Any] = {"q": q.astype("<f4", copy=False).tobytes(), "k": k,
                              "workspace_id": scope.workspace_id}
    binds: list[BindParameter[Any]] = []
    where = ""
    # Plain comparisons only (see the module docstring): vec0 checks them inside the scan.
    if scope.session_ids is not None:
        where += " AND session_id IN :session_ids"
        params["session_ids"] = [int(s) for s in scope.session_ids]
        binds.append(bindparam("session_ids", expanding=True))
    if scope.peer_ids is not None:
        where += " AND peer_id IN :peer_ids"
        params["peer_ids"] = [int(p) for p in scope.peer_ids]
        binds.append(bindparam("peer_ids", expanding=True))
    if scope.created_from is not None:
        where += " AND created_at >= :created_from"
        params["created_from"] = epoch_us(scope.created_from)
    if scope.created_before is not None:
        where += " AND created_at < :created_before"
        params["created_before"] = epoch_us(scope.created_before)
    sql = text(f"SELECT message_id, distance FROM {T} WHERE embedding MATCH :q AND k = :k "
               f"AND workspace_id = :workspace_id{where} ORDER BY distance").bindparams(*binds)
    return [(int(pk), 1.0 - float(distance)) for pk, distance in await conn.execute(sql, params)]


async def vectors(conn: AsyncConnection, workspace_id: int, message_ids: Sequence[int]) -> dict[int, np.ndarray]:
    ids = sorted({int(i) for i in message_ids})
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), BATCH):
        sql = text(f"SELECT message_id, workspace_id, embedding FROM {T} WHERE message_id IN :ids"
                   ).bindparams(bindparam("ids", expanding=True))
        for pk, ws, blob in await conn.execute(sql, {"ids": ids[start:start + BATCH]}):
            if ws == workspace_id:  # filtered here: a lookup by rowid is what vec0 serves fast
                found[int(pk)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    return found


async def similarities(conn: AsyncConnection, workspace_id: int, query: Any,
                       message_ids: Sequence[int]) -> dict[int, float]:
    # A KNN restricted to the ids: vec0 reads each chunk once and computes the distances itself (~2.5x faster
    # than reading the vectors out by id, which reads a whole chunk per row).
    ids = sorted({int(i) for i in message_ids})
    if not ids:
        return {}
    check_k(len(ids))
    sql = text(f"SELECT message_id, distance FROM {T} WHERE embedding MATCH :q AND k = :k "
               "AND workspace_id = :workspace_id AND message_id IN :ids").bindparams(bindparam("ids", expanding=True))
    params = {"q": unit_vector(query).astype("<f4", copy=False).tobytes(), "k": len(ids),
              "workspace_id": workspace_id, "ids": ids}
    return {int(pk): 1.0 - float(distance) for pk, distance in await conn.execute(sql, params)}


async def count(conn: AsyncConnection, workspace_id: int | None) -> int:
    if await dimensions(conn) is None:
        return 0
    if workspace_id is None:
        return int((await conn.execute(text(f"SELECT count(*) FROM {T}"))).scalar_one())
    # Through the messages index: vec0 answers `workspace_id = ?` outside a KNN by reading the partition's chunks
    # (27 ms for 10k vectors, against 4 ms this way).
    sql = text(f"SELECT count(*) FROM {T} WHERE message_id IN "
               "(SELECT id FROM messages WHERE workspace_id = :workspace_id)")
    return int((await conn.execute(sql, {"workspace_id": workspace_id})).scalar_one())
