"""Query-time cost of the recommended pipeline's parts at ~10k messages in one scope.

    /tmp/labenv/bin/python latency.py

One scope holding every LoCoMo turn and every BEAM message (11,614 messages), queried with all 1,891
questions, using the default configuration (pipeline.DEFAULT). Times, p50/p90 in ms:
  fts       FTS5 bm25 OR-query over the lead/rest/prev columns, top 100 (sqlite3, in memory)
  knn       brute-force cosine over 11,614 x 384 float32 vectors, top 100 (numpy; sqlite-vec is also brute force)
  qembed    MiniLM encoding of one question on CPU (torch threads = cores)
  fuse      score normalisation, convex combination, neighbour propagation, sort (pure Python)
Needs the embedding caches that run.py fills (it computes missing ones).
"""

from __future__ import annotations

import statistics
import time

import embed
import lab
import numpy as np
from lexical import FTSIndex, fts_query
from pipeline import DEFAULT, fuse


def pct(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"p50 {statistics.median(xs) * 1000:.2f} ms, p90 {xs[int(len(xs) * 0.9)] * 1000:.2f} ms"


def main() -> None:
    convs = lab.dataset("locomo") + lab.dataset("beam")
    views = DEFAULT["lex_view"].split("+")
    rows = [row for c in convs for row in zip(*(lab.view_texts(c, v)[0] for v in views), strict=True)]
    questions = [q.text for c in convs for q in c.questions]
    print(f"{len(rows)} messages, {len(questions)} queries")

    idx = FTSIndex(rows, None, DEFAULT["lex_weights"])
    t_fts, lex = [], []
    for q in questions:
        t0 = time.perf_counter()
        lex.append(idx.search(fts_query(q), 100))
        t_fts.append(time.perf_counter() - t0)
    print("fts   ", pct(t_fts))

    dv = np.concatenate(
        [
            lab.doc_vectors(ds, ci, "minilm", DEFAULT["dense_view"])[0]
            for ds in ("locomo", "beam")
            for ci in range(len(lab.dataset(ds)))
        ]
    )
    qv = np.concatenate(
        [lab.query_vectors(ds, ci, "minilm") for ds in ("locomo", "beam") for ci in range(len(lab.dataset(ds)))]
    )
    t_knn, den = [], []
    for v in qv:
        t0 = time.perf_counter()
        s = dv @ v
        den.append((lab.top(s, 100), s))
        t_knn.append(time.perf_counter() - t0)
    print("knn   ", pct(t_knn), f"({dv.shape[0]} x {dv.shape[1]})")

    enc = embed.query_encoder("minilm")
    enc("warm up")
    t_q = []
    for q in questions[:300]:
        t0 = time.perf_counter()
        enc(q)
        t_q.append(time.perf_counter() - t0)
    print("qembed", pct(t_q))

    t_f = []
    for lx, (dtop, s) in zip(lex, den, strict=True):
        t0 = time.perf_counter()
        fuse(lx, dtop, s, len(rows), DEFAULT["alpha"], DEFAULT["beta"], DEFAULT["mode"])
        t_f.append(time.perf_counter() - t0)
    print("fuse  ", pct(t_f))


if __name__ == "__main__":
    main()
