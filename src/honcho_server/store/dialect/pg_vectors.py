"""Message vectors on PostgreSQL (pgvector >= 0.6): bucket-partitioned table, HNSW per partition, exact when small.

Design and measurements: docs/search.md, "Vector search design".

pgvector before 0.8 has no iterative index scans: a filtered HNSW query looks at `ef_search` candidates only and
then filters them, so it under-returns whenever the filter keeps a small share of the index. Hence:

* `message_embeddings` is LIST-partitioned on `bucket = workspace_id % 16`, one HNSW index per partition, so a
  workspace is ~16x a larger share of the index its queries read; btree (workspace_id, session_id / peer_id,
  created_at / created_at) indexes serve counts and the exact path (a peer and a time range together use one).
* Each query first runs one bounded count per filter group (`<= EXACT_MAX + 1` btree entries each; counting the
  filters together made the planner AND two full bitmaps). The smallest is an upper bound of the rows in scope.
  Up to EXACT_MAX rows: an exact scan driven by that filter's index. Otherwise HNSW in the workspace's partition
  with ef 100, post-filtered; if that returns fewer than k rows, one retry with ef sized from the observed pass
  rate (at most 1000), then the exact scan. So a filter never makes an answer short. (Skipping the retry when the
  first pass found none was tried: at 1M messages a peer's search then took the exact scan twice as often and
  doubled its median; a pass rate seen at ef 100 says little about ef 1000's.)
* The query shapes fix the path; the planner never chooses it. SQLAlchemy's asyncpg dialect caches prepared
  statements and PostgreSQL switches them to generic plans after five runs; the plain filtered
  `ORDER BY embedding <=> q LIMIT k` then flipped to the HNSW index and returned ~1 row of 10. The exact path
  orders by `(embedding <=> q) + 0` (no index can serve it) and writes all but the driving filter with `+ 0`;
  the HNSW path's inner query has no WHERE at all.
* The query vector is a scalar subquery, evaluated once (a plain cast cost 10 ms instead of 1.7 ms under cached
  plans), and the partition is named directly (through the parent, a generic plan kept `bucket = $n` as a row
  filter and counts took 11 ms instead of ~1 ms).
* pgvector's HNSW indexes at most 2000 dimensions: above that no HNSW index is made and every query takes the
  exact path (correct, but it reads every row in scope; fine for small workspaces only).

Deletes cascade from `messages` through the foreign key. A bulk (re-)load is fastest with `with_index=False`
followed by `build_vector_index` (HNSW inserts cost ~6 ms each into a large index).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect.base import VECTOR_TABLE, VectorScope, unit_rows, unit_vector, utc

T = VECTOR_TABLE
BUCKETS = 16
HNSW_MAX_DIMS = 2000
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
EXACT_MAX = 5_000
EF_FIRST, EF_MAX = 100, 1000
BATCH = 500  # rows per INSERT statement when storing


def partition(workspace_id: int) -> str:
    """The workspace's partition (computed from an int, so safe to inline)."""
    return f"{T}_{int(workspace_id) % BUCKETS}"


_HNSW = (f"CREATE INDEX IF NOT EXISTS ix_{T}_hnsw ON {T} USING hnsw (embedding vector_cosine_ops) "
         f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")


def _ddl(dimensions: int, with_index: bool) -> list[str]:
    stmts = [
        f"CREATE TABLE IF NOT EXISTS {T} ("
        "message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE, "
        "bucket smallint NOT NULL, "
        "workspace_id bigint NOT NULL, "
        "session_id bigint NOT NULL, "
        "peer_id bigint NOT NULL, "
        "created_at timestamptz NOT NULL, "
        f"embedding vector({dimensions}) NOT NULL, "
        f"CONSTRAINT pk_{T} PRIMARY KEY (message_id, bucket)) PARTITION BY LIST (bucket)",
    ]
    stmts += [f"CREATE TABLE IF NOT EXISTS {T}_{b} PARTITION OF {T} FOR VALUES IN ({b})" for b in range(BUCKETS)]
    stmts.append(f"CREATE INDEX IF NOT EXISTS ix_{T}_ws_session ON {T} (workspace_id, session_id)")
    # A peer's rows by time: serves the peer filter alone and, with a time range, their intersection (a peer's
    # last weeks), so the exact path reads only the rows in scope. It replaces (workspace_id, peer_id).
    stmts.append(f"CREATE INDEX IF NOT EXISTS ix_{T}_ws_peer_created ON {T} (workspace_id, peer_id, created_at)")
    stmts.append(f"DROP INDEX IF EXISTS ix_{T}_ws_peer")
    stmts.append(f"CREATE INDEX IF NOT EXISTS ix_{T}_ws_created ON {T} (workspace_id, created_at)")
    if with_index and dimensions <= HNSW_MAX_DIMS:
        stmts.append(_HNSW)
    return stmts


async def dimensions(conn: AsyncConnection) -> int | None:
    sql = text("SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass(CAST(:name AS text)) "
               "AND attname = 'embedding' AND NOT attisdropped")
    return (await conn.execute(sql, {"name": T})).scalar()


async def lock_setup(conn: AsyncConnection) -> None:
    """A transaction-scoped advisory lock (re-entrant within the session) on vector set-up."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(CAST(:name AS text)))"), {"name": T})


async def create(conn: AsyncConnection, dims: int, with_index: bool) -> None:
    if dims <= 0:
        raise ValueError("dimensions must be positive")
    await lock_setup(conn)  # server and worker processes may start together; IF NOT EXISTS alone races
    await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    existing = await dimensions(conn)
    if existing is not None and existing != dims:
        raise ValueError(f"{T} exists with {existing} dimensions, not {dims}; drop it first")
    for statement in _ddl(dims, with_index):
        await conn.execute(text(statement))


async def build_index(conn: AsyncConnection) -> None:
    dims = await dimensions(conn)
    if dims is not None and dims <= HNSW_MAX_DIMS:
        await conn.execute(text(_HNSW))


async def drop(conn: AsyncConnection) -> None:
    await conn.execute(text(f"DROP TABLE IF EXISTS {T}"))  # its partitions and indexes go with it


# Tenant columns and bucket come from the message row, so they can never disagree with it (replacing a vector
# refreshes them too), and a message that is gone is skipped by the join. The vectors travel as one flat float4
# array sliced per row: no text formatting, one statement per BATCH rows.
def _insert(dims: int) -> Any:
    return text(
        f"INSERT INTO {T} (message_id, bucket, workspace_id, session_id, peer_id, created_at, embedding) "
        f"SELECT m.id, m.workspace_id % {BUCKETS}, m.workspace_id, m.session_id, m.peer_id, m.created_at, "
        f"CAST(v.flat[(u.o - 1) * {dims} + 1 : u.o * {dims}] AS vector) "
        "FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS u(id, o) "
        "JOIN messages m ON m.id = u.id "
        "CROSS JOIN (SELECT CAST(:flat AS real[]) AS flat) v "
        "ON CONFLICT (message_id, bucket) DO UPDATE SET embedding = EXCLUDED.embedding, "
        "session_id = EXCLUDED.session_id, peer_id = EXCLUDED.peer_id, created_at = EXCLUDED.created_at")


async def store(conn: AsyncConnection, rows: Sequence[tuple[int, Any]]) -> int:
    if not rows:
        return 0
    # Last one wins when a batch names a message twice (one statement cannot update a row twice).
    latest = dict(zip((int(pk) for pk, _ in rows), range(len(rows)), strict=True))
    ids = list(latest)
    matrix = unit_rows([rows[i][1] for i in latest.values()])
    sql = _insert(matrix.shape[1])
    stored = 0
    for start in range(0, len(ids), BATCH):
        flat = matrix[start:start + BATCH].ravel().tolist()
        result = await conn.execute(sql, {"ids": ids[start:start + BATCH], "flat": flat})
        stored += max(result.rowcount, 0)
    return stored


# --------------------------------------------------------------------------------------------- search
_Q = "(SELECT CAST(CAST(:q AS real[]) AS vector))"  # an InitPlan, evaluated once per execution

# Filter groups, each served by one btree: (indexed form, same test no index can serve).
_GROUPS: dict[str, tuple[str, str]] = {
    "session": (" AND session_id = ANY(:session_ids)", " AND session_id + 0 = ANY(:session_ids)"),
    "peer": (" AND peer_id = ANY(:peer_ids)", " AND peer_id + 0 = ANY(:peer_ids)"),
}
_FROM = (" AND created_at >= :created_from", " AND created_at + interval '0 s' >= :created_from")
_BEFORE = (" AND created_at < :created_before", " AND created_at + interval '0 s' < :created_before")


def _filters(scope: VectorScope) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    """The scope's filter groups (name -> (indexed SQL, unindexable SQL)) and their parameters."""
    groups: dict[str, tuple[str, str]] = {}
    params: dict[str, Any] = {"workspace_id": scope.workspace_id}
    if scope.session_ids is not None:
        groups["session"] = _GROUPS["session"]
        params["session_ids"] = [int(s) for s in scope.session_ids]
    if scope.peer_ids is not None:
        groups["peer"] = _GROUPS["peer"]
        params["peer_ids"] = [int(p) for p in scope.peer_ids]
    time_terms = []
    if scope.created_from is not None:
        time_terms.append(_FROM)
        params["created_from"] = utc(scope.created_from)
    if scope.created_before is not None:
        time_terms.append(_BEFORE)
        params["created_before"] = utc(scope.created_before)
    if time_terms:  # one range on one btree
        groups["created"] = ("".join(t[0] for t in time_terms), "".join(t[1] for t in time_terms))
        if "peer" in groups:  # both on the (workspace, peer, created) btree: first, so that it wins a tie
            both = (groups["peer"][0] + groups["created"][0], groups["peer"][1] + groups["created"][1])
            groups = {"peer_created": both, **groups}
    return groups, params


def _where(groups: dict[str, tuple[str, str]], drive: str | None) -> str:
    return "".join(forms[0] if name == drive else forms[1] for name, forms in groups.items())


async def _bounded_counts(conn: AsyncConnection, part: str, groups: dict[str, tuple[str, str]],
                          params: dict[str, Any]) -> tuple[int, str | None]:
    """(upper bound of the rows in scope, capped at EXACT_MAX + 1; the filter group that gives it)."""
    names: list[str | None] = list(groups) or [None]
    counts = ", ".join(
        f"(SELECT count(*) FROM (SELECT 1 FROM {part} WHERE workspace_id = :workspace_id"
        f"{groups[name][0] if name else ''} LIMIT {EXACT_MAX + 1}) s)"
        for name in names)
    row = (await conn.execute(text(f"SELECT {counts}"), params)).one()
    n, drive = min(zip(row, names, strict=True), key=lambda c: c[0])
    return int(n), drive


async def _exact(conn: AsyncConnection, part: str, groups: dict[str, tuple[str, str]], drive: str | None,
                 params: dict[str, Any]) -> list[Any]:
    sql = (f"SELECT message_id, embedding <=> {_Q} AS distance FROM {part} "
           f"WHERE workspace_id = :workspace_id{_where(groups, drive)} "
           f"ORDER BY (embedding <=> {_Q}) + 0, message_id LIMIT :k")
    return list(await conn.execute(text(sql), params))


async def _set_ef(conn: AsyncConnection, ef: int | None) -> None:
    """Set `hnsw.ef_search` for this transaction, or, on an autocommit connection (Database.read()), for the
    session until `_set_ef(conn, None)` resets it."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    local = bool(driver is not None and driver.is_in_transaction())
    if ef is None:
        if not local:
            await conn.execute(text("RESET hnsw.ef_search"))
        return
    await conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, :local)"), {"ef": str(ef), "local": local})


async def _hnsw(conn: AsyncConnection, part: str, groups: dict[str, tuple[str, str]], params: dict[str, Any],
                k: int) -> list[Any]:
    """HNSW in the partition, post-filtered; one retry with a larger ef when the filter left fewer than k."""
    sql = text(f"SELECT message_id, distance FROM (SELECT message_id, workspace_id, session_id, peer_id, "
               f"created_at, embedding <=> {_Q} AS distance FROM {part} ORDER BY distance LIMIT :ef) c "
               f"WHERE workspace_id = :workspace_id{_where(groups, None)} ORDER BY distance, message_id LIMIT :k")
    ef = max(EF_FIRST, k)
    rows: list[Any] = []
    try:
        for _attempt in range(2):
            await _set_ef(conn, ef)
            rows = list(await conn.execute(sql, {**params, "ef": ef}))
            if len(rows) >= k or ef >= EF_MAX:
                break
            pass_rate = max(len(rows), 0.5) / ef
            ef = min(EF_MAX, max(2 * ef, math.ceil(2 * k / pass_rate)))
    finally:
        await _set_ef(conn, None)
    return rows


async def nearest(conn: AsyncConnection, query: Any, k: int, scope: VectorScope) -> list[tuple[int, float]]:
    q = unit_vector(query)
    part = partition(scope.workspace_id)
    groups, params = _filters(scope)
    params.update(q=q.tolist(), k=k)
    drive: str | None
    if scope.max_rows is not None and scope.max_rows <= EXACT_MAX:  # the sessions' counters say: small
        n, drive = scope.max_rows, "session"
    else:
        n, drive = await _bounded_counts(conn, part, groups, params)
    rows: list[Any] = []
    if n > EXACT_MAX and len(q) <= HNSW_MAX_DIMS and k <= EF_MAX:
        rows = await _hnsw(conn, part, groups, params, k)
    if len(rows) < min(k, n):
        # Small scope, no HNSW possible, or the filter keeps too small a share of the partition for
        # post-filtering (docs/search.md, "Known limit"): exact, correct, costs ~1.6 µs per row in scope.
        rows = await _exact(conn, part, groups, drive, params)
    return [(int(pk), 1.0 - float(distance)) for pk, distance in rows]


async def vectors(conn: AsyncConnection, workspace_id: int, message_ids: Sequence[int]) -> dict[int, np.ndarray]:
    ids = sorted({int(i) for i in message_ids})
    if not ids:
        return {}
    sql = text(f"SELECT message_id, CAST(embedding AS real[]) FROM {partition(workspace_id)} "
               "WHERE workspace_id = :workspace_id AND message_id = ANY(:ids)")
    found = await conn.execute(sql, {"workspace_id": workspace_id, "ids": ids})
    return {int(pk): np.asarray(v, dtype=np.float32) for pk, v in found}


async def similarities(conn: AsyncConnection, workspace_id: int, query: Any,
                       message_ids: Sequence[int]) -> dict[int, float]:
    ids = sorted({int(i) for i in message_ids})
    if not ids:
        return {}
    sql = text(f"SELECT message_id, 1 - (embedding <=> {_Q}) FROM {partition(workspace_id)} "
               "WHERE workspace_id = :workspace_id AND message_id = ANY(:ids)")
    found = await conn.execute(sql, {"q": unit_vector(query).tolist(), "workspace_id": workspace_id, "ids": ids})
    return {int(pk): float(sim) for pk, sim in found}


async def count(conn: AsyncConnection, workspace_id: int | None) -> int:
    if await dimensions(conn) is None:
        return 0
    if workspace_id is None:
        return int((await conn.execute(text(f"SELECT count(*) FROM {T}"))).scalar_one())
    sql = text(f"SELECT count(*) FROM {partition(workspace_id)} WHERE workspace_id = :workspace_id")
    return int((await conn.execute(sql, {"workspace_id": workspace_id})).scalar_one())
