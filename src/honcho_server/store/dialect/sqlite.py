"""SQLite: WAL, foreign keys, a busy timeout, one writer at a time, JSON functions in Python, sqlite-vec."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, Table, bindparam, column, event, func, literal_column, table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import Boolean, Float, String

from honcho_server.store.dialect import jsonsem, sqlite_vectors
from honcho_server.store.dialect.base import Dialect, VectorScope, VectorsUnavailable, check_k
from honcho_server.store.dialect.sqlite_driver import vec_dbapi

log = logging.getLogger(__name__)
_warned_no_vectors = False

# vec0 reads vector chunks as BLOBs; memory-mapping the file keeps them from being copied into SQLite's small
# page cache on every query (measured: 7.2 -> 4.4 ms per 10k-vector search). Address space, not resident memory.
MMAP_SIZE = 1 << 30


# A message's full-text row as the insert trigger of migration 0005 writes it: "<sender>: <text>", and the sender and
# last 25 words of the message before it (seq - 1) as context. Keep the two in step.
_FTS_REINDEX = text(
    "INSERT INTO messages_fts(rowid, body, context) SELECT m.id, "
    "coalesce((SELECT name FROM peers WHERE id = m.peer_id), '') || ': ' || m.content, "
    "coalesce((SELECT coalesce((SELECT name FROM peers WHERE id = p.peer_id), '') || ': ' || "
    "honcho_tail_words(p.content, 25) FROM messages p WHERE p.session_id = m.session_id AND p.seq = m.seq - 1), '') "
    "FROM messages m WHERE m.id IN :pks").bindparams(bindparam("pks", expanding=True))


# SQLite's primary result codes that mean the database cannot serve requests now (answered 503), with the words
# SQLite itself uses when the driver gives no code.
_FAULTS = (
    (13, "database or disk is full", "disk full: SQLite could not write (database or disk is full)"),
    (8, "readonly database", "the SQLite database is read-only (check the file's and directory's permissions)"),
    (14, "unable to open database", "the SQLite database file cannot be opened"),
    (10, "disk i/o error", "a disk I/O error on the SQLite database"),
    (5, "database is locked", "the SQLite database is locked by another process (busy)"),
    (6, "database table is locked", "the SQLite database is locked (busy)"),
    (7, "out of memory", "SQLite is out of memory"),
)


class SqliteDialect(Dialect):
    name = "sqlite"
    read_options = {"honcho_read": True}

    def __init__(self) -> None:
        # One writer per process: waiting here is cheaper than SQLite's busy-retry loop.
        self._write_lock = asyncio.Lock()
        # aiosqlite over a driver that loads sqlite-vec (sqlean.py, pysqlite3 or the stdlib), or None: the stock
        # aiosqlite driver, without vector search.
        self._dbapi = vec_dbapi()
        if self._dbapi is None:
            _warn_no_vectors()

    @property
    def vectors_available(self) -> bool:
        return self._dbapi is not None

    def async_url(self, url: URL) -> URL:
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url.set(drivername="sqlite+aiosqlite")

    def engine_options(self, settings: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"echo": settings.echo, "pool_size": 8, "max_overflow": 8}
        if self._dbapi is not None:
            options["module"] = self._dbapi
        return options

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
            cursor.execute(f"PRAGMA mmap_size={MMAP_SIZE}")
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

    def is_driver_error(self, exc: BaseException) -> bool:
        return type(exc).__name__ in ("OperationalError", "DatabaseError") and "sqlite" in type(exc).__module__

    def fault_of(self, exc: BaseException) -> str | None:
        code = getattr(exc, "sqlite_errorcode", None)
        message = str(exc).lower()
        for primary, words, cause in _FAULTS:
            if (isinstance(code, int) and code & 0xFF == primary) or words in message:
                return cause
        return None

    def insert(self, table: Table) -> Any:
        return sqlite_insert(table)

    def json_contains(self, column: Any, value: Any) -> ColumnElement[bool]:
        needle = json.dumps(value, ensure_ascii=False)
        return func.honcho_json_contains(column, needle, type_=Boolean) == 1

    def utc_day(self, column: Any) -> ColumnElement[str]:
        return func.strftime(literal_column("'%Y-%m-%d'"), column, type_=String)  # stored as naive UTC text

    def json_text(self, column: Any, key: str) -> ColumnElement[str]:
        return func.honcho_json_text(column, key, type_=String)

    def json_number(self, column: Any, key: str) -> ColumnElement[float]:
        return func.honcho_json_number(column, key, type_=Float)

    def json_array_items(self, column: Any) -> TableValuedAlias:
        return func.json_each(column).table_valued("value")

    async def refresh_message_text(self, conn: AsyncConnection, message_pks: Sequence[int]) -> None:
        pks = sorted({int(pk) for pk in message_pks})
        if not pks:
            return
        params = {"pks": pks}
        await conn.execute(text("DELETE FROM messages_fts WHERE rowid IN :pks").bindparams(
            bindparam("pks", expanding=True)), params)
        await conn.execute(_FTS_REINDEX, params)

    async def text_search(self, conn: AsyncConnection, messages: Table, query: Select[Any], terms: list[str],
                          limit: int, scope_rows: int | None = None) -> Select[Any]:
        # FTS5 ranks through its own index only (filtering by rowid first measured 10x slower): scope_rows unused.
        fts = table("messages_fts", column("rowid"))
        match = literal_column("messages_fts").op("MATCH")(bindparam("fts_query", _fts_query(terms)))
        # bm25() is lower (more negative) for better matches; its negation is the score. Column weights: the
        # message ("sender: text") counts fully, the context column (the turn it answers) at 0.3.
        rank = func.bm25(literal_column("messages_fts"), 1.0, 0.3)
        return (query.add_columns((-rank).label("text_score")).join(fts, fts.c.rowid == messages.c.id)
                .where(match).order_by(rank, messages.c.id.desc()).limit(limit))

    # ------------------------------------------------------------------------------------------ message vectors
    # See sqlite_vectors.py: a vec0 table partitioned by workspace, exact scans with filters checked inside.

    def _need_vectors(self) -> None:
        if self._dbapi is None:
            raise VectorsUnavailable("vector search needs an SQLite driver that can load sqlite-vec "
                                     "(pip install sqlean.py sqlite-vec)")

    async def create_vector_table(self, conn: AsyncConnection, dimensions: int, *, with_index: bool = True) -> None:
        self._need_vectors()
        await sqlite_vectors.create(conn, dimensions)

    async def build_vector_index(self, conn: AsyncConnection) -> None:
        """Nothing to build: sqlite-vec 0.1.9 searches by exact scan."""
        self._need_vectors()

    async def drop_vector_table(self, conn: AsyncConnection) -> None:
        self._need_vectors()
        await sqlite_vectors.drop(conn)

    async def vector_table_dimensions(self, conn: AsyncConnection) -> int | None:
        return await sqlite_vectors.dimensions(conn)

    async def store_vectors(self, conn: AsyncConnection,
                            rows: Sequence[tuple[int, Sequence[float] | np.ndarray]]) -> int:
        self._need_vectors()
        return await sqlite_vectors.store(conn, rows)

    async def nearest_messages(self, conn: AsyncConnection, query: Sequence[float] | np.ndarray, k: int,
                               scope: VectorScope) -> list[tuple[int, float]]:
        self._need_vectors()
        check_k(k)
        if k <= 0 or scope.is_empty():
            return []
        return await sqlite_vectors.nearest(conn, query, k, scope)

    async def message_vectors(self, conn: AsyncConnection, workspace_id: int,
                              message_ids: Sequence[int]) -> dict[int, np.ndarray]:
        self._need_vectors()
        return await sqlite_vectors.vectors(conn, workspace_id, message_ids)

    async def similarities(self, conn: AsyncConnection, workspace_id: int, query: Sequence[float] | np.ndarray,
                           message_ids: Sequence[int]) -> dict[int, float]:
        self._need_vectors()
        return await sqlite_vectors.similarities(conn, workspace_id, query, message_ids)

    async def count_vectors(self, conn: AsyncConnection, workspace_id: int | None = None) -> int:
        self._need_vectors()
        return await sqlite_vectors.count(conn, workspace_id)


def _warn_no_vectors() -> None:
    global _warned_no_vectors
    if not _warned_no_vectors:
        _warned_no_vectors = True
        log.warning("No SQLite driver here can load sqlite-vec (pip install sqlean.py sqlite-vec): running without "
                    "vector search; full-text search still works.")


def _fts_query(terms: list[str]) -> str:
    """An FTS5 expression matching any term; each term is quoted, so no input is read as syntax."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _register_functions(raw_conn: Any) -> None:
    """Register the JSON helpers on a sqlite3 connection (aiosqlite wraps one)."""
    target = getattr(raw_conn, "_conn", raw_conn)  # aiosqlite.Connection keeps the sqlite3 one here
    target.create_function("honcho_json_contains", 2, jsonsem.sql_contains, deterministic=True)
    target.create_function("honcho_json_text", 2, jsonsem.sql_text, deterministic=True)
    target.create_function("honcho_json_number", 2, jsonsem.sql_number, deterministic=True)
    # The full-text index's context column (migration 0005): the last words of the previous message.
    target.create_function("honcho_tail_words", 2, tail_words, deterministic=True)


def tail_words(text: str | None, count: int) -> str:
    """The last `count` whitespace-separated words of `text`."""
    return " ".join(text.split()[-count:]) if text else ""
