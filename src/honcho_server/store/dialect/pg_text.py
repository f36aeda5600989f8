"""Full-text candidates on PostgreSQL: any-word matching on the stored `content_tsv`, scored BM25-style, bounded.

Scoring: each query lexeme the message holds counts `idf(lexeme) * ts_rank(weights, content_tsv, lexeme)`: its
rarity (BM25's inverse document frequency, from ANALYZE's most-common-lexeme statistics of the column) times
ts_rank's weighted, saturating frequency of that word in the message (weight A) and its context (the turn it
answers, weight C at 0.3). Without the IDF a match on a speaker's name, indexed with every message they wrote,
counts like one on "Lisbon".

Bounds (bench/search_1m.py): GIN answers an OR by building a bitmap of every match and scoring costs
microseconds a row, so a common word, or a peer's name, cost seconds at 1M messages. So the rows that can match
are those holding every word (skipped when the statistics put that at over TEXT_ALL_MAX rows) and those holding
one of the query's rare words (in at most TEXT_RARE_MAX rows of the table); at most TEXT_POOL of them are
scored, all-words ones first. In tables under TEXT_RARE_MAX rows every word is rare: every match is scored, up
to TEXT_POOL. A scope of at most SCAN_SCOPE_MAX rows (a session, or a workspace found to be that small when a
common word would otherwise be dropped) is scanned row by row and matched on any word.

The statistics are read once a minute per database and the query's lexemes are computed by PostgreSQL (its
stemmer and stop words) in one small statement, so the search statement itself stays simple to plan (reading
`pg_stats` inside it cost ~7 ms of planning per query).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, Select, Table, bindparam, false, func, literal_column, not_, select, text, union_all
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import ColumnClause

# Rows scored per query; rows of the table a word may be in and still count as rare; rows the all-words match
# may be estimated at.
TEXT_POOL, TEXT_RARE_MAX, TEXT_ALL_MAX = 2_000, 5_000, 20_000
STATS_TTL = 60.0  # seconds a reading of the statistics is used
SCAN_SCOPE_MAX = 5_000  # scopes known to hold at most this many rows are scanned rather than index-searched
# Weights {D, C, B, A}: the message itself is A, the context (the turn it answers) C at 0.3.
_WEIGHTS: ColumnClause[Any] = literal_column("'{0.1, 0.3, 0.4, 1.0}'::float4[]")
_TSV = literal_column("messages.content_tsv", TSVECTOR)

_LEXEMES = text("SELECT coalesce(tsvector_to_array(to_tsvector('english', :words)), '{}')")
_STATS = text(
    "SELECT greatest(c.reltuples, 0), CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs "
    "FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'messages' "
    "AND s.attname = 'content_tsv' WHERE c.oid = to_regclass('messages')")


@dataclass(slots=True)
class LexemeStats:
    """The table's row estimate and the share of rows holding each of its most common lexemes."""

    rows: float = 0.0
    share: dict[str, float] = field(default_factory=dict)
    read_at: float = -math.inf
    # The share assumed for a lexeme not listed: half the least common listed one (the planner's rule).
    floor: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.floor = min(self.share.values()) / 2 if self.share else 0.0

    def rows_with(self, lexeme: str) -> float:
        return self.share.get(lexeme, self.floor) * self.rows

    def is_rare(self, lexeme: str) -> bool:
        return self.share.get(lexeme, 0.0) * self.rows <= TEXT_RARE_MAX

    def all_words_small(self, lexemes: list[str]) -> bool:
        """Whether rows holding every lexeme are few, taking the words as independent."""
        return self.rows * math.prod(max(self.share.get(x, 0.0), 1e-9) for x in lexemes) <= TEXT_ALL_MAX

    def idf(self, lexeme: str) -> float:
        df = self.rows_with(lexeme)
        return math.log(1 + (self.rows - df + 0.5) / (df + 0.5))


class TextStats:
    """Per-database cache of LexemeStats, refreshed every STATS_TTL seconds."""

    def __init__(self) -> None:
        self._stats = LexemeStats()

    async def get(self, conn: AsyncConnection) -> LexemeStats:
        if time.monotonic() - self._stats.read_at < STATS_TTL:
            return self._stats
        rows, elems, freqs = (await conn.execute(_STATS)).one()
        # most_common_elem_freqs lists one share per element, then the minimum, maximum and null share.
        share = dict(zip(elems or [], (freqs or [])[: len(elems or [])], strict=True))
        self._stats = LexemeStats(float(rows or 0.0), share, time.monotonic())
        return self._stats


def _nothing(query: Select[Any]) -> Select[Any]:
    """The query matching no row, with the `text_score` column callers read."""
    return query.where(false()).add_columns(literal_column("0.0", Float).label("text_score"))


async def _rows_up_to(conn: AsyncConnection, scoped: Select[Any], bound: int) -> int:
    """How many rows the scope holds, counted up to `bound` (an index range scan of at most that many rows)."""
    return int((await conn.execute(select(func.count()).select_from(scoped.limit(bound).subquery()))).scalar_one())


def _tsquery(lexemes: list[str], op: str) -> str:
    """Lexemes (already stemmed) joined by `op`, each quoted for the tsquery syntax."""
    return f" {op} ".join("'" + x.replace("\\", "\\\\").replace("'", "''") + "'" for x in lexemes)


async def text_search(conn: AsyncConnection, stats_cache: TextStats, messages: Table, query: Select[Any],
                      terms: list[str], limit: int, scope_rows: int | None = None) -> Select[Any]:
    lexemes: list[str] = list((await conn.execute(_LEXEMES, {"words": " ".join(terms)})).scalar_one())
    if not lexemes:
        return _nothing(query)
    stats = await stats_cache.get(conn)
    if query.whereclause is None:  # every caller scopes the query to a workspace: an unscoped one is a bug
        raise ValueError("text_search needs a query with a WHERE clause")
    scoped = select(messages.c.id.label("id"), _TSV.label("tsv")).where(query.whereclause)
    rare = [x for x in lexemes if stats.is_rare(x)]
    if scope_rows is None and len(rare) < len(lexemes) and not stats.all_words_small(lexemes):
        # The bounds below would drop a common word's matches (a cost guard for large scopes); a small scope,
        # e.g. a young workspace in a busy database, costs little to scan, and there every match counts.
        scope_rows = await _rows_up_to(conn, scoped, SCAN_SCOPE_MAX + 1)
    if scope_rows is not None and scope_rows <= SCAN_SCOPE_MAX:
        # A small scope's rows are cheaper to check one by one than the GIN index, whose bitmap for common
        # words spans every workspace (12 ms at 1M messages, against ~1 ms for 1,000 rows), and cheap enough to
        # match on any word. OFFSET 0 keeps the planner from pushing the match into the scan and back onto the
        # index.
        scan = scoped.offset(0).subquery("text_scope")
        some = bindparam("fts_some", _tsquery(lexemes, "|"), type_=TSQUERY)
        branches = [select(scan.c.id, scan.c.tsv).where(scan.c.tsv.op("@@", is_comparison=True)(some))]
    else:
        matches = _TSV.op("@@", is_comparison=True)
        every = bindparam("fts_every", _tsquery(lexemes, "&"), type_=TSQUERY)
        branches = []
        if stats.all_words_small(lexemes):
            branches.append(scoped.where(matches(every)))
        if rare:
            some_rare = bindparam("fts_rare", _tsquery(rare, "|"), type_=TSQUERY)
            branches.append(scoped.where(matches(some_rare), not_(matches(every))))
    if not branches:
        return _nothing(query)
    # Materialized CTEs: each is computed once whatever the plan; the pool carries its tsvectors so scoring
    # needs no second visit to the table, and only the best `limit` rows are joined back to `messages`
    # (joining the whole pool made small tables hash-join a full scan of `messages`).
    pool = union_all(*branches).limit(TEXT_POOL).cte("text_pool").prefix_with("MATERIALIZED")
    score = sum((stats.idf(x) * func.ts_rank(_WEIGHTS, pool.c.tsv, bindparam(f"fts_lexeme_{i}", _tsquery([x], ""),
                                                                            type_=TSQUERY))
                 for i, x in enumerate(lexemes)), start=literal_column("0.0", Float))
    ranked = (select(pool.c.id, score.label("text_score"))
              .order_by(literal_column("text_score").desc(), pool.c.id.desc())
              .limit(limit).cte("text_ranked").prefix_with("MATERIALIZED"))
    return (query.join_from(messages, ranked, ranked.c.id == messages.c.id).add_columns(ranked.c.text_score)
            .order_by(ranked.c.text_score.desc(), messages.c.id.desc()).limit(limit))
