"""SQLite: WAL, foreign keys, a busy timeout, one writer at a time, JSON functions in Python."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, column, event, func, literal_column, table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import Boolean, Float, String

from honcho_server.store.dialect import jsonsem
from honcho_server.store.dialect.base import Dialect


class SqliteDialect(Dialect):
    name = "sqlite"
    read_options = {"honcho_read": True}

    def __init__(self) -> None:
        # One writer per process: waiting here is cheaper than SQLite's busy-retry loop.
        self._write_lock = asyncio.Lock()

    def async_url(self, url: URL) -> URL:
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url.set(drivername="sqlite+aiosqlite")

    def engine_options(self, settings: Any) -> dict[str, Any]:
        return {"echo": settings.echo, "pool_size": 8, "max_overflow": 8}

    def configure_engine(self, engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook below decide how transactions start (pysqlite would
            # otherwise open them lazily and never as IMMEDIATE).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")  # other processes (a separate worker) may write
            cursor.close()
            raw = dbapi_conn._connection if hasattr(dbapi_conn, "_connection") else dbapi_conn
            _register_functions(raw)

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the lock up front so a transaction never fails upgrading from read to write;
            # readers run each statement on its own (autocommit), which WAL makes cheap and non-blocking.
            options = conn.get_execution_options()
            if options.get("honcho_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif not options.get("honcho_read"):
                conn.exec_driver_sql("BEGIN")

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[None]:
        async with self._write_lock:
            yield

    def insert(self, table: Table) -> Any:
        return sqlite_insert(table)

    def json_contains(self, column: Any, value: Any) -> ColumnElement[bool]:
        needle = json.dumps(value, ensure_ascii=False)
        return func.honcho_json_contains(column, needle, type_=Boolean) == 1

    def json_text(self, column: Any, key: str) -> ColumnElement[str]:
        return func.honcho_json_text(column, key, type_=String)

    def json_number(self, column: Any, key: str) -> ColumnElement[float]:
        return func.honcho_json_number(column, key, type_=Float)

    def text_search(self, messages: Table, query: Select[Any], terms: list[str]) -> Select[Any]:
        fts = table("messages_fts", column("rowid"))
        match = literal_column("messages_fts").op("MATCH")(bindparam("fts_query", _fts_query(terms)))
        # bm25() is lower for better matches.
        return (query.join(fts, fts.c.rowid == messages.c.id).where(match)
                .order_by(func.bm25(literal_column("messages_fts")), messages.c.id.desc()))


def _fts_query(terms: list[str]) -> str:
    """An FTS5 expression matching any term; each term is quoted, so no input is read as syntax."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _register_functions(raw_conn: Any) -> None:
    """Register the JSON helpers on a sqlite3 connection (aiosqlite wraps one)."""
    target = getattr(raw_conn, "_conn", raw_conn)  # aiosqlite.Connection keeps the sqlite3 one here
    target.create_function("honcho_json_contains", 2, jsonsem.sql_contains, deterministic=True)
    target.create_function("honcho_json_text", 2, jsonsem.sql_text, deterministic=True)
    target.create_function("honcho_json_number", 2, jsonsem.sql_number, deterministic=True)
