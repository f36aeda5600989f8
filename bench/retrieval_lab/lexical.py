"""Full-text retrieval through real SQLite FTS5 (tokenize='porter unicode61', bm25), as the server runs it.

Query construction (`fts_query`): a natural-language question ANDed matches almost nothing, so the question is
cut into unicode61 tokens (runs of letters/digits; apostrophes and punctuation separate), lower-cased; stopwords
and one-letter non-digit tokens are dropped; duplicates removed; each remaining term is double-quoted (so no
term can be read as FTS5 syntax: AND/OR/NOT/NEAR, column filters, '*', '^') and the terms are ORed:
    "When did Caroline go to the LGBTQ support group?"  ->  "caroline" OR "go" OR "lgbtq" OR "support" OR "group"
FTS5 applies the porter stemmer to query terms as well, so "went"/"going" forms of documents still meet "go"
only through stemming (porter does not map irregular forms). bm25() uses k1=1.2, b=0.75 (fixed in FTS5).
"""

from __future__ import annotations

import math
import re
import sqlite3

# General English function words and question words (written for this lab; not tuned to either dataset).
_STOPWORD_TEXT = """
a about above after again against all am an and any are aren as at be because been before being below between
both but by can cannot could couldn did didn do does doesn doing don down during each few for from further had
hadn has hasn have haven having he her here hers herself him himself his how i if in into is isn it its itself
just let ll me more most my myself no nor not now of off on once only or other ought our ours ourselves out over
own re same shan she should shouldn so some such than that the their theirs them themselves then there these
they this those through to too under until up ve very was wasn we were weren what when where which while who
whom why will with won would wouldn you your yours yourself yourselves s t d m o y also ever else yet
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    out = []
    for t in _TOKEN.findall(text.lower()):
        if t in stopwords or (len(t) < 2 and not t.isdigit()):
            continue
        if t not in out:
            out.append(t)
    return out


def fts_query(text: str, stopwords: frozenset[str] = STOPWORDS, prefix: bool = False) -> str:
    star = "*" if prefix else ""
    return " OR ".join(f'"{t}"{star}' for t in terms(text, stopwords))


class FTSIndex:
    """One in-memory FTS5 table per conversation.

    rows: one tuple of column texts per indexed row; owner[r] = message position of row r (several rows may
    belong to one message, e.g. chunks; a message's score is then its best row's). weights: bm25() column weights.
    """

    def __init__(
        self,
        rows: list[tuple[str, ...]],
        owner=None,
        weights: tuple[float, ...] | None = None,
        tokenize: str = "porter unicode61",
    ):
        ncol = len(rows[0])
        cols = ", ".join(f"c{j}" for j in range(ncol))
        self.db = sqlite3.connect(":memory:")
        self.db.execute(f"CREATE VIRTUAL TABLE m USING fts5({cols}, tokenize='{tokenize}')")
        self.db.executemany(
            f"INSERT INTO m(rowid, {cols}) VALUES (?{', ?' * ncol})", ((r, *row) for r, row in enumerate(rows))
        )
        self.owner = list(range(len(rows))) if owner is None else [int(o) for o in owner]
        self.chunked = self.owner != list(range(len(rows)))
        self.bm25 = f"bm25(m, {', '.join(map(str, weights))})" if weights else "bm25(m)"

    def search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(message position, score) best first; score = -bm25 (higher is better)."""
        if not match:
            return []
        fetch = limit * 8 if self.chunked else limit
        rows = self.db.execute(
            f"SELECT rowid, -{self.bm25} AS s FROM m WHERE m MATCH ? ORDER BY s DESC LIMIT ?", (match, fetch)
        ).fetchall()
        out: dict[int, float] = {}
        for r, s in rows:
            o = self.owner[r]
            if o not in out:
                out[o] = float(s)
        return list(out.items())[:limit]

    def idf(self, term: str) -> float:
        """FTS5's own bm25 idf for one (unstemmed) term: ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6."""
        n = self.db.execute("SELECT count(*) FROM m WHERE m MATCH ?", (f'"{term}"',)).fetchone()[0]
        rows = self.db.execute("SELECT count(*) FROM m").fetchone()[0]
        return max(1e-6, math.log((rows - n + 0.5) / (n + 0.5)))
