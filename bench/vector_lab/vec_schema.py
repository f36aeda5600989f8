"""The proposed message-embedding schema and queries, for both databases (see NOTES.md for the reasoning).

The dimension is only known at runtime (it comes from the embedder), so these tables are created by code
with the dimension baked in, not by the static Alembic metadata; drift checks must skip them the way they
skip `messages_fts`.
"""

from __future__ import annotations

TABLE = "message_embeddings"


# --------------------------------------------------------------------------------------------- SQLite
def sqlite_vec_ddl(dim: int, *, chunk_size: int | None = None, table: str = TABLE,
                   with_trigger: bool = True) -> list[str]:
    """vec0 table: rowid = messages.id, partitioned by workspace, filterable by session/peer/time.

    * `workspace_id ... partition key`: each workspace gets its own chunks, a KNN with `workspace_id = ?`
      reads only that workspace's vectors (never another tenant's).
    * session_id / peer_id / created_at are metadata columns: allowed in the KNN WHERE clause and
      checked while scanning, before the top-k is kept (true filtered KNN, never under-returns).
    * created_at is microseconds since the Unix epoch (UTC) as an integer: text metadata longer than
      12 bytes is stored out of line and is slow to compare.
    * cosine distance (1 - cos); embeddings are unit length anyway.
    """
    opts = f", chunk_size={chunk_size}" if chunk_size else ""
    stmts = [
        f"CREATE VIRTUAL TABLE {table} USING vec0("
        "message_id INTEGER PRIMARY KEY, "
        "workspace_id INTEGER PARTITION KEY, "
        "session_id INTEGER, "
        "peer_id INTEGER, "
        "created_at INTEGER, "
        f"embedding FLOAT[{dim}] distance_metric=cosine{opts})",
    ]
    if with_trigger:
        # Virtual tables cannot take part in foreign keys; this trigger also fires for the rows removed by
        # ON DELETE CASCADE from sessions/peers/workspaces (SQLite runs triggers for FK actions).
        stmts.append(
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON messages BEGIN "
            f"DELETE FROM {table} WHERE message_id = old.id; END")
    return stmts


# Store (or replace) one message's embedding; the tenant columns are copied from the message row itself,
# so they can never disagree with it, and nothing is stored if the message was deleted meanwhile.
# vec0 has no INSERT OR REPLACE / upsert, hence delete + insert in the same transaction.
# messages.created_at is SQLAlchemy's SQLite text form 'YYYY-MM-DD HH:MM:SS.ffffff' (always 6 digits).
SQLITE_CREATED_US = ("(CAST(strftime('%s', created_at) AS INTEGER) * 1000000 "
                     "+ CAST(substr(created_at, 21, 6) AS INTEGER))")
SQLITE_UPSERT = [
    f"DELETE FROM {TABLE} WHERE message_id = :message_id",
    f"INSERT INTO {TABLE}(message_id, workspace_id, session_id, peer_id, created_at, embedding) "
    f"SELECT id, workspace_id, session_id, peer_id, {SQLITE_CREATED_US}, :embedding "
    "FROM messages WHERE id = :message_id",
]

# Filtered KNN. `k = :k` (or LIMIT) is required. Optional filters are plain AND terms on metadata columns:
#   AND session_id = :session_id   AND session_id IN (...)   AND peer_id = :peer_id
#   AND created_at >= :after_us    AND created_at < :before_us
# Never put IN (...) on workspace_id (the partition key): SQLite then runs one KNN per value and returns
# up to k rows per value, unsorted; query one workspace per statement.
SQLITE_KNN = (f"SELECT message_id, distance FROM {TABLE} "
              "WHERE embedding MATCH :query AND k = :k AND workspace_id = :workspace_id{filters} "
              "ORDER BY distance")


# --------------------------------------------------------------------------------------------- PostgreSQL
BUCKETS = 16


def pg_ddl(dim: int, *, table: str = TABLE, buckets: int = BUCKETS, m: int = 16,
           ef_construction: int = 64) -> list[str]:
    """A side table keyed by message id, LIST-partitioned on bucket = workspace_id % buckets.

    * FK with ON DELETE CASCADE: deleting a message (or its session / peer / workspace, which cascade to
      messages) deletes its embedding. The PK leads with message_id, so the cascade's lookup is an index
      probe per partition.
    * One HNSW index per partition (created through the parent). A query reads its workspace's partition,
      where the workspace is ~`buckets` times a larger share of the rows than in the whole table, so
      pgvector 0.6's post-filtering keeps enough candidates (measured in NOTES.md).
    * btree (workspace_id, x) indexes: bounded counts and the exact path for small filtered sets.
    """
    stmts = [
        f"CREATE TABLE {table} ("
        "message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE, "
        "bucket smallint NOT NULL, "
        "workspace_id bigint NOT NULL, "
        "session_id bigint NOT NULL, "
        "peer_id bigint NOT NULL, "
        "created_at timestamptz NOT NULL, "
        f"embedding vector({dim}) NOT NULL, "
        f"PRIMARY KEY (message_id, bucket)) PARTITION BY LIST (bucket)",
    ]
    stmts += [f"CREATE TABLE {table}_{b} PARTITION OF {table} FOR VALUES IN ({b})" for b in range(buckets)]
    stmts += [
        f"CREATE INDEX ix_{table}_ws_session ON {table} (workspace_id, session_id)",
        f"CREATE INDEX ix_{table}_ws_peer ON {table} (workspace_id, peer_id)",
        f"CREATE INDEX ix_{table}_ws_created ON {table} (workspace_id, created_at)",
        f"CREATE INDEX ix_{table}_hnsw ON {table} USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {m}, ef_construction = {ef_construction})",
    ]
    return stmts


# Statements below are SQLAlchemy `text()` with named parameters. The query vector travels as pgvector's
# text form '[0.1,0.2,...]' (CAST(:q AS text) makes asyncpg send it as text; a binary codec registered
# on each connection would save ~60% of the bytes, not needed for the latency targets). In queries it is
# wrapped in a scalar subquery, an InitPlan evaluated once per execution: written as a plain cast, the
# prepared statement (SQLAlchemy's asyncpg dialect prepares and caches every statement) measured 10 ms
# instead of 1.7 ms for the same HNSW scan.
PG_VEC = "(SELECT CAST(CAST(:{name} AS text) AS vector))"
PG_VEC_VALUE = "CAST(CAST(:{name} AS text) AS vector)"

# Store or replace one message's embedding; tenant columns and bucket come from the message row, nothing is
# stored when the message is gone.
PG_UPSERT = (
    f"INSERT INTO {TABLE}(message_id, bucket, workspace_id, session_id, peer_id, created_at, embedding) "
    f"SELECT id, workspace_id % {BUCKETS}, workspace_id, session_id, peer_id, created_at, "
    f"{PG_VEC_VALUE.format(name='embedding')} FROM messages WHERE id = :message_id "
    "ON CONFLICT (message_id, bucket) DO UPDATE SET embedding = EXCLUDED.embedding"
)

# Optional filters, as AND terms. The second form of each is the same test written so that no index can
# serve it (`+ 0`): the exact query uses it for every filter except the one that drives the scan.
PG_FILTERS = {
    "session_ids": (" AND session_id = ANY(:session_ids)", " AND session_id + 0 = ANY(:session_ids)"),
    "peer_id": (" AND peer_id = :peer_id", " AND peer_id + 0 = :peer_id"),
    "after": (" AND created_at >= :after", " AND created_at + interval '0 s' >= :after"),
    "before": (" AND created_at < :before", " AND created_at + interval '0 s' < :before"),
}

# Queries read the workspace's partition directly: FROM message_embeddings_<workspace_id % BUCKETS> (the
# number is computed in Python from an integer, so inlining it is safe). Going through the parent with
# `bucket = :bucket` instead leaves `bucket = $n` as a row filter in the cached generic plans that
# SQLAlchemy's asyncpg dialect uses: the bounded count then visits the heap for every entry (measured
# 11 ms instead of ~1 ms per count).
def partition(workspace_id: int) -> str:
    return f"{TABLE}_{workspace_id % BUCKETS}"


# Step 1: how many rows can pass? One bounded count per indexed filter (all in one statement; each reads at
# most EXACT_MAX + 1 entries of one btree, index-only when the visibility map is current), the smallest
# is an upper bound of the filtered set. Counting all filters at once instead lets the planner AND two
# full bitmaps (measured: 125 ms on a 1M-row workspace), which is why each filter is counted alone.
EXACT_MAX = 5_000
PG_COUNT_ONE = ("(SELECT count(*) FROM (SELECT 1 FROM {part} WHERE workspace_id = :workspace_id{filter} "
                f"LIMIT {EXACT_MAX + 1}) s)")

# Step 2a (upper bound <= EXACT_MAX): exact KNN over the filtered rows. `(embedding <=> q) + 0` keeps the
# HNSW index out; {filters} = the driving filter in its indexed form, the others in their `+ 0` form.
PG_KNN_EXACT = (
    f"SELECT message_id, embedding <=> {PG_VEC.format(name='q')} AS distance FROM {{part}} "
    "WHERE workspace_id = :workspace_id{filters} "
    f"ORDER BY (embedding <=> {PG_VEC.format(name='q')}) + 0 LIMIT :k")

# Step 2b (larger): HNSW inside the workspace's partition. Run `SELECT set_config('hnsw.ef_search', :ef,
# true)` first in the same transaction: pgvector < 0.8 yields at most ef_search candidates and the outer
# WHERE filters them, so the inner LIMIT :ef (= ef_search) must exceed k / (share of the partition passing
# the filter). The inner query has no tenant WHERE, so its plan is always the HNSW index scan whatever
# the statistics or a cached generic plan say.
PG_KNN_HNSW = (
    f"SELECT message_id, distance FROM (SELECT message_id, workspace_id, session_id, peer_id, created_at, "
    f"embedding <=> {PG_VEC.format(name='q')} AS distance FROM {{part}} "
    "ORDER BY distance LIMIT :ef) c "
    "WHERE workspace_id = :workspace_id{filters} ORDER BY distance LIMIT :k")

# With pgvector >= 0.8 (not what pgserver bundles; untested here) the filter can go inside the scan:
#   SET LOCAL hnsw.iterative_scan = relaxed_order;  (and hnsw.ef_search, hnsw.max_scan_tuples)
PG_KNN_ITERATIVE = (
    f"SELECT * FROM (SELECT message_id, embedding <=> {PG_VEC.format(name='q')} AS distance FROM {{part}} "
    "WHERE workspace_id = :workspace_id{filters} ORDER BY distance LIMIT :k) c "
    "ORDER BY distance")
