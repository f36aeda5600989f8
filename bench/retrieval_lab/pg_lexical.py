"""PostgreSQL full-text ranking next to SQLite FTS5 bm25, on the same messages and questions.

    /tmp/labenv/bin/python pg_lexical.py          # needs `pgserver` and `psycopg[binary]` in the env

Each question's terms (lexical.terms) become the tsquery 't1 | t2 | ...' (config 'english'). Rankers:
  ts_rank/N, ts_rank_cd/N    PostgreSQL's built-in rankers (normalisation N; no idf), one tsvector per message
  bm25                       BM25 exactly as FTS5 computes it (k1=1.2, b=0.75, idf = ln((N-n+0.5)/(n+0.5))
                             floored at 1e-6, column weights multiply term frequencies, dl = all tokens of the
                             row), evaluated in SQL over a postings table (scope, lexeme, message, weighted tf, dl)
                             filled at insert time from the message's tsvector
For bm25 the recommended 3-column document (lead/rest/prev, see RESULTS.md) is carried as tsvector weight labels
A (lead, 1.0), D (rest, 0.1), B (prev, 0.3). Last, the bm25 query's p50/p90 time in one 11,614-message scope.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import lab
import pgserver
import psycopg
from lexical import terms

WEIGHTS = {"A": 1.0, "B": 0.3, "D": 0.1}

BM25_SQL = """
WITH qlex AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %(text)s))),
     st AS (SELECT n, avgdl FROM scope_stats WHERE scope = %(scope)s),
     p AS (SELECT post.lexeme, post.pos, post.wtf, post.dl FROM post JOIN qlex USING (lexeme)
           WHERE post.scope = %(scope)s),
     df AS (SELECT lexeme, count(*)::float8 AS df FROM p GROUP BY lexeme)
SELECT p.pos,
       sum(greatest(ln((st.n - df.df + 0.5) / (df.df + 0.5)), 1e-6)
           * p.wtf * 2.2 / (p.wtf + 1.2 * (0.25 + 0.75 * p.dl / st.avgdl))) AS score
FROM p JOIN df USING (lexeme) CROSS JOIN st
GROUP BY p.pos ORDER BY score DESC, p.pos LIMIT %(n)s
"""

RANK_SQL = """
SELECT pos FROM msg, to_tsquery('english', %(q)s) q
WHERE scope = %(scope)s AND tsv @@ q ORDER BY {fn}(tsv, q, {norm}) DESC, pos LIMIT %(n)s
"""


def load(db, scopes: list[list[tuple[str, str, str]]]) -> None:
    """scopes[s] = messages as (lead, prev, rest) texts; builds msg, post and scope_stats."""
    db.execute("TRUNCATE msg, post, scope_stats")
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO msg (scope, pos, tsv) VALUES (%s, %s, setweight(to_tsvector('english', %s), 'A')"
            " || setweight(to_tsvector('english', %s), 'B') || setweight(to_tsvector('english', %s), 'D'))",
            [(s, i, *doc) for s, docs in enumerate(scopes) for i, doc in enumerate(docs)],
        )
    db.execute("UPDATE msg SET dl = (SELECT coalesce(sum(cardinality(positions)), 0) FROM unnest(tsv))")
    w = " ".join(f"WHEN '{k}' THEN {v}" for k, v in WEIGHTS.items())
    db.execute(
        "INSERT INTO post SELECT scope, u.lexeme, pos,"
        f" (SELECT sum(CASE x {w} END) FROM unnest(u.weights) x), dl FROM msg, unnest(tsv) u"
    )
    db.execute("INSERT INTO scope_stats SELECT scope, count(*), avg(dl) FROM msg GROUP BY scope")
    db.execute("ANALYZE")


def rank(db, sql: str, scope: int, text: str) -> tuple[list[int], float]:
    t = terms(text)
    if not t:
        return [], 0.0
    args = {"q": " | ".join(t), "text": " ".join(t), "scope": scope, "n": 20}
    t0 = time.perf_counter()
    rows = db.execute(sql, args).fetchall()
    return [r[0] for r in rows], time.perf_counter() - t0


def docs(conv, view: str) -> list[tuple[str, str, str]]:
    if view == "speaker":
        return [(t, "", "") for t in lab.view_texts(conv, "speaker")[0]]
    lead, rest, prev = (lab.view_texts(conv, v)[0] for v in ("lead50", "rest50", "prevw25"))
    return list(zip(lead, prev, rest, strict=True))


def main() -> None:
    server = pgserver.get_server(tempfile.mkdtemp(prefix="retrieval_lab_pg_"), cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        db.execute("CREATE TABLE msg (scope int, pos int, tsv tsvector, dl int, PRIMARY KEY (scope, pos))")
        db.execute("CREATE INDEX ON msg USING gin (tsv)")
        db.execute("CREATE TABLE post (scope int, lexeme text, pos int, wtf float8, dl int)")
        db.execute("CREATE INDEX ON post (scope, lexeme)")
        db.execute("CREATE TABLE scope_stats (scope int PRIMARY KEY, n float8, avgdl float8)")
        print("| dataset | document | ranker | R@5 | R@10 | R@20 |\n|---|---|---|---|---|---|")
        for ds in ("locomo", "beam"):
            convs = lab.dataset(ds)
            for view in ("speaker", "lead50+rest50+prevw25"):
                load(db, [docs(c, view) for c in convs])
                rankers = {"bm25": BM25_SQL}
                if view == "speaker":
                    rankers |= {
                        f"{fn}/{n}": RANK_SQL.format(fn=fn, norm=n) for fn in ("ts_rank", "ts_rank_cd") for n in (0, 1)
                    }
                for name, sql in rankers.items():
                    rk = [[rank(db, sql, ci, q.text)[0] for q in c.questions] for ci, c in enumerate(convs)]
                    r = lab.recall(ds, rk)
                    print(f"| {ds} | {view} | {name} | {r[5]:.3f} | {r[10]:.3f} | {r[20]:.3f} |", flush=True)
        big = [m for ds in ("locomo", "beam") for c in lab.dataset(ds) for m in docs(c, "lead50+rest50+prevw25")]
        load(db, [big])
        qs = [q.text for ds in ("locomo", "beam") for c in lab.dataset(ds) for q in c.questions]
        times = sorted(rank(db, BM25_SQL.replace("%(n)s", "100"), 0, q)[1] for q in qs)
        print(
            f"\nbm25 top-100 in one scope of {len(big)} messages, {len(qs)} queries: "
            f"p50 {statistics.median(times) * 1000:.1f} ms, p90 {times[int(len(times) * 0.9)] * 1000:.1f} ms"
        )
    server.cleanup()


if __name__ == "__main__":
    main()
