"""PostgreSQL through asyncpg: JSONB operators, native upserts, pgvector."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    Text,
    case,
    cast,
    event,
    func,
    literal,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TableValuedAlias

from honcho_server.store.dialect import jsonsem, pg_text, pg_vectors
from honcho_server.store.dialect.base import Dialect, DriverMissing, VectorScope, check_k, exception_chain

# A statement-level trigger on `jobs` (migration 0003) notifies this channel; PostgreSQL delivers it at commit.
JOBS_CHANNEL = "honcho_jobs"

# A pooled connection idle for longer than this is pinged before use (see `configure_engine`).
IDLE_PING_SECONDS = 2.0

# SQLSTATEs that mean PostgreSQL cannot serve requests now (answered 503): what an operator would call it.
_FAULT_STATES = {
    "57P01": "PostgreSQL is shutting down (administrator command)",
    "57P02": "PostgreSQL crashed and is restarting",
    "25006": "the database is read-only (a standby, or a failover in progress)",
    "53100": "disk full on the PostgreSQL server",
    "53200": "PostgreSQL is out of memory",
    "53300": "PostgreSQL has too many connections",
    "53000": "PostgreSQL is out of resources",
    "58030": "a disk I/O error on the PostgreSQL server",
}
# Errors after which a pooled connection is worth nothing: it is discarded (a failover needs a new connection).
_DISCARD_STATES = ("57P01", "57P02", "25006")


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def _is_confused(exc: BaseException) -> bool:
    """asyncpg's protocol state is broken ("cannot switch to state ...; another operation is in progress"): seen
    on connections that were mid-statement when PostgreSQL shut down. The connection must not be used again."""
    import asyncpg

    return isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc)


class PostgresDialect(Dialect):
    name = "postgresql"
    # Reads run in autocommit: no BEGIN/COMMIT round trips, and never an idle-in-transaction connection.
    read_options = {"isolation_level": "AUTOCOMMIT"}

    def async_url(self, url: URL) -> URL:
        if importlib.util.find_spec("asyncpg") is None:  # an extra: the default install serves SQLite only
            raise DriverMissing("PostgreSQL needs the asyncpg driver, which is not installed: "
                                "pip install 'honcho-server[postgres]'")
        query = dict(url.query)
        # libpq spells TLS `sslmode`; asyncpg calls it `ssl`.
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
        return url.set(drivername="postgresql+asyncpg", query=query)

    def engine_options(self, settings: Any) -> dict[str, Any]:
        return {
            "echo": settings.echo,
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            # No pre-ping on every checkout (a round trip on the hot path): connections idle for a while are
            # pinged instead (configure_engine), and recycling bounds connection age.
            "pool_recycle": 1800,
            # asyncpg waits 60 s by default for an unreachable host; a request should get its 503 sooner.
            "connect_args": {"timeout": getattr(settings, "connect_timeout_seconds", 5.0)},
        }

    def configure_engine(self, engine: AsyncEngine) -> None:
        """Keep the pool honest across restarts and failovers, at no cost on the hot path.

        A connection checked out after sitting idle for IDLE_PING_SECONDS is pinged first, and replaced when the
        ping fails: after PostgreSQL restarted while the server was quiet, the first requests get fresh
        connections instead of errors. Under load connections are reused within milliseconds and never pinged;
        a restart then shows as a disconnect error on a live request (a 503), and SQLAlchemy discards every
        connection older than that error. Errors that leave a connection useless although still open (an
        administrator's shutdown, a read-only primary after a failover) are marked as disconnects too."""
        sync = engine.sync_engine

        @event.listens_for(sync, "checkin")
        def _idle_from(_dbapi_conn: Any, record: Any) -> None:
            record.info["honcho_idle_since"] = time.monotonic()

        @event.listens_for(sync, "checkout")
        def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            since = record.info.get("honcho_idle_since")
            if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
                return
            try:
                dbapi_conn.ping()
            except Exception as exc:  # the pool discards every connection as old as this one and tries again
                raise sa_exc.InvalidatePoolError(f"stale pooled connection: {exc}") from exc

        @event.listens_for(sync, "handle_error")
        def _discard_useless(context: Any) -> None:
            chain = exception_chain(context.original_exception)
            if any(_sqlstate(e) in _DISCARD_STATES or _is_confused(e) for e in chain):
                context.is_disconnect = True

    def is_driver_error(self, exc: BaseException) -> bool:
        import asyncpg

        return isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError))

    def fault_of(self, exc: BaseException) -> str | None:
        import asyncpg

        state = _sqlstate(exc)
        if state == "57P03":  # cannot connect now: say which of its cases
            message = str(exc).lower()
            if "starting up" in message:
                return "PostgreSQL is starting up"
            if "shutting down" in message:
                return "PostgreSQL is shutting down"
            return "PostgreSQL is in recovery"
        if state in _FAULT_STATES:
            return _FAULT_STATES[state]
        if (state and state.startswith("08")) or isinstance(exc, asyncpg.ConnectionDoesNotExistError):
            return "the connection to PostgreSQL was lost"
        if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
            return "the connection to PostgreSQL was lost"
        if _is_confused(exc):
            return "a connection to PostgreSQL was left unusable by a failure (it has been discarded)"
        if isinstance(exc, ConnectionRefusedError):
            return "PostgreSQL is unreachable (connection refused)"
        if isinstance(exc, FileNotFoundError):  # a unix socket that is not there
            return "PostgreSQL is unreachable (its socket is missing: is it running?)"
        if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            return "the connection to PostgreSQL was reset"
        if isinstance(exc, socket.gaierror):
            return "PostgreSQL's host name does not resolve"
        if isinstance(exc, TimeoutError):
            return "PostgreSQL did not answer in time"
        if isinstance(exc, OSError):
            return f"PostgreSQL is unreachable ({exc.strerror or exc})"
        return None

    async def listen_jobs(self, url: URL, wake: Callable[[], None],
                          lost: Callable[[], None]) -> Callable[[], Awaitable[None]] | None:
        import asyncpg

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await asyncpg.connect(dsn, timeout=10)
        try:
            listener.add_termination_listener(lambda *_: lost())
            await listener.add_listener(JOBS_CHANNEL, lambda *_: wake())
        except BaseException:
            listener.terminate()
            raise
        return listener.close

    def insert(self, table: Table) -> Any:
        return pg_insert(table)

    def json_contains(self, column: Any, value: Any) -> ColumnElement[bool]:
        return type_coerce(column, JSONB).op("@>", is_comparison=True)(cast(literal(value, JSONB), JSONB))

    def utc_day(self, column: Any) -> ColumnElement[str]:
        # Constants inlined, not bound: a GROUP BY repeating the expression must match the select list's text.
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM-DD'"),
                            type_=Text())

    def json_text(self, column: Any, key: str) -> ColumnElement[str]:
        # Typed as text: left untyped, the result is typed JSONB, and the text operators used on it
        # (ILIKE, comparisons with strings) are ones JSONB does not declare, which SQLAlchemy deprecates.
        return type_coerce(column, JSONB).op("->>", return_type=Text())(literal(key))

    def json_array_items(self, column: Any) -> TableValuedAlias:
        doc = type_coerce(column, JSONB)
        array = case((func.jsonb_typeof(doc) == "array", doc), else_=cast(literal("[]"), JSONB))
        return func.jsonb_array_elements_text(array).table_valued("value")

    async def refresh_message_text(self, conn: AsyncConnection, message_pks: Sequence[int]) -> None:
        pks = sorted({int(pk) for pk in message_pks})
        if pks:
            # The row trigger of migration 0005 recomputes `content_tsv` whenever `content` is assigned.
            await conn.execute(text("UPDATE messages SET content = content WHERE id = ANY(:pks)"), {"pks": pks})

    def __init__(self) -> None:
        self._text_stats = pg_text.TextStats()  # the full-text statistics of this database, read once a minute

    async def text_search(self, conn: AsyncConnection, messages: Table, query: Select[Any], terms: list[str],
                          limit: int, scope_rows: int | None = None) -> Select[Any]:
        """Any-word matches scored BM25-style and bounded at any table size: see pg_text.py."""
        return await pg_text.text_search(conn, self._text_stats, messages, query, terms, limit, scope_rows)

    def json_number(self, column: Any, key: str) -> ColumnElement[float]:
        text = self.json_text(column, key)
        # Cast only what looks like a number: a bad cast would abort the whole query.
        return case((text.op("~", is_comparison=True)(jsonsem.NUMBER_PATTERN), cast(text, Float)), else_=None)

    # ------------------------------------------------------------------------------------------ message vectors
    # See pg_vectors.py: partitions by workspace bucket with HNSW each, bounded counts pick exact or HNSW.

    @property
    def vectors_available(self) -> bool:
        """Always True: PostgreSQL needs the pgvector extension, and `create_vector_table` fails without it."""
        return True

    async def create_vector_table(self, conn: AsyncConnection, dimensions: int, *, with_index: bool = True) -> None:
        """Runs `CREATE EXTENSION IF NOT EXISTS vector`. Above 2000 dimensions (pgvector's HNSW limit) no HNSW
        index is made and every search is an exact scan of its scope."""
        await pg_vectors.create(conn, dimensions, with_index)

    async def lock_vector_setup(self, conn: AsyncConnection) -> None:
        await pg_vectors.lock_setup(conn)

    async def build_vector_index(self, conn: AsyncConnection) -> None:
        await pg_vectors.build_index(conn)

    async def drop_vector_table(self, conn: AsyncConnection) -> None:
        await pg_vectors.drop(conn)

    async def vector_table_dimensions(self, conn: AsyncConnection) -> int | None:
        return await pg_vectors.dimensions(conn)

    async def store_vectors(self, conn: AsyncConnection,
                            rows: Sequence[tuple[int, Sequence[float] | np.ndarray]]) -> int:
        return await pg_vectors.store(conn, rows)

    async def nearest_messages(self, conn: AsyncConnection, query: Sequence[float] | np.ndarray, k: int,
                               scope: VectorScope) -> list[tuple[int, float]]:
        """Exact when at most 5000 vectors are in scope (or above 2000 dimensions, or k > 1000); otherwise HNSW in
        the workspace's partition, retried and then done exactly if a filter left it short."""
        check_k(k)
        if k <= 0 or scope.is_empty():
            return []
        return await pg_vectors.nearest(conn, query, k, scope)

    async def message_vectors(self, conn: AsyncConnection, workspace_id: int,
                              message_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return await pg_vectors.vectors(conn, workspace_id, message_ids)

    async def similarities(self, conn: AsyncConnection, workspace_id: int, query: Sequence[float] | np.ndarray,
                           message_ids: Sequence[int]) -> dict[int, float]:
        return await pg_vectors.similarities(conn, workspace_id, query, message_ids)

    async def count_vectors(self, conn: AsyncConnection, workspace_id: int | None = None) -> int:
        return await pg_vectors.count(conn, workspace_id)
