"""PostgreSQL through asyncpg: JSONB operators, native upserts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
    literal_column,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, TSQUERY, TSVECTOR
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL

from honcho_server.store.dialect import jsonsem
from honcho_server.store.dialect.base import Dialect

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

    def text_search(self, messages: Table, query: Select[Any], terms: list[str]) -> Select[Any]:
        # plainto_tsquery stems and drops stop words safely; the AND it builds becomes OR so that a
        # natural-language question matches messages sharing any of its words, ranked by cover density.
        tsquery = func.replace(cast(func.plainto_tsquery("english", " ".join(terms)), Text), "&", "|")
        tsquery = cast(tsquery, TSQUERY)
        vector = literal_column("messages.content_tsv", TSVECTOR)
        return (query.where(vector.op("@@")(tsquery))
                .order_by(func.ts_rank_cd(vector, tsquery).desc(), messages.c.id.desc()))

    def json_number(self, column: Any, key: str) -> ColumnElement[float]:
        text = self.json_text(column, key)
        # Cast only what looks like a number: a bad cast would abort the whole query.
        return case((text.op("~", is_comparison=True)(jsonsem.NUMBER_PATTERN), cast(text, Float)), else_=None)
