"""PostgreSQL full-text ranking compared with SQLite FTS5 bm25, on the same messages and questions.

    /tmp/labenv/bin/python pg_lexical.py          # needs `pgserver` and `psycopg[binary]` in the env

Ranks each question's OR-query (same terms as lexical.fts_query, joined with '|') with
  ts_rank / ts_rank_cd (normalisation 0 and 1)   PostgreSQL's built-in rankers (no idf)
  bm25-sql                                       BM25 (k1=1.2, b=0.75, FTS5's idf) computed in SQL from the
                                                 tsvector: tf = number of positions, df = per-lexeme count in
                                                 the conversation, dl = token count stored at insert
and prints recall@5/10/20 next to FTS5 (message text prefixed with the speaker in every case), plus the
p50 query time of bm25-sql.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import lab
import pgserver
import psycopg
from lexical import terms

BM25_SQL = """
WITH q AS (SELECT to_tsquery('english', %(q)s) AS q),
     qlex AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %(text)s))),
     stats AS (SELECT count(*)::float8 AS n, avg(ntok)::float8 AS avgdl FROM msg WHERE conv = %(conv)s),
     df AS (SELECT lexeme, (SELECT count(*) FROM msg m WHERE m.conv = %(conv)s
                             AND m.tsv @@ quote_literal(qlex.lexeme)::tsquery)::float8 AS df FROM qlex),
     cand AS (SELECT m.pos, m.ntok, m.tsv FROM msg m, q WHERE m.conv = %(conv)s AND m.tsv @@ q.q)
SELECT c.pos,
       sum(greatest(ln((s.n - df.df + 0.5) / (df.df + 0.5)), 1e-6)
           * cardinality(u.positions) * 2.2
           / (cardinality(u.positions) + 1.2 * (0.25 + 0.75 * c.ntok / s.avgdl))) AS score
FROM cand c CROSS JOIN LATERAL unnest(c.tsv) u JOIN df ON df.lexeme = u.lexeme CROSS JOIN stats s
GROUP BY c.pos ORDER BY score DESC, c.pos LIMIT %(n)s
"""

RANK_SQL = """
SELECT pos FROM msg, to_tsquery('english', %(q)s) q
WHERE conv = %(conv)s AND tsv @@ q ORDER BY {fn}(tsv, q, {norm}) DESC, pos LIMIT %(n)s
"""


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="retrieval_lab_pg_")
    server = pgserver.get_server(tmp, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        db.execute("CREATE TABLE msg (conv int, pos int, body text, tsv tsvector, ntok int)")
        db.execute("CREATE INDEX ON msg USING gin (tsv)")
        print("| dataset | ranker | R@5 | R@10 | R@20 |\n|---|---|---|---|---|")
        for ds in ("locomo", "beam"):
            db.execute("TRUNCATE msg")
            convs = lab.dataset(ds)
            for ci, conv in enumerate(convs):
                texts, _ = lab.view_texts(conv, "speaker")
                with db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO msg (conv, pos, body) VALUES (%s, %s, %s)",
                        [(ci, i, t) for i, t in enumerate(texts)],
                    )
            db.execute("UPDATE msg SET tsv = to_tsvector('english', body)")
            db.execute("UPDATE msg SET ntok = (SELECT coalesce(sum(cardinality(positions)), 0) FROM unnest(tsv))")
            db.execute("ANALYZE msg")
            rankers = {
                f"{fn}/{norm}": RANK_SQL.format(fn=fn, norm=norm) for fn in ("ts_rank", "ts_rank_cd") for norm in (0, 1)
            }
            rankers["bm25-sql"] = BM25_SQL
            for name, sql in rankers.items():
                rankings, times = [], []
                for ci, conv in enumerate(convs):
                    rows = []
                    for q in conv.questions:
                        t = terms(q.text)
                        args = {"q": " | ".join(t) or "''", "text": " ".join(t), "conv": ci, "n": 20}
                        t0 = time.perf_counter()
                        rows.append([r[0] for r in db.execute(sql, args).fetchall()] if t else [])
                        times.append(time.perf_counter() - t0)
                    rankings.append(rows)
                r = lab.recall(ds, rankings)
                extra = f" (p50 {statistics.median(times) * 1000:.1f} ms)" if name == "bm25-sql" else ""
                print(f"| {ds} | {name}{extra} | {r[5]:.3f} | {r[10]:.3f} | {r[20]:.3f} |", flush=True)
    server.cleanup()


if __name__ == "__main__":
    main()
