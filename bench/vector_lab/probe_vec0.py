"""Probe sqlite-vec 0.1.9 vec0 semantics that the design depends on.

    python bench/vector_lab/probe_vec0.py [--driver sqlean]

Prints one line per question: upsert forms, UPDATE, NULL metadata, 64-bit integer metadata, IN on the
partition key, max k, unknown workspace, space reclaimed by DELETE, and the cost of deleting a whole
10k-message workspace through the per-row trigger.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import Vectors
from sqlite_driver import load_driver, load_vec
from vec_schema import sqlite_vec_ddl

DIM = 384


def attempt(db, label: str, sql: str, params=()) -> None:  # type: ignore[no-untyped-def]
    try:
        rows = db.execute(sql, params).fetchall()
        print(f"  {label}: ok {rows[:12] if rows else ''}")
    except Exception as exc:
        print(f"  {label}: ERROR {type(exc).__name__}: {exc}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default="sqlean")
    ap.add_argument("--chunk-size", type=int, default=64)
    args = ap.parse_args()
    gen = Vectors(DIM)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/probe.db"
        db = load_driver(args.driver).connect(path, isolation_level=None)
        load_vec(db)
        db.execute("PRAGMA journal_mode=WAL")
        for stmt in sqlite_vec_ddl(DIM, chunk_size=args.chunk_size, with_trigger=False):
            db.execute(stmt)
        ins = ("INSERT INTO message_embeddings(message_id, workspace_id, session_id, peer_id, created_at, "
               "embedding) VALUES (?, ?, ?, ?, ?, ?)")
        v = gen.draw(50)
        big = 1_763_000_000_123_456  # microseconds since the epoch, needs 64 bits
        for i in range(1, 41):
            db.execute(ins, (i, 1 + i % 2, 10 + i % 4, 1, big + i, v[i].tobytes()))
        q = v[0].tobytes()
        knn = ("SELECT message_id, round(distance, 4) FROM message_embeddings WHERE embedding MATCH ? AND k = ? "
               "AND workspace_id = ?")

        print("write forms")
        attempt(db, "INSERT OR REPLACE", ins.replace("INSERT", "INSERT OR REPLACE"),
                (1, 2, 10, 1, big, v[1].tobytes()))
        attempt(db, "INSERT duplicate id", ins, (1, 2, 10, 1, big, v[1].tobytes()))
        attempt(db, "UPDATE embedding", "UPDATE message_embeddings SET embedding = ? WHERE message_id = 2",
                (v[3].tobytes(),))
        attempt(db, "UPDATE metadata", "UPDATE message_embeddings SET session_id = 99 WHERE message_id = 2")
        attempt(db, "UPDATE partition key", "UPDATE message_embeddings SET workspace_id = 2 WHERE message_id = 2")
        attempt(db, "NULL metadata", ins, (41, 1, None, 1, big, v[41].tobytes()))
        attempt(db, "wrong dimension", ins, (42, 1, 1, 1, big, v[42][:100].tobytes()))

        print("queries")
        attempt(db, "64-bit metadata equality (created_at = big+3)",
                knn + " AND created_at = ?", (q, 5, 2, big + 3))
        attempt(db, "IN on partition key, k=3 (expect 3 rows)",
                "SELECT message_id, workspace_id, round(distance, 4) FROM message_embeddings "
                "WHERE embedding MATCH ? AND k = 3 AND workspace_id IN (1, 2)", (q,))
        attempt(db, "same, ORDER BY distance LIMIT 3 outside",
                "SELECT * FROM (SELECT message_id, workspace_id, round(distance, 4) d FROM message_embeddings "
                "WHERE embedding MATCH ? AND k = 3 AND workspace_id IN (1, 2)) ORDER BY d LIMIT 3", (q,))
        attempt(db, "k = 5000", knn, (q, 5000, 1))
        attempt(db, "k = 4096", "SELECT count(*) FROM (" + knn + ")", (q, 4096, 1))
        attempt(db, "unknown workspace", knn, (q, 5, 12345))
        attempt(db, "no workspace filter (scans every partition)", knn.replace(" AND workspace_id = ?", ""),
                (q, 3))
        attempt(db, "distance threshold", knn + " AND distance < 0.6", (q, 10, 2))
        attempt(db, "session_id != (metadata)", knn + " AND session_id != 10", (q, 3, 2))
        attempt(db, "OR between metadata", knn + " AND (session_id = 10 OR peer_id = 1)", (q, 3, 2))
        attempt(db, "expression on metadata, k=3 (session_id + 0 = 11; applied after the top-k)",
                knn + " AND session_id + 0 = 11", (q, 3, 2))
        attempt(db, "same as a plain comparison, k=3 (session_id = 11; pushed into the scan)",
                knn + " AND session_id = 11", (q, 3, 2))
        attempt(db, "JSON text query vector", knn, ("[" + ",".join(map(str, v[0])) + "]", 2, 2))

        print("deletes and space")
        db.execute("DELETE FROM message_embeddings")
        before = os.path.getsize(path)
        vecs = gen.draw(10_000)
        db.execute("BEGIN")
        db.executemany(ins, [(100 + i, 7, i // 200, i % 4, big + i, vecs[i].tobytes()) for i in range(10_000)])
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = os.path.getsize(path)
        chunks = db.execute("SELECT count(*) FROM message_embeddings_chunks").fetchone()[0]
        db.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, workspace_id INTEGER)")
        db.executemany("INSERT INTO messages VALUES (?, 7)", [(100 + i,) for i in range(10_000)])
        db.execute("CREATE TRIGGER message_embeddings_delete AFTER DELETE ON messages BEGIN "
                   "DELETE FROM message_embeddings WHERE message_id = old.id; END")
        t = time.perf_counter()
        db.execute("BEGIN")
        db.execute("DELETE FROM messages WHERE workspace_id = 7")
        db.execute("COMMIT")
        took = time.perf_counter() - t
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        left_chunks = db.execute("SELECT count(*) FROM message_embeddings_chunks").fetchone()[0]
        after = os.path.getsize(path)
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        print(f"  10k-vector workspace: file {before / 1e6:.1f} -> {full / 1e6:.1f} MB, {chunks} chunks; deleted "
              f"via trigger in {took * 1000:.0f} ms; after: file {after / 1e6:.1f} MB, {left_chunks} chunks left, "
              f"{free / 1e6:.1f} MB on the freelist")
        r = db.execute(knn, (q, 5, 7)).fetchall()
        print(f"  KNN on the emptied workspace: {r}")
        db.execute("VACUUM")
        print(f"  after VACUUM: file {os.path.getsize(path) / 1e6:.1f} MB")
        db.close()

    # What a connection without sqlite-vec sees once the trigger exists (e.g. the sqlite3 CLI, or an engine
    # built without the vec driver): writes that fire the trigger fail.
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/novec.db"
        db = load_driver(args.driver).connect(path, isolation_level=None)
        load_vec(db)
        db.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, workspace_id INTEGER)")
        for stmt in sqlite_vec_ddl(4):
            db.execute(stmt)
        db.execute("INSERT INTO messages VALUES (1, 1)")
        db.close()
        import sqlite3

        plain = sqlite3.connect(path, isolation_level=None)
        print("without sqlite-vec loaded (stdlib sqlite3):")
        attempt(plain, "SELECT from messages", "SELECT count(*) FROM messages")
        attempt(plain, "DELETE FROM messages (fires the trigger)", "DELETE FROM messages WHERE id = 1")
        plain.close()



if __name__ == "__main__":
    main()
