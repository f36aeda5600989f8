"""Prototype of the PostgreSQL filtered KNN (pgvector 0.6 compatible), and its end-to-end benchmark.

    PYTHONPATH=src python bench/vector_lab/pg_knn.py [--queries 100]
    (needs bench_pg.py load/index for emb1m and `bench_pg.py partition` for emb1m_p16)

`knn()` is what a repository method would do, through SQLAlchemy's async engine (the project's Database),
in one transaction:
1. bounded counts, one per indexed filter (PG_COUNT_ONE, <= EXACT_MAX + 1 btree entries each);
2. smallest count <= EXACT_MAX: exact KNN (PG_KNN_EXACT) driven by that filter's index, recall 1;
3. otherwise HNSW in the workspace's partition (PG_KNN_HNSW) with ef = 100; if the filter left fewer than
   k rows, estimate the pass rate from what came back and retry once with a larger ef (<= 1000); if that
   still under-returns, fall back to exact (reachable only when the filtered set is a tiny share of a big
   partition; see NOTES.md).
The benchmark maps `message_embeddings` onto the lab tables with a view, so the SQL of vec_schema.py runs
unchanged (a simple view is inlined; the lab tables' indexes are used as-is):
* spread: emb1m_p16 (1M rows, 100 workspaces of 10k, 16 partitions);
* single: emb1m (1M rows, all in one workspace, one HNSW).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pg import BASE, DB, SESSION, SPREAD_WS, URL, db_url, labels
from data import Vectors, recall, summary
from vec_schema import BUCKETS, EXACT_MAX, PG_COUNT_ONE, PG_FILTERS, PG_KNN_EXACT, PG_KNN_HNSW, partition

from honcho_server.config import DatabaseSettings
from honcho_server.store.engine import Database

EF_FIRST, EF_MAX = 100, 1000
# Filters that share an index are counted together (a time range is one btree range).
GROUPS = {"session_ids": ("session_ids",), "peer_id": ("peer_id",), "created_at": ("after", "before")}


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def _terms(names: list[str], indexed: set[str]) -> str:
    return "".join(PG_FILTERS[n][0 if n in indexed else 1] for n in names)


async def knn(db: Database, q: np.ndarray, workspace_id: int, k: int = 10,
              **filters: Any) -> tuple[list[tuple[int, float]], str]:
    """Nearest messages of one workspace under optional filters; returns (rows, path taken)."""
    names = list(filters)
    groups = [g for g, members in GROUPS.items() if any(n in filters for n in members)] or [None]
    part = partition(workspace_id)
    counts_sql = "SELECT " + ", ".join(
        PG_COUNT_ONE.format(part=part, filter=_terms([n for n in names if n in GROUPS[g]], set(names)) if g else "")
        for g in groups)
    params = {"workspace_id": workspace_id, **filters}
    qt = vec_text(q)
    async with db.engine.connect() as conn, conn.begin():
        counts = (await conn.execute(text(counts_sql), params)).one()
        n, drive = min(zip(counts, groups, strict=True), key=lambda c: c[0])
        if n <= EXACT_MAX:
            indexed = set(GROUPS[drive]) if drive else set()
            sql = PG_KNN_EXACT.format(part=part, filters=_terms(names, indexed))
            rows = (await conn.execute(text(sql), {**params, "q": qt, "k": k})).all()
            return [tuple(r) for r in rows], "exact"
        ef, path = EF_FIRST, "hnsw"
        sql = PG_KNN_HNSW.format(part=part, filters=_terms(names, set(names)))
        for _attempt in range(2):
            await conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef)})
            rows = (await conn.execute(text(sql), {**params, "q": qt, "k": k, "ef": ef})).all()
            if len(rows) >= k or ef >= EF_MAX:
                break
            pass_rate = max(len(rows), 0.5) / ef
            ef = min(EF_MAX, max(2 * ef, math.ceil(2 * k / pass_rate)))
            path = "hnsw+retry"
        if len(rows) < k:  # the filter keeps too small a share of the partition for post-filtering
            sql = PG_KNN_EXACT.format(part=part, filters=_terms(names, set(GROUPS[drive]) if drive else set()))
            rows = (await conn.execute(text(sql), {**params, "q": qt, "k": k})).all()
            path = "exact-fallback"
        return [tuple(r) for r in rows], path


async def bench(args: argparse.Namespace) -> None:
    url = db_url(args.url, DB)
    import asyncpg

    raw = await asyncpg.connect(url)  # the partitioned copy lacks two of the btrees
    src = f"{args.table}_p{BUCKETS}"
    await raw.execute(f"CREATE INDEX IF NOT EXISTS {src}_peer ON {src} (ws_spread, peer_id)")
    await raw.execute(f"CREATE INDEX IF NOT EXISTS {src}_time ON {src} (ws_spread, created_at)")
    await raw.execute(f"VACUUM ANALYZE {src}")
    await raw.close()
    db = Database(url, DatabaseSettings(url=url, pool_size=2))
    stmt_ms: dict[str, list[float]] = {}

    from sqlalchemy import event

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["t"] = time.perf_counter()

    @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        kind = ("count" if "count(*)" in statement else "set_config" if "set_config" in statement
                else "hnsw" if "LIMIT $" in statement and ") c " in statement else "exact")
        stmt_ms.setdefault(kind, []).append(1000 * (time.perf_counter() - conn.info["t"]))

    vecs = np.ascontiguousarray(np.load(Path(os.environ.get("VLAB_NPY_DIR", "/tmp/vl")) / f"{args.table}.npy",
                                        mmap_mode="r"))
    n = len(vecs)
    lab = labels(np.arange(n))
    ids = np.arange(1, n + 1)
    qs = Vectors(vecs.shape[1], seed=4242).draw(args.queries)
    sims = vecs @ qs.T
    rng = np.random.default_rng(5)
    print(f"== knn() end to end via SQLAlchemy async + asyncpg, {args.table} ({n:,} rows), k=10, "
          f"{args.queries} queries, loadavg {os.getloadavg()[0]:.1f}")
    for layout in ("spread", "single") if n > 10_000 else ("single",):
        async with db.engine.begin() as conn:  # message_embeddings_<b> -> the lab tables
            for b in range(BUCKETS):
                await conn.execute(text(f"DROP VIEW IF EXISTS message_embeddings_{b}"))
                src = f"{args.table}_p{BUCKETS}_{b}" if layout == "spread" else args.table
                if layout == "single" and b != 1:
                    continue  # workspace 1 lives in bucket 1
                await conn.execute(text(
                    f"CREATE VIEW message_embeddings_{b} AS SELECT message_id, ws_{layout} AS workspace_id, "
                    f"session_{layout} AS session_id, peer_id, created_at, embedding FROM {src}"))
        per_ws = n // SPREAD_WS if layout == "spread" else n
        cut = BASE + int(n * 0.9)
        print(f"  -- {layout}: {SPREAD_WS if layout == 'spread' else 1} workspace(s) of {per_ws:,}")
        after = datetime.fromtimestamp(cut, UTC)
        cases = {
            "workspace": lambda w: {},
            "+session": lambda w, lay=layout, per=per_ws: {"session_ids": [_sess(lay, w, rng, per)]},
            "+peer": lambda w: {"peer_id": int(rng.integers(1, 5))},
            "+last 10% time": lambda w, a=after: {"after": a},
            "+peer +last 10%": lambda w, a=after: {"peer_id": int(rng.integers(1, 5)), "after": a},
        }
        for name, make in cases.items():
            lat, rec, paths = [], [], {}
            stmt_ms.clear()
            for qi in range(args.queries):
                w = int(rng.integers(1, SPREAD_WS + 1)) if layout == "spread" else 1
                f = make(w)
                t = time.perf_counter()
                rows, path = await knn(db, qs[qi], w, 10, **f)
                lat.append(1000 * (time.perf_counter() - t))
                paths[path] = paths.get(path, 0) + 1
                m = lab[f"ws_{layout}"] == w
                if "session_ids" in f:
                    m &= np.isin(lab[f"session_{layout}"], f["session_ids"])
                if "peer_id" in f:
                    m &= lab["peer_id"] == f["peer_id"]
                if "after" in f:
                    m &= lab["created_s"] >= cut
                s = sims[:, qi][m]
                top = ids[m][np.argsort(-s)[:10]]
                rec.append(recall([r[0] for r in rows], top))
                if rec[-1] < 0.5:
                    print(f"      low recall: ws {w} filters {f} path {path} got {len(rows)} rows "
                          f"{[r[0] for r in rows][:5]} truth {list(top[:5])} matching {m.sum()}")
            parts = ", ".join(f"{k} {np.median(v):.1f}" for k, v in stmt_ms.items())
            print(f"    {name:16s} {summary(lat[2:])}  recall@10 {np.mean(rec):.3f} (min {min(rec):.1f})  "
                  f"paths {paths}  [median ms per statement: {parts}]", flush=True)
    async with db.engine.begin() as conn:
        for b in range(BUCKETS):
            await conn.execute(text(f"DROP VIEW IF EXISTS message_embeddings_{b}"))
    await db.dispose()


def _sess(layout: str, w: int, rng: np.random.Generator, per_ws: int) -> int:
    s = int(rng.integers(0, max(1, per_ws // SESSION)))
    return w * 100_000 + s if layout == "spread" else s + 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=URL)
    ap.add_argument("--table", default="emb1m")
    ap.add_argument("--queries", type=int, default=100)
    asyncio.run(bench(ap.parse_args()))


if __name__ == "__main__":
    main()
