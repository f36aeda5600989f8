"""Check that the extension-capable SQLite drivers work under our real SQLite dialect hooks.

    PYTHONPATH=src python bench/vector_lab/check_driver.py [--driver sqlean] [--driver pysqlite3] ...

For each driver: its SQLite version and compile options, then through `create_async_engine(module=...)`
with `SqliteDialect.configure_engine` from the tree (WAL, foreign keys, busy timeout, BEGIN IMMEDIATE for
writers, deterministic Python UDFs): the real Alembic schema, FTS5 search, the JSON UDFs, a vec0 table with
its delete trigger, a filtered KNN query, error wrapping (`sqlalchemy.exc.IntegrityError`), pooled concurrent
readers, and the trigger firing for foreign-key cascades (session delete, workspace delete). Finally shows
why `async_creator=` alone is not enough: the driver's exceptions then escape unwrapped.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlite_driver import DRIVERS, load_driver, vec_dbapi
from vec_schema import SQLITE_KNN, SQLITE_UPSERT, sqlite_vec_ddl

from honcho_server.store import migrate
from honcho_server.store.dialect.sqlite import SqliteDialect

SETTINGS = types.SimpleNamespace(echo=False)
DIM = 4


def vec(*xs: float) -> bytes:
    return struct.pack(f"{len(xs)}f", *xs)


async def _try(conn, sql: str) -> str:  # type: ignore[no-untyped-def]
    try:
        await conn.exec_driver_sql(sql)
        return "allowed (!)"
    except sqlalchemy.exc.DBAPIError as exc:
        return f"refused, {type(exc).__name__}: {exc.orig}"


def _engine(url: str, name: str):  # type: ignore[no-untyped-def]
    dialect = SqliteDialect()
    engine = create_async_engine(url, module=vec_dbapi(name), **dialect.engine_options(SETTINGS))
    dialect.configure_engine(engine)
    return engine


async def check(name: str) -> None:  # noqa: C901 - a linear checklist
    driver = load_driver(name)
    print(f"== {name}: module {driver.__name__}, SQLite {driver.sqlite_version}")
    raw = driver.connect(":memory:")
    opts = {r[0] for r in raw.execute("PRAGMA compile_options")}
    print("   compile options:", sorted(o for o in opts if o.startswith(("ENABLE_FTS5", "THREADSAFE", "ENABLE_LOAD",
                                                                         "OMIT_LOAD", "ENABLE_MATH"))))
    raw.close()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/lab.db"
        migrate.upgrade(url)  # the real schema (migrations run on the stdlib driver; the file is shared)
        engine = _engine(url, name)

        async with engine.connect() as conn:
            info = {
                "sqlite_version()": (await conn.exec_driver_sql("select sqlite_version()")).scalar(),
                "dialect.server_version_info": engine.dialect.server_version_info,
                "journal_mode": (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar(),
                "foreign_keys": (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar(),
                "busy_timeout": (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar(),
                "vec_version()": (await conn.exec_driver_sql("select vec_version()")).scalar(),
                "UDF honcho_json_text": (await conn.exec_driver_sql(
                    """select honcho_json_text('{"a": 1.5}', 'a')""")).scalar(),
                "load_extension() from SQL": await _try(conn, "select load_extension('/nonexistent')"),
            }
            for k, v in info.items():
                print(f"   {k}: {v}")

        # vec0 table + trigger, then data through a write transaction (BEGIN IMMEDIATE via the begin hook).
        now_dt = datetime.now(UTC).replace(tzinfo=None)
        now = now_dt.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime text form
        async with engine.connect() as conn:
            conn = await conn.execution_options(honcho_write=True)
            async with conn.begin():
                for stmt in sqlite_vec_ddl(DIM, chunk_size=64):
                    await conn.exec_driver_sql(stmt)
                for ws in (1, 2):
                    await conn.exec_driver_sql(
                        "insert into workspaces(id, uid, name, metadata, configuration, created_at) "
                        "values (?, ?, ?, '{}', '{}', ?)", (ws, f"w{ws}", f"ws{ws}", now))
                    await conn.exec_driver_sql(
                        "insert into peers(id, uid, workspace_id, name, metadata, configuration, created_at) "
                        "values (?, ?, ?, 'p', '{}', '{}', ?)", (ws, f"p{ws}", ws, now))
                    for s in (1, 2):
                        sid = ws * 10 + s
                        await conn.exec_driver_sql(
                            "insert into sessions(id, uid, workspace_id, name, metadata, configuration, created_at) "
                            "values (?, ?, ?, ?, '{}', '{}', ?)", (sid, f"s{sid}", ws, f"s{sid}", now))
                mid = 0
                for ws in (1, 2):
                    for s in (1, 2):
                        for i in range(5):
                            mid += 1
                            await conn.exec_driver_sql(
                                "insert into messages(id, uid, workspace_id, session_id, peer_id, seq, content, "
                                "metadata, token_count, created_at) values (?, ?, ?, ?, ?, ?, ?, '{}', 1, ?)",
                                (mid, f"m{mid}", ws, ws * 10 + s, ws, i + 1, f"hello world number {mid}", now))
                # The proposed write path (vec_schema.SQLITE_UPSERT): tenant columns copied from the message.
                for m in range(1, mid + 1):
                    for stmt in SQLITE_UPSERT:
                        await conn.execute(text(stmt), {"message_id": m, "embedding": vec(1, m / 20, 0, 0)})
                for stmt in SQLITE_UPSERT:  # a message that does not exist: nothing stored
                    await conn.execute(text(stmt), {"message_id": 999, "embedding": vec(1, 0, 0, 0)})

        async with engine.connect() as conn:
            conn = await conn.execution_options(honcho_read=True)
            fts = (await conn.exec_driver_sql(
                "select count(*) from messages_fts where messages_fts match '\"number\"'")).scalar()
            knn = (await conn.execute(text(SQLITE_KNN.format(filters=" AND session_id = :session_id")),
                                      {"query": vec(1, 0.5, 0, 0), "k": 3, "workspace_id": 1,
                                       "session_id": 12})).all()
            print(f"   FTS5 match rows: {fts}; filtered KNN (ws 1, session 12): {[tuple(r) for r in knn]}")
            stored = (await conn.exec_driver_sql(
                "select count(*), min(created_at), max(created_at) from message_embeddings")).one()
            expect = int((now_dt.replace(tzinfo=UTC)).timestamp()) * 1_000_000 + now_dt.microsecond
            print(f"   upserted {stored[0]} rows (message 999 absent: skipped); created_at us {stored[1]} "
                  f"== python {expect}: {stored[1] == stored[2] == expect}")

        # DBAPI errors must come back as SQLAlchemy's wrapped classes.
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("insert into workspaces(id, uid, name, metadata, configuration, "
                                           "created_at) values (1, 'x', 'y', '{}', '{}', 'z')")
        except sqlalchemy.exc.IntegrityError as exc:
            print(f"   duplicate key -> sqlalchemy.exc.IntegrityError (orig {type(exc.orig).__module__}."
                  f"{type(exc.orig).__name__})")

        # Concurrent readers across the pool: each on its own aiosqlite thread.
        async def reader() -> int:
            async with engine.connect() as conn:
                conn = await conn.execution_options(honcho_read=True)
                return len((await conn.exec_driver_sql(
                    "select message_id from message_embeddings where embedding match ? and k = 5 "
                    "and workspace_id = 2", (vec(1, 1, 0, 0),))).all())
        t = time.perf_counter()
        results = await asyncio.gather(*(reader() for _ in range(32)))
        print(f"   32 concurrent pooled KNN reads: all returned {set(results)} rows "
              f"in {1000 * (time.perf_counter() - t):.1f} ms")

        # Cascades: deleting a session (FK cascade to messages) and a workspace must empty the vec0 rows.
        async def count(sql: str) -> int:
            async with engine.connect() as conn:
                return (await conn.exec_driver_sql(sql)).scalar()
        before = await count("select count(*) from message_embeddings")
        async with engine.begin() as conn:
            await conn.exec_driver_sql("delete from messages where id = 1")
        one = await count("select count(*) from message_embeddings")
        async with engine.begin() as conn:
            await conn.exec_driver_sql("delete from sessions where id = 12")
        sess = await count("select count(*) from message_embeddings")
        async with engine.begin() as conn:
            await conn.exec_driver_sql("delete from workspaces where id = 2")
        ws = await count("select count(*) from message_embeddings")
        left = await count("select count(*) from messages")
        print(f"   vec rows: {before} -> delete message: {one} -> delete session (FK cascade): {sess} "
              f"-> delete workspace (FK cascade): {ws}; messages left: {left}")
        await engine.dispose()

        # Why not just async_creator=: errors from a non-stdlib driver are not sqlite3.Error subclasses, so
        # SQLAlchemy does not wrap them and `except sqlalchemy.exc.IntegrityError` no longer catches them.
        if driver.__name__ != "sqlite3":
            async def creator() -> aiosqlite.Connection:
                return await aiosqlite.Connection(lambda: driver.connect(f"{tmp}/lab.db"), 64)
            bare = create_async_engine("sqlite+aiosqlite://", async_creator=creator)
            try:
                async with bare.begin() as conn:
                    await conn.exec_driver_sql("insert into workspaces(id, uid, name, metadata, configuration, "
                                               "created_at) values (1, 'x', 'y', '{}', '{}', 'z')")
            except sqlalchemy.exc.IntegrityError:
                print("   async_creator only: wrapped OK")
            except Exception as exc:
                print(f"   async_creator only: duplicate key escapes UNWRAPPED as "
                      f"{type(exc).__module__}.{type(exc).__name__} (not sqlalchemy.exc.IntegrityError)")
            await bare.dispose()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", action="append", choices=list(DRIVERS))
    args = ap.parse_args()
    for name in args.driver or list(DRIVERS):
        try:
            await check(name)
        except (ImportError, RuntimeError) as exc:
            print(f"== {name}: unavailable ({exc})")


if __name__ == "__main__":
    asyncio.run(main())
