"""PostgreSQL through asyncpg: JSONB operators, native upserts, pgvector."""

from __future__ import annotations

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
    func,
    literal,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TableValuedAlias

from honcho_server.store.dialect import jsonsem, pg_text, pg_vectors
from honcho_server.store.dialect.base import Dialect, VectorScope, check_k

# A statement-level trigger on `jobs` (migration 0003) notifies this channel; PostgreSQL delivers it at commit.
JOBS_CHANNEL = "honcho_jobs"
class PostgresDialect(Dialect):
    name = "postgresql"
    # Reads run in autocommit: no BEGIN/COMMIT round trips, and never an idle-in-transaction connection.
    read_options = {"isolation_level": "AUTOCOMMIT"}

    def async_url(self, url: URL) -> URL:
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
            # No pre-ping: it costs a round trip on every checkout. Recycling bounds connection age instead,
            # and a connection that died is discarded by the pool when its error surfaces.
            "pool_recycle": 1800,
        }

    async def listen_jobs(self, url: URL, wake: Callable[[], None]) -> Callable[[], Awaitable[None]] | None:
        import asyncpg

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await asyncpg.connect(dsn)
        await listener.add_listener(JOBS_CHANNEL, lambda *_: wake())
        return listener.close

    def insert(self, table: Table) -> Any:
        return pg_insert(table)

    def json_contains(self, column: Any, value: Any) -> ColumnElement[bool]:
        return type_coerce(column, JSONB).op("@>", is_comparison=True)(cast(literal(value, JSONB), JSONB))

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
