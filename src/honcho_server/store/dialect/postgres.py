"""PostgreSQL through asyncpg: JSONB operators, native upserts, pgvector."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Select,
    Table,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    not_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB, TSQUERY, TSVECTOR
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.store.dialect import jsonsem, pg_vectors
from honcho_server.store.dialect.base import Dialect, VectorScope, check_k

# A statement-level trigger on `jobs` (migration 0003) notifies this channel; PostgreSQL delivers it at commit.
JOBS_CHANNEL = "honcho_jobs"
# Full-text matching bounds (see `text_search`): rows ranked per query; rows of the table a word may be in and
# still count as rare; rows the all-words match may be estimated at.
TEXT_POOL, TEXT_RARE_MAX, TEXT_ALL_MAX = 500, 5_000, 20_000


def _lexeme_rows(words: str) -> str:
    """FROM clause: each lexeme `l` of the query with `f`, the share of rows holding it in ANALYZE's most-common
    list of `messages.content_tsv` (NULL when not listed), and `n_rows`, the table's row estimate."""
    return (
        f"FROM unnest(tsvector_to_array(to_tsvector('english', CAST(:{words} AS text)))) AS l "
        "LEFT JOIN (SELECT x.e, x.f FROM pg_stats s, unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), "
        "s.most_common_elem_freqs) AS x(e, f) WHERE s.schemaname = current_schema() AND s.tablename = 'messages' "
        "AND s.attname = 'content_tsv') AS st ON st.e = l "
        "CROSS JOIN (SELECT greatest(c.reltuples, 0) AS n_rows FROM pg_class c "
        "WHERE c.oid = to_regclass('messages')) AS tbl")


# The query's rare lexemes OR-ed (NULL when none; quotes and backslashes escaped for the tsquery syntax), and
# whether its all-words match is small (words taken as independent: the product of their shares).
_RARE_WORDS = ("SELECT CAST(string_agg('''' || regexp_replace(l, '([''\\\\])', '\\\\\\1', 'g') || '''', ' | ') "
               f"AS tsquery) {_lexeme_rows('fts_rare')} WHERE coalesce(st.f, 0) * tbl.n_rows <= :fts_rare_max")
_ALL_WORDS_SMALL = ("SELECT coalesce(exp(sum(ln(greatest(coalesce(st.f, 0), 1e-9)))) * max(tbl.n_rows), 0) "
                    f"<= :fts_all_max {_lexeme_rows('fts_all')}")


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
        words = " ".join(terms)
        every = cast(func.plainto_tsquery("english", words), TSQUERY)
        tsquery = cast(func.replace(cast(every, Text), "&", "|"), TSQUERY)
        vector = literal_column("messages.content_tsv", TSVECTOR)
        matches = vector.op("@@", is_comparison=True)
        # Weights {D, C, B, A}: the message itself is A, the context (the turn it answers) C at 0.3.
        rank = func.ts_rank_cd(literal_column("'{0.1, 0.3, 0.4, 1.0}'::float4[]"), vector, tsquery)
        # Bounded by design (bench/search_1m.py): GIN answers an OR by building a bitmap of every match (~0.4 us
        # each) and ranking costs ~8 us a row, so a common word, or a peer's name (indexed with each message),
        # cost seconds at 1M messages. So the rows that can match are those holding every word (skipped when
        # the statistics estimate that at over TEXT_ALL_MAX rows) and those holding one of the query's rare
        # words (in at most TEXT_RARE_MAX rows of the table); at most TEXT_POOL of them are ranked, all-words
        # ones first. Small tables behave as before: none of their words is common.
        matching = select(messages.c.id.label("id"), rank.label("text_score")).where(query.whereclause)
        all_ok = text(_ALL_WORDS_SMALL).bindparams(fts_all=words, fts_all_max=TEXT_ALL_MAX).columns(
            column("ok", Boolean)).scalar_subquery()
        rare = text(_RARE_WORDS).bindparams(fts_rare=words, fts_rare_max=TEXT_RARE_MAX).columns(
            column("q", TSQUERY)).scalar_subquery()
        pool = union_all(matching.where(all_ok, matches(every)), matching.where(matches(rare), not_(matches(every)))
                         ).limit(TEXT_POOL).cte("text_pool").prefix_with("MATERIALIZED")  # evaluated once
        return (query.join_from(messages, pool, pool.c.id == messages.c.id).add_columns(pool.c.text_score)
                .order_by(pool.c.text_score.desc(), messages.c.id.desc()))

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

    async def count_vectors(self, conn: AsyncConnection, workspace_id: int | None = None) -> int:
        return await pg_vectors.count(conn, workspace_id)
