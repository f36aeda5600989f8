"""Run the proposed PostgreSQL statements (vec_schema.py) on the real schema, through the project's Database.

    python bench/vector_lab/pg_lab_server.py start
    PYTHONPATH=src python bench/vector_lab/check_schema_pg.py [--url postgresql://...]

Creates database `vlab_schema` (dropped first), runs the Alembic migrations, adds `message_embeddings`
(pg_ddl), stores embeddings with PG_UPSERT (twice: the second is the re-embed path), runs the three
query forms (count, exact, HNSW) with session / peer / time filters, checks them against numpy, then
deletes a message, a session and a workspace and checks the FK cascade emptied the right embeddings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pg import URL, db_url
from data import Vectors, exact_topk
from pg_knn import knn
from vec_schema import PG_FILTERS, PG_KNN_HNSW, PG_UPSERT, partition, pg_ddl

from honcho_server.config import DatabaseSettings
from honcho_server.store import migrate
from honcho_server.store.engine import Database

DIM = 384
NAME = "vlab_schema"


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=URL)
    args = ap.parse_args()
    admin = await asyncpg.connect(args.url)
    await admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {NAME}")
    await admin.close()
    url = db_url(args.url, NAME)
    c = await asyncpg.connect(url)
    await c.execute("CREATE EXTENSION IF NOT EXISTS vector")
    await c.close()
    migrate.upgrade(url)
    db = Database(url, DatabaseSettings(url=url))

    gen = Vectors(DIM)
    n_ws, n_sess, per_sess = 2, 3, 40
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    async with db.write() as conn:
        for stmt in pg_ddl(DIM):
            await conn.execute(text(stmt))
        mid = 0
        for w in range(1, n_ws + 1):
            await conn.execute(text("INSERT INTO workspaces(id, uid, name, metadata, configuration, created_at) "
                                    "VALUES (:w, :u, :n, '{}', '{}', :t)"), {"w": w, "u": f"w{w}", "n": f"w{w}",
                                                                            "t": t0})
            for p in (1, 2):
                await conn.execute(text("INSERT INTO peers(id, uid, workspace_id, name, metadata, configuration, "
                                        "created_at) VALUES (:id, :u, :w, :n, '{}', '{}', :t)"),
                                   {"id": w * 10 + p, "u": f"p{w}{p}", "w": w, "n": f"p{p}", "t": t0})
            for s in range(1, n_sess + 1):
                sid = w * 10 + s
                await conn.execute(text("INSERT INTO sessions(id, uid, workspace_id, name, metadata, configuration, "
                                        "created_at) VALUES (:id, :u, :w, :n, '{}', '{}', :t)"),
                                   {"id": sid, "u": f"s{sid}", "w": w, "n": f"s{sid}", "t": t0})
                for i in range(per_sess):
                    mid += 1
                    await conn.execute(text(
                        "INSERT INTO messages(id, uid, workspace_id, session_id, peer_id, seq, content, metadata, "
                        "token_count, created_at) VALUES (:id, :u, :w, :s, :p, :q, 'x', '{}', 1, :t)"),
                        {"id": mid, "u": f"m{mid}", "w": w, "s": sid, "p": w * 10 + 1 + i % 2, "q": i + 1,
                         "t": t0 + timedelta(minutes=mid)})
    vecs = gen.draw(mid + 1)
    async with db.write() as conn:
        for m in range(1, mid + 1):  # first with a wrong vector, then the re-embed path overwrites it
            await conn.execute(text(PG_UPSERT), {"message_id": m, "embedding": vec_text(vecs[0])})
        for m in range(1, mid + 1):
            await conn.execute(text(PG_UPSERT), {"message_id": m, "embedding": vec_text(vecs[m])})
        missing = await conn.execute(text(PG_UPSERT), {"message_id": 99999, "embedding": vec_text(vecs[1])})
        print(f"upsert for a message that does not exist: {missing.rowcount} row(s) written")

    rows = await _all(db)
    meta = {r[0]: r for r in rows}
    print(f"stored {len(rows)} embeddings; tenant columns copied from messages: "
          f"{all(meta[m][1] == (1 if m <= n_sess * per_sess else 2) for m in meta)}")

    q = gen.draw(1)[0]
    cases = {
        "workspace": ({}, lambda r: True),
        "+session": ({"session_ids": [12]}, lambda r: r[2] == 12),
        "+sessions ANY": ({"session_ids": [11, 13]}, lambda r: r[2] in (11, 13)),
        "+peer": ({"peer_id": 12}, lambda r: r[3] == 12),
        "+time range": ({"after": t0 + timedelta(minutes=60), "before": t0 + timedelta(minutes=100)},
                        lambda r: t0 + timedelta(minutes=60) <= r[4] < t0 + timedelta(minutes=100)),
        "+peer +time": ({"peer_id": 11, "after": t0 + timedelta(minutes=60)},
                        lambda r: r[3] == 11 and r[4] >= t0 + timedelta(minutes=60)),
    }
    for name, (filters, keep) in cases.items():
        got, path = await knn(db, q, 1, 5, **filters)
        terms = "".join(PG_FILTERS[n][0] for n in filters)
        async with db.engine.begin() as conn:  # the HNSW statement too, forced (the table is tiny)
            await conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": "1000"})
            hnsw = (await conn.execute(text(PG_KNN_HNSW.format(part=partition(1), filters=terms)),
                                       {"workspace_id": 1, "q": vec_text(q), "k": 5, "ef": 1000, **filters})).all()
        ids = np.array([m for m in meta if meta[m][1] == 1 and keep(meta[m])])
        truth = list(exact_topk(vecs[ids], ids, q, 5))
        print(f"  {name:14s} knn() path {path}: {[r[0] for r in got]} == truth {[r[0] for r in got] == truth}; "
              f"HNSW statement == truth {[r[0] for r in hnsw] == truth}")
    async with db.read() as conn:
        parts = (await conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                                         "'message_embeddings'::regclass"))).scalar()
        print(f"  message_embeddings has {parts} partitions")

    async with db.write() as conn:
        await conn.execute(text("DELETE FROM messages WHERE id = 1"))
    a = len(await _all(db))
    async with db.write() as conn:
        await conn.execute(text("DELETE FROM sessions WHERE id = 12"))
    b = len(await _all(db))
    async with db.write() as conn:
        await conn.execute(text("DELETE FROM workspaces WHERE id = 2"))
    c_ = len(await _all(db))
    print(f"cascade: {len(rows)} -> delete message {a} -> delete session (40 msgs) {b} -> delete workspace "
          f"(120 msgs) {c_}")
    await db.dispose()


async def _all(db: Database) -> list:
    async with db.read() as conn:
        return (await conn.execute(text("SELECT message_id, workspace_id, session_id, peer_id, created_at "
                                        "FROM message_embeddings ORDER BY message_id"))).all()


if __name__ == "__main__":
    asyncio.run(main())
