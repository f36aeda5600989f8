"""sqlite-vec (vec0) benchmark: insert speed, filtered KNN latency and recall, storage.

    PYTHONPATH=src python bench/vector_lab/bench_sqlite.py [--driver sqlean] [--dim 384]
        [--scenario one-ws|many-ws|small-ws|all] [--sizes 10000,100000] [--workspaces 20] [--per-ws 10000]

Scenarios
* one-ws:   one workspace grown to each of --sizes; KNN measured at each size.
* many-ws:  --workspaces workspaces of --per-ws messages each, inserted interleaved, sharing one table.
* small-ws: 2000 workspaces of 5 messages: storage cost of partially filled chunks, per chunk_size.

Layout per workspace: sessions of 200 messages, 4 peers, created_at one second apart. Every KNN uses k=10
and `workspace_id = ?`; the filter column adds session / peer / time-range / session IN terms. Latency is
measured on the raw driver connection and, for the plain workspace filter, through SQLAlchemy's async
engine (our dialect hooks, `text()` with bound parameters) to show the driver-stack overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import Vectors, exact_topk, recall, summary
from sqlite_driver import load_driver, load_vec, vec_dbapi
from vec_schema import sqlite_vec_ddl

K = 10
SESSION_SIZE = 200
PEERS = 4
BASE_US = 1_700_000_000_000_000  # 2023-11-14, microseconds since the epoch
QUERIES = 100
KNN_SQL = ("SELECT message_id, distance FROM message_embeddings WHERE embedding MATCH ? AND k = ? "
           "AND workspace_id = ?{terms} ORDER BY distance")


@dataclass
class Workspace:
    wid: int
    ids: list[np.ndarray] = field(default_factory=list)
    vecs: list[np.ndarray] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(i) for i in self.ids)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.ids), np.concatenate(self.vecs)


class Lab:
    def __init__(self, path: str, driver: str, dim: int, chunk_size: int | None = None, mmap: int = 0) -> None:
        self.path, self.dim, self.driver_name, self.mmap = path, dim, driver, mmap
        self.db = load_driver(driver).connect(path, isolation_level=None)
        load_vec(self.db)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA mmap_size={mmap}")
        for stmt in sqlite_vec_ddl(dim, chunk_size=chunk_size, with_trigger=False):
            self.db.execute(stmt)
        self.gen = Vectors(dim)
        self.next_id = 1
        self.workspaces: dict[int, Workspace] = {}

    # ------------------------------------------------------------------ data
    @staticmethod
    def layout(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """session, peer, created_at (us) for message positions within a workspace."""
        return offsets // SESSION_SIZE + 1, offsets % PEERS + 1, BASE_US + offsets * 1_000_000

    def add(self, wid: int, n: int, batch: int = 1000) -> float:
        """Insert n messages into workspace wid in transactions of `batch`; returns rows/s."""
        ws = self.workspaces.setdefault(wid, Workspace(wid))
        vecs = self.gen.draw(n)
        ids = np.arange(self.next_id, self.next_id + n)
        self.next_id += n
        sess, peer, created = self.layout(np.arange(ws.size, ws.size + n))
        t = time.perf_counter()
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO message_embeddings(message_id, workspace_id, session_id, peer_id, created_at, "
                "embedding) VALUES (?, ?, ?, ?, ?, ?)",
                [(int(ids[i]), wid, int(sess[i]), int(peer[i]), int(created[i]), vecs[i].tobytes())
                 for i in range(lo, hi)])
            self.db.execute("COMMIT")
        elapsed = time.perf_counter() - t
        ws.ids.append(ids)
        ws.vecs.append(vecs)
        return n / elapsed

    def single_inserts(self, wid: int, n: int) -> list[float]:
        """Per-message commit latency (one row per transaction, the worker's path)."""
        ws = self.workspaces[wid]
        out = []
        for v in self.gen.draw(n):
            mid = self.next_id
            self.next_id += 1
            s, p, c = self.layout(np.array([ws.size]))
            t = time.perf_counter()
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM message_embeddings WHERE message_id = ?", (mid,))
            self.db.execute("INSERT INTO message_embeddings(message_id, workspace_id, session_id, peer_id, "
                            "created_at, embedding) VALUES (?, ?, ?, ?, ?, ?)",
                            (mid, wid, int(s[0]), int(p[0]), int(c[0]), v.tobytes()))
            self.db.execute("COMMIT")
            out.append(1000 * (time.perf_counter() - t))
            ws.ids.append(np.array([mid]))
            ws.vecs.append(v[None, :])
        return out

    def size_mb(self) -> float:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(self.path) / 1e6

    # ------------------------------------------------------------------ queries
    def filters(self, ws: Workspace, rng: np.random.Generator) -> dict[str, tuple[str, tuple, np.ndarray]]:
        """name -> (SQL terms, params, boolean mask over the workspace's rows) for one random query."""
        n = ws.size
        offsets = np.arange(n)
        sess, peer, created = self.layout(offsets)
        n_sess = int(sess.max())
        s = int(rng.integers(1, n_sess + 1))
        three = [int(x) for x in rng.choice(np.arange(1, n_sess + 1), size=min(3, n_sess), replace=False)]
        p = int(rng.integers(1, PEERS + 1))
        cut = int(created[int(n * 0.9)])
        return {
            "workspace": ("", (), np.ones(n, bool)),
            "+session": (" AND session_id = ?", (s,), sess == s),
            "+peer": (" AND peer_id = ?", (p,), peer == p),
            "+last 10% time": (" AND created_at >= ?", (cut,), created >= cut),
            "+3 sessions IN": (f" AND session_id IN ({', '.join('?' * len(three))})", tuple(three),
                               np.isin(sess, three)),
            "+peer+time": (" AND peer_id = ? AND created_at >= ?", (p, cut), (peer == p) & (created >= cut)),
        }

    def knn(self, wid: int, queries: int = QUERIES, recall_queries: int = 20, seed: int = 1) -> None:
        """Latency pass (queries back to back, as a server would run them), then a recall pass."""
        ws = self.workspaces[wid]
        ids, vecs = ws.arrays()
        rng = np.random.default_rng(seed)
        qv = self.gen.draw(queries)
        lat: dict[str, list[float]] = {}
        rec: dict[str, list[float]] = {}
        plans = [self.filters(ws, rng) for _ in range(queries)]
        for qi in range(queries):
            for name, (terms, params, _mask) in plans[qi].items():
                t = time.perf_counter()
                self.db.execute(KNN_SQL.format(terms=terms), (qv[qi].tobytes(), K, wid, *params)).fetchall()
                lat.setdefault(name, []).append(1000 * (time.perf_counter() - t))
        for qi in range(min(queries, recall_queries)):
            for name, (terms, params, mask) in plans[qi].items():
                rows = self.db.execute(KNN_SQL.format(terms=terms), (qv[qi].tobytes(), K, wid, *params)).fetchall()
                truth = exact_topk(vecs[mask], ids[mask], qv[qi], K)
                rec.setdefault(name, []).append(recall([r[0] for r in rows], truth))
        for name in lat:
            sel = plans[0][name][2].mean()
            print(f"    {name:16s} {summary(lat[name][2:])}  recall@{K} {np.mean(rec[name]):.3f}  "
                  f"(filter keeps {100 * sel:.1f}%)", flush=True)

    async def knn_sqlalchemy(self, wid: int, queries: int = QUERIES) -> None:
        """The workspace-only KNN through create_async_engine(module=vec_dbapi(...)) + our dialect hooks."""
        from honcho_server.store.dialect.sqlite import SqliteDialect

        dialect = SqliteDialect()
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}", module=vec_dbapi(self.driver_name),
                                     **dialect.engine_options(types.SimpleNamespace(echo=False)))
        dialect.configure_engine(engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _mmap(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.cursor().execute(f"PRAGMA mmap_size={self.mmap}")

        stmt = text("SELECT message_id, distance FROM message_embeddings WHERE embedding MATCH :q AND k = :k "
                    "AND workspace_id = :w ORDER BY distance")
        qv = self.gen.draw(queries)
        lat = []
        async with engine.connect() as conn:
            conn = await conn.execution_options(honcho_read=True)
            await conn.execute(stmt, {"q": qv[0].tobytes(), "k": K, "w": wid})  # warm the pool/statement
            for q in qv:
                t = time.perf_counter()
                (await conn.execute(stmt, {"q": q.tobytes(), "k": K, "w": wid})).all()
                lat.append(1000 * (time.perf_counter() - t))
        await engine.dispose()
        print(f"    {'workspace (SA)':16s} {summary(lat)}  (SQLAlchemy async + aiosqlite thread hop)", flush=True)


def one_ws(args: argparse.Namespace, tmp: str) -> None:
    print(f"\n== one workspace, dim {args.dim}, driver {args.driver}, mmap_size {args.mmap}, "
          f"chunk_size {args.chunk_size or 'default (1024)'}, "
          f"loadavg {os.getloadavg()[0]:.1f}")
    lab = Lab(f"{tmp}/one.db", args.driver, args.dim, chunk_size=args.chunk_size, mmap=args.mmap)
    for size in args.sizes:
        grow = size - (lab.workspaces[1].size if 1 in lab.workspaces else 0)
        rate = lab.add(1, grow)
        print(f"  {size} vectors: inserted {grow} at {rate:,.0f} rows/s (batches of 1000); "
              f"file {lab.size_mb():.0f} MB", flush=True)
        lab.knn(1)
        asyncio.run(lab.knn_sqlalchemy(1))
    lat = lab.single_inserts(1, 300)
    print(f"  single-row upsert (DELETE+INSERT, own transaction): {summary(lat)}", flush=True)


def many_ws(args: argparse.Namespace, tmp: str) -> None:
    print(f"\n== {args.workspaces} workspaces x {args.per_ws} vectors sharing one table, dim {args.dim}, "
          f"mmap_size {args.mmap}, chunk_size {args.chunk_size or 'default (1024)'}")
    lab = Lab(f"{tmp}/many.db", args.driver, args.dim, chunk_size=args.chunk_size, mmap=args.mmap)
    step = 500
    t = time.perf_counter()
    for lo in range(0, args.per_ws, step):
        for w in range(1, args.workspaces + 1):
            lab.add(w, min(step, args.per_ws - lo))
    total = args.workspaces * args.per_ws
    print(f"  inserted {total} interleaved at {total / (time.perf_counter() - t):,.0f} rows/s; "
          f"file {lab.size_mb():.0f} MB", flush=True)
    for w in (1, args.workspaces):
        print(f"  workspace {w}:")
        lab.knn(w, queries=50)
    asyncio.run(lab.knn_sqlalchemy(1))


def small_ws(args: argparse.Namespace, tmp: str) -> None:
    print(f"\n== 2000 workspaces x 5 vectors, dim {args.dim}: storage by chunk_size")
    for chunk in (None, 128, 64, 32):
        lab = Lab(f"{tmp}/small-{chunk}.db", args.driver, args.dim, chunk_size=chunk, mmap=args.mmap)
        for w in range(1, 2001):
            lab.add(w, 5, batch=5)
        mb = lab.size_mb()
        lat = []
        for w in range(1, 51):
            q = lab.gen.draw(1)[0].tobytes()
            t = time.perf_counter()
            lab.db.execute("SELECT message_id FROM message_embeddings WHERE embedding MATCH ? AND k = 10 "
                           "AND workspace_id = ?", (q, w)).fetchall()
            lat.append(1000 * (time.perf_counter() - t))
        print(f"  chunk_size {chunk or '1024 (default)'}: file {mb:,.0f} MB for 10,000 vectors "
              f"({mb * 1e6 / 10000 / 1024:.1f} KiB per vector); KNN {summary(lat)}", flush=True)
        lab.db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default="sqlean")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--scenario", default="all")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--workspaces", type=int, default=20)
    ap.add_argument("--per-ws", type=int, default=10000)
    ap.add_argument("--mmap", type=int, default=0, help="PRAGMA mmap_size in bytes (0 = SQLite's default, off)")
    ap.add_argument("--chunk-size", type=int, default=None, help="vec0 chunk_size (default: sqlite-vec's 1024)")
    ap.add_argument("--tmp", default=None, help="directory for the database files (default: a temp dir)")
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        if args.scenario in ("one-ws", "all"):
            one_ws(args, tmp)
        if args.scenario in ("many-ws", "all"):
            many_ws(args, tmp)
        if args.scenario in ("small-ws", "all"):
            small_ws(args, tmp)


if __name__ == "__main__":
    main()
