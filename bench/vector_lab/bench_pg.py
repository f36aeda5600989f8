"""pgvector benchmark: bulk load, HNSW build, filtered KNN latency / recall / under-return.

    python bench/vector_lab/pg_lab_server.py start            # -> URL (default below)
    python bench/vector_lab/bench_pg.py load  --rows 1000000  --table emb1m
    python bench/vector_lab/bench_pg.py index --table emb1m
    python bench/vector_lab/bench_pg.py query --table emb1m [--only single|spread]
    python bench/vector_lab/bench_pg.py load  --rows 10000 --table emb10k && ... index / query --table emb10k

One table carries two tenant layouts over the same vectors (an HNSW graph depends only on the vectors,
so a single build serves both):
* "spread": 100 workspaces, row i in workspace i % 100 + 1 (10k rows each at 1M), sessions of 200;
* "single": every row in workspace 1 (one huge workspace), sessions of 200.
Peers: 4 per workspace; created_at one second apart in insertion order.

Query paths compared (k = 10):
* exact:  `WHERE <filters> ORDER BY (embedding <=> q) + 0 LIMIT k` (the `+ 0` keeps the HNSW index out, so
          PostgreSQL reads the filtered rows through a btree and sorts them; recall 1 by construction);
* hnsw:   `SET LOCAL hnsw.ef_search = ef` then `WHERE <filters> ORDER BY embedding <=> q LIMIT k` with the
          btree paths disabled, i.e. what pgvector 0.6 does: take the ef nearest of the whole table and drop
          the ones failing the filter (so it can return fewer than k rows: "under-return");
* planner: the plain filtered query, letting PostgreSQL choose (with a fresh custom plan each time);
* count:   the bounded count `SELECT count(*) FROM (SELECT 1 ... WHERE <filters> LIMIT 20001)` used to pick
           exact vs hnsw.
Ground truth comes from numpy over the saved vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import time
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import Vectors, recall, summary

URL = "postgresql://postgres@/postgres?host=/tmp/vlab-pg/data"
DB = "vlab"
K = 10
SESSION = 200
SPREAD_WS = 100
BASE = 1_700_000_000  # epoch seconds
EXACT_MAX = 20_000
NPY_DIR = Path(os.environ.get("VLAB_NPY_DIR", "/tmp/vl"))


def db_url(url: str, name: str) -> str:
    head, _, query = url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


async def connect(url: str, dim: int | None = None) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await conn.set_type_codec(
        "vector", schema="public", format="binary",
        # pgvector's binary form: int16 dim, int16 unused, then big-endian float4s.
        encoder=lambda v: struct.pack(">HH", len(v), 0) + np.asarray(v, dtype=">f4").tobytes(),
        decoder=lambda b: np.frombuffer(b, dtype=">f4", offset=4).astype(np.float32))
    return conn


# ------------------------------------------------------------------------------------------------ layout
def labels(i: np.ndarray) -> dict[str, np.ndarray]:
    """Tenant columns for 0-based row positions i (message_id = i + 1)."""
    o = i // SPREAD_WS
    return {
        "ws_spread": i % SPREAD_WS + 1,
        "session_spread": (i % SPREAD_WS + 1) * 100_000 + o // SESSION,
        "ws_single": np.ones_like(i),
        "session_single": i // SESSION + 1,
        "peer_id": o % 4 + 1,
        "created_s": BASE + i,
    }


# ------------------------------------------------------------------------------------------------ load
async def load(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(args.url)
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB):
        await admin.execute(f"CREATE DATABASE {DB}")
    await admin.close()
    conn = await asyncpg.connect(db_url(args.url, DB))
    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    await conn.close()
    conn = await connect(db_url(args.url, DB))
    print("pgvector", await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
    gen = Vectors(args.dim, kind=args.kind, seed=args.seed)
    all_vecs = np.lib.format.open_memmap(NPY_DIR / f"{args.table}.npy", mode="w+", dtype=np.float32,
                                         shape=(args.rows, args.dim))
    t0 = time.perf_counter()
    async with conn.transaction():  # CREATE + COPY in one transaction: no WAL with wal_level=minimal
        await conn.execute(f"DROP TABLE IF EXISTS {args.table}")
        await conn.execute(
            f"CREATE TABLE {args.table} (message_id bigint PRIMARY KEY, ws_spread bigint NOT NULL, "
            "session_spread bigint NOT NULL, ws_single bigint NOT NULL, session_single bigint NOT NULL, "
            f"peer_id bigint NOT NULL, created_at timestamptz NOT NULL, embedding vector({args.dim}) NOT NULL)")
        # Keep the vector inline and uncompressed (it is incompressible floats anyway).
        await conn.execute(f"ALTER TABLE {args.table} ALTER COLUMN embedding SET STORAGE PLAIN")
        batch = 50_000
        for lo in range(0, args.rows, batch):
            hi = min(args.rows, lo + batch)
            vecs = gen.draw(hi - lo)
            all_vecs[lo:hi] = vecs
            i = np.arange(lo, hi)
            lab = labels(i)
            from datetime import UTC, datetime
            created = [datetime.fromtimestamp(int(s), UTC) for s in lab["created_s"]]
            records = [(int(i[j]) + 1, int(lab["ws_spread"][j]), int(lab["session_spread"][j]), 1,
                        int(lab["session_single"][j]), int(lab["peer_id"][j]), created[j], vecs[j])
                       for j in range(hi - lo)]
            await conn.copy_records_to_table(args.table, records=records)
            print(f"  {hi:,} rows, {hi / (time.perf_counter() - t0):,.0f} rows/s", flush=True)
    all_vecs.flush()
    size = await conn.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('{args.table}'))")
    print(f"loaded {args.rows:,} rows in {time.perf_counter() - t0:.0f} s; table {size}")
    await conn.close()


async def index(args: argparse.Namespace) -> None:
    conn = await connect(db_url(args.url, DB))
    t = args.table
    steps = [
        f"CREATE INDEX IF NOT EXISTS {t}_spread ON {t} (ws_spread, session_spread)",
        f"CREATE INDEX IF NOT EXISTS {t}_spread_peer ON {t} (ws_spread, peer_id)",
        f"CREATE INDEX IF NOT EXISTS {t}_spread_time ON {t} (ws_spread, created_at)",
        f"CREATE INDEX IF NOT EXISTS {t}_single ON {t} (ws_single, session_single)",
        f"CREATE INDEX IF NOT EXISTS {t}_single_peer ON {t} (ws_single, peer_id)",
        f"CREATE INDEX IF NOT EXISTS {t}_single_time ON {t} (ws_single, created_at)",
        f"VACUUM ANALYZE {t}",
        f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {args.m}, ef_construction = {args.efc})",
    ]
    for sql in steps:
        t0 = time.perf_counter()
        await conn.execute(sql)
        print(f"  {time.perf_counter() - t0:7.1f} s  {sql}", flush=True)
    rows = await conn.fetch("SELECT relname, pg_size_pretty(pg_relation_size(oid)) AS size FROM pg_class "
                            f"WHERE relname LIKE '{t}%' ORDER BY relname")
    print("  sizes:", ", ".join(f"{r['relname']} {r['size']}" for r in rows))
    await conn.close()


# ------------------------------------------------------------------------------------------------ queries
class Bench:
    def __init__(self, conn: asyncpg.Connection, table: str, vecs: np.ndarray, queries: np.ndarray) -> None:
        self.conn, self.table, self.vecs, self.q = conn, table, vecs, queries
        self.ids = np.arange(1, len(vecs) + 1)
        self.lab = labels(np.arange(len(vecs)))
        self.sims = vecs @ queries.T  # exact cosine of every row to every query, for the ground truth

    def truth(self, qi: int, m: np.ndarray) -> np.ndarray:
        s = self.sims[:, qi][m]
        ids = self.ids[m]
        k = min(K, len(ids))
        part = np.argpartition(-s, k - 1)[:k]
        return ids[part[np.argsort(-s[part])]]

    def mask(self, layout: str, f: dict) -> np.ndarray:
        m = self.lab[f"ws_{layout}"] == f["ws"]
        if "sessions" in f:
            m &= np.isin(self.lab[f"session_{layout}"], f["sessions"])
        if "peer" in f:
            m &= self.lab["peer_id"] == f["peer"]
        if "after" in f:
            m &= self.lab["created_s"] >= f["after"]
        return m

    @staticmethod
    def where(layout: str, f: dict, first: int, alias: str = "") -> tuple[str, list]:
        """SQL terms for filter f with parameters numbered from $first, and their values."""
        from datetime import UTC, datetime

        terms, params = [], []

        def add(term: str, value: object) -> None:
            params.append(value)
            terms.append(term.format(p=f"${first + len(params) - 1}"))

        add(f"{alias}ws_{layout} = {{p}}", f["ws"])
        if "sessions" in f:
            add(f"{alias}session_{layout} = ANY({{p}}::bigint[])", f["sessions"])
        if "peer" in f:
            add(f"{alias}peer_id = {{p}}", f["peer"])
        if "after" in f:
            add(f"{alias}created_at >= {{p}}", datetime.fromtimestamp(f["after"], UTC))
        return " AND ".join(terms), params

    def sql(self, path: str, layout: str, f: dict, ef: int) -> tuple[str, list]:
        t = self.table
        if path == "count":
            where, params = self.where(layout, f, 1)
            return f"SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {where} LIMIT {EXACT_MAX + 1}) s", params
        if path == "exact":
            where, params = self.where(layout, f, 2)
            return f"SELECT message_id FROM {t} WHERE {where} ORDER BY (embedding <=> $1) + 0 LIMIT {K}", params
        if path == "hnsw":
            # What a pgvector 0.6 HNSW scan does under a filter, made explicit: the ef nearest of the whole
            # table, then the filter (the index scan never yields more than hnsw.ef_search tuples).
            where, params = self.where(layout, f, 2, alias="c.")
            return (f"SELECT c.message_id FROM (SELECT *, embedding <=> $1 AS d FROM {t} "
                    f"ORDER BY embedding <=> $1 LIMIT {ef}) c WHERE {where} ORDER BY c.d LIMIT {K}"), params
        where, params = self.where(layout, f, 2)  # planner's choice
        return f"SELECT message_id FROM {t} WHERE {where} ORDER BY embedding <=> $1 LIMIT {K}", params

    async def run(self, label: str, layout: str, filters: list[dict], path: str, ef: int = 40) -> None:
        lat, rec, got = [], [], []
        plans: set[str] = set()
        for qi, f in enumerate(filters):
            sql, params = self.sql(path, layout, f, ef)
            args = params if path == "count" else [self.q[qi], *params]
            async with self.conn.transaction():
                await self.conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                if qi < 3:
                    plan = await self.conn.fetch("EXPLAIN " + sql, *args)
                    nodes = [ln[0].strip().lstrip("-> ").split("  ")[0].split(" (cost")[0] for ln in plan]
                    plans.add(" > ".join(n for n in nodes if "Scan" in n or n in ("Sort", "Limit")))
                t = time.perf_counter()
                rows = await self.conn.fetch(sql, *args)
                lat.append(1000 * (time.perf_counter() - t))
            if path == "count":
                got.append(rows[0][0])
                continue
            m = self.mask(layout, f)
            truth = self.truth(qi, m)
            rec.append(recall([r[0] for r in rows], truth))
            got.append(len(rows))
        sel = self.mask(layout, filters[0]).sum()
        plan_txt = " | ".join(sorted(plans))
        if path == "count":
            print(f"    {label:18s} {'count':7s}          {summary(lat[2:])}  counted {np.mean(got):,.0f}  "
                  f"[{plan_txt}]", flush=True)
        else:
            print(f"    {label:18s} {path:7s} ef={ef:<5d} {summary(lat[2:])}  recall {np.mean(rec):.3f}  "
                  f"rows {np.mean(got):4.1f} (min {min(got):2d})  [{sel:,} match; {plan_txt}]", flush=True)


def filter_sets(n: int, layout: str, queries: int, rng: np.random.Generator) -> dict[str, list[dict]]:
    """Per scenario, one filter dict per query."""
    per_ws = n // SPREAD_WS if layout == "spread" else n
    n_sess = max(1, per_ws // SESSION)
    cut = BASE + int(n * 0.9)

    def ws() -> int:
        return int(rng.integers(1, SPREAD_WS + 1)) if layout == "spread" else 1

    def sess(w: int, count: int = 1) -> list[int]:
        base = w * 100_000 if layout == "spread" else 1
        return [base + int(s) for s in rng.choice(n_sess, size=min(count, n_sess), replace=False)]

    out: dict[str, list[dict]] = {k: [] for k in ("workspace", "+session", "+3 sessions", "+peer",
                                                   "+last 10% time", "+peer +last 10%")}
    for _ in range(queries):
        w = ws()
        out["workspace"].append({"ws": w})
        out["+session"].append({"ws": w, "sessions": sess(w)})
        out["+3 sessions"].append({"ws": w, "sessions": sess(w, 3)})
        out["+peer"].append({"ws": w, "peer": int(rng.integers(1, 5))})
        out["+last 10% time"].append({"ws": w, "after": cut})
        out["+peer +last 10%"].append({"ws": w, "peer": int(rng.integers(1, 5)), "after": cut})
    return out


async def query(args: argparse.Namespace) -> None:
    conn = await connect(db_url(args.url, DB))
    vecs = np.load(NPY_DIR / f"{args.table}.npy", mmap_mode="r")
    vecs = np.ascontiguousarray(vecs)
    n, dim = vecs.shape
    gen = Vectors(dim, kind=args.kind, seed=args.seed + 1000)
    qs = gen.draw(args.queries)
    bench = Bench(conn, args.table, vecs, qs)
    print(f"== {args.table}: {n:,} rows, dim {dim}, pgvector "
          f"{await conn.fetchval('SELECT extversion FROM pg_extension WHERE extname = $$vector$$')}, "
          f"{args.queries} queries, loadavg {os.getloadavg()[0]:.1f}")
    # Warm the caches (table + HNSW index) the way a running server would have them.
    t = time.perf_counter()
    await conn.execute(f"SELECT count(*) FROM {args.table}")
    await conn.fetch(f"SELECT message_id FROM {args.table} ORDER BY embedding <=> $1 LIMIT 10", qs[0])
    print(f"  warm-up {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(3)
    layouts = [args.only] if args.only else (["single"] if n <= 10_000 else ["spread", "single"])
    efs = [int(e) for e in args.ef.split(",")]
    for layout in layouts:
        sets = filter_sets(n, layout, args.queries, rng)
        print(f"  -- layout {layout}")
        for name, filters in sets.items():
            matching = bench.mask(layout, filters[0]).sum()
            await bench.run(name, layout, filters, "count")
            if matching <= EXACT_MAX or args.all_paths:
                await bench.run(name, layout, filters, "exact")
            if matching > EXACT_MAX or args.all_paths:
                for ef in efs:
                    await bench.run(name, layout, filters, "hnsw", ef)
            await bench.run(name, layout, filters, "planner", efs[0])
    await conn.close()


async def writes(args: argparse.Namespace) -> None:
    """Single-row inserts (one transaction each, as the embedding worker would) into the indexed table,
    then single-row deletes, then a 10k-row batch insert with executemany."""
    from datetime import UTC, datetime

    conn = await connect(db_url(args.url, DB))
    n0 = await conn.fetchval(f"SELECT max(message_id) FROM {args.table}")
    gen = Vectors(args.dim, kind=args.kind, seed=args.seed + 2000)
    vecs = gen.draw(args.queries)
    sql = (f"INSERT INTO {args.table}(message_id, ws_spread, session_spread, ws_single, session_single, peer_id, "
           "created_at, embedding) VALUES ($1, 1, 100000, 1, 1, 1, $2, $3) "
           "ON CONFLICT (message_id) DO UPDATE SET embedding = EXCLUDED.embedding")
    now = datetime.now(UTC)
    ins, dele = [], []
    for i, v in enumerate(vecs):
        t = time.perf_counter()
        async with conn.transaction():
            await conn.execute(sql, n0 + 1 + i, now, v)
        ins.append(1000 * (time.perf_counter() - t))
    for i in range(len(vecs)):
        t = time.perf_counter()
        async with conn.transaction():
            await conn.execute(f"DELETE FROM {args.table} WHERE message_id = $1", n0 + 1 + i)
        dele.append(1000 * (time.perf_counter() - t))
    batch = gen.draw(10_000)
    t = time.perf_counter()
    async with conn.transaction():
        await conn.executemany(sql, [(n0 + 1 + i, now, batch[i]) for i in range(len(batch))])
    rate = len(batch) / (time.perf_counter() - t)
    t = time.perf_counter()
    await conn.execute(f"DELETE FROM {args.table} WHERE message_id > $1", n0)
    d = time.perf_counter() - t
    n = await conn.fetchval(f"SELECT count(*) FROM {args.table}")
    print(f"== writes into {args.table} ({n:,} rows, HNSW + 6 btrees), loadavg {os.getloadavg()[0]:.1f}")
    print(f"  single-row upsert, own transaction: {summary(ins)}")
    print(f"  single-row delete, own transaction: {summary(dele)}")
    print(f"  batch upsert (executemany, one transaction): {rate:,.0f} rows/s; deleting those 10k: {d:.2f} s")
    await conn.close()


async def covering(args: argparse.Namespace) -> None:
    """The exact path for a 10k-row workspace whose rows are scattered over a 1M-row heap: cold, warm,
    and through a covering btree (workspace_id) INCLUDE (embedding), read by an index-only scan."""
    conn = await connect(db_url(args.url, DB))
    vecs = np.ascontiguousarray(np.load(NPY_DIR / f"{args.table}.npy", mmap_mode="r"))
    qs = Vectors(vecs.shape[1], kind=args.kind, seed=args.seed + 3000).draw(args.queries)
    bench = Bench(conn, args.table, vecs, qs)
    rng = np.random.default_rng(11)
    filters = [{"ws": int(rng.integers(1, SPREAD_WS + 1))} for _ in range(args.queries)]
    print(f"== exact path, 'spread' layout ({len(vecs) // SPREAD_WS:,} rows per workspace), "
          f"loadavg {os.getloadavg()[0]:.1f}")
    await bench.run("as found", "spread", filters, "exact")
    for w in range(1, SPREAD_WS + 1):  # read every workspace once: the heap is now in shared_buffers
        await conn.fetch(f"SELECT message_id FROM {args.table} WHERE ws_spread = $2 "
                         f"ORDER BY (embedding <=> $1) + 0 LIMIT 10", qs[0], w)
    await bench.run("warm heap", "spread", filters, "exact")
    t = time.perf_counter()
    await conn.execute(f"CREATE INDEX IF NOT EXISTS {args.table}_spread_cov ON {args.table} (ws_spread) "
                       "INCLUDE (embedding)")
    await conn.execute(f"VACUUM ANALYZE {args.table}")
    size = await conn.fetchval(f"SELECT pg_size_pretty(pg_relation_size('{args.table}_spread_cov'))")
    print(f"  covering index built in {time.perf_counter() - t:.0f} s, {size}")
    await bench.run("covering, 1st pass", "spread", filters, "exact")
    await bench.run("covering, warm", "spread", filters, "exact")
    if not args.keep:
        await conn.execute(f"DROP INDEX {args.table}_spread_cov")
    await conn.close()


async def partition(args: argparse.Namespace) -> None:
    """Same rows, LIST-partitioned on bucket = workspace_id % parts (spread layout), one HNSW per partition.

    A query names its bucket, so the inner HNSW scan is pruned to one partition, where the workspace is
    ~parts/100 of the rows instead of 1/100: post-filtering then keeps enough candidates."""
    conn = await connect(db_url(args.url, DB))
    src, t, parts = args.table, f"{args.table}_p{args.parts}", args.parts
    dim = await conn.fetchval(f"SELECT vector_dims(embedding) FROM {src} LIMIT 1")
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", t):
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                f"CREATE TABLE {t} (message_id bigint NOT NULL, bucket int NOT NULL, ws_spread bigint NOT NULL, "
                f"session_spread bigint NOT NULL, peer_id bigint NOT NULL, created_at timestamptz NOT NULL, "
                f"embedding vector({dim}) NOT NULL, PRIMARY KEY (bucket, message_id)) PARTITION BY LIST (bucket)")
            for b in range(parts):
                await conn.execute(f"CREATE TABLE {t}_{b} PARTITION OF {t} FOR VALUES IN ({b})")
            await conn.execute(f"INSERT INTO {t} SELECT message_id, (ws_spread % {parts})::int, ws_spread, "
                               f"session_spread, peer_id, created_at, embedding FROM {src}")
        print(f"  copied into {parts} partitions in {time.perf_counter() - t0:.0f} s", flush=True)
        for sql in (f"CREATE INDEX ON {t} (ws_spread, session_spread)", f"VACUUM ANALYZE {t}",
                    f"CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops) "
                    "WITH (m = 16, ef_construction = 64)"):
            t0 = time.perf_counter()
            await conn.execute(sql)
            print(f"  {time.perf_counter() - t0:7.1f} s  {sql}", flush=True)
    vecs = np.ascontiguousarray(np.load(NPY_DIR / f"{src}.npy", mmap_mode="r"))
    qs = Vectors(dim, kind=args.kind, seed=args.seed + 1000).draw(args.queries)
    bench = Bench(conn, src, vecs, qs)
    rng = np.random.default_rng(3)
    print(f"== {t}: workspace-only KNN, 'spread' layout, {len(vecs) // SPREAD_WS:,} rows per workspace, "
          f"~{len(vecs) // parts:,} rows per partition, loadavg {os.getloadavg()[0]:.1f}")
    for ef in [int(e) for e in args.ef.split(",")]:
        lat, rec, got = [], [], []
        for qi in range(args.queries):
            w = int(rng.integers(1, SPREAD_WS + 1))
            sql = (f"SELECT c.message_id FROM (SELECT message_id, ws_spread, embedding <=> $1 AS d FROM {t} "
                   f"WHERE bucket = $3 ORDER BY embedding <=> $1 LIMIT {ef}) c WHERE c.ws_spread = $2 "
                   f"ORDER BY c.d LIMIT {K}")
            async with conn.transaction():
                await conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                if qi == 0:
                    plan = await conn.fetch("EXPLAIN " + sql, qs[qi], w, w % parts)
                tt = time.perf_counter()
                rows = await conn.fetch(sql, qs[qi], w, w % parts)
                lat.append(1000 * (time.perf_counter() - tt))
            m = bench.lab["ws_spread"] == w
            rec.append(recall([r[0] for r in rows], bench.truth(qi, m)))
            got.append(len(rows))
        nodes = [ln[0].strip().lstrip("-> ").split("  ")[0].split(" (cost")[0] for ln in plan]
        print(f"    workspace  hnsw/partition ef={ef:<5d} {summary(lat[2:])}  recall {np.mean(rec):.3f}  rows "
              f"{np.mean(got):4.1f} (min {min(got)})  [{' > '.join(n for n in nodes if 'Scan' in n)}]", flush=True)
    await conn.close()


async def cascade(args: argparse.Namespace) -> None:
    """Cost of ON DELETE CASCADE from messages into the embeddings table, plain vs 16 LIST partitions
    (the FK check then probes every partition's primary key for each deleted message)."""
    conn = await asyncpg.connect(db_url(args.url, DB))
    n = args.rows
    for parts in (0, 16):
        await conn.execute("DROP TABLE IF EXISTS cas_emb; DROP TABLE IF EXISTS cas_msg")
        await conn.execute("CREATE TABLE cas_msg (id bigint PRIMARY KEY, ws bigint NOT NULL)")
        await conn.execute(f"INSERT INTO cas_msg SELECT g, 1 + g % 10 FROM generate_series(1, {n}) g")
        if parts:
            await conn.execute(
                "CREATE TABLE cas_emb (message_id bigint NOT NULL REFERENCES cas_msg(id) ON DELETE CASCADE, "
                "bucket smallint NOT NULL, ws bigint NOT NULL, embedding vector(4), "
                "PRIMARY KEY (message_id, bucket)) PARTITION BY LIST (bucket)")
            for b in range(parts):
                await conn.execute(f"CREATE TABLE cas_emb_{b} PARTITION OF cas_emb FOR VALUES IN ({b})")
        else:
            await conn.execute(
                "CREATE TABLE cas_emb (message_id bigint PRIMARY KEY REFERENCES cas_msg(id) ON DELETE CASCADE, "
                "bucket smallint NOT NULL, ws bigint NOT NULL, embedding vector(4))")
        await conn.execute("INSERT INTO cas_emb SELECT id, ws % 16, ws, '[1,2,3,4]' FROM cas_msg")
        await conn.execute("ANALYZE cas_msg; ANALYZE cas_emb")
        t = time.perf_counter()
        await conn.execute("DELETE FROM cas_msg WHERE ws = 1")
        d = time.perf_counter() - t
        left = await conn.fetchval("SELECT count(*) FROM cas_emb WHERE ws = 1")
        print(f"  partitions {parts or 'none':>4}: deleting {n // 10:,} messages cascaded in {d:.2f} s "
              f"({1e6 * d / (n // 10):.0f} us per message); embeddings left {left}")
    await conn.execute("DROP TABLE IF EXISTS cas_emb; DROP TABLE IF EXISTS cas_msg")
    await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["load", "index", "query", "writes", "covering", "partition",
                                           "cascade"])
    ap.add_argument("--parts", type=int, default=16)
    ap.add_argument("--keep", action="store_true", help="covering: keep the covering index")
    ap.add_argument("--url", default=URL)
    ap.add_argument("--table", default="emb1m")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--kind", default="textlike")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=64)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--ef", default="40,100,200,400,1000")
    ap.add_argument("--only", choices=["single", "spread"])
    ap.add_argument("--all-paths", action="store_true", help="run exact and hnsw for every filter")
    args = ap.parse_args()
    asyncio.run({"load": load, "index": index, "query": query, "writes": writes,
                 "covering": covering, "partition": partition, "cascade": cascade}[args.action](args))


if __name__ == "__main__":
    main()
