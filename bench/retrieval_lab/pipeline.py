"""Score-level hybrid pipeline (the shape of the recommended default; RESULTS.md spells out the algorithm).

1. lexical: FTS5 OR-query, top n by bm25, scores divided by the best one          (lex_norm="max")
2. dense:   top n messages by cosine; every candidate of either list gets its exact cosine  (dense_norm="raw")
3. fused(i) = alpha * lex(i) + (1 - alpha) * dense(i)        (lex(i) = 0 when not in the lexical list)
4. context: final(i) = fused(i) + beta * max(fused(i-1), fused(i+1))   over candidates and their neighbours
   (mode="prev": only fused(i-1))
"""

from __future__ import annotations

import lab
import numpy as np

DEFAULT = {
    "lex_view": "lead50+rest50+prevw25",
    "lex_weights": (1.0, 0.1, 0.3),
    "dense_view": "speaker",
    "model": "minilm",
    "n": 100,
    "alpha": 0.3,
    "beta": 0.3,
    "mode": "both",
    "lex_norm": "max",
    "dense_norm": "raw",
    "rrf_k": 0,
}


def fuse(
    lex: list[tuple[int, float]],
    dense_top: list[tuple[int, float]],
    cos: np.ndarray,
    n_messages: int,
    alpha: float = 0.5,
    beta: float = 0.5,
    mode: str = "both",
    lex_norm: str = "max",
    dense_norm: str = "raw",
    rrf_k: float = 0,
    idf_sum: float = 1.0,
) -> list[tuple[int, float]]:
    if rrf_k:  # rank fusion instead of score fusion: alpha / (k + lexical rank) + (1 - alpha) / (k + dense rank)
        s = lab.rrf([lex, dense_top], rrf_k, [alpha, 1 - alpha])
        return lab.ranked(lab.neighbour_boost(s, beta, n_messages, mode) if beta else s)
    lx = {i: v / idf_sum for i, v in lex} if lex_norm == "idf" else lab.normalise(lex, lex_norm)
    cand = set(lx) | {i for i, _ in dense_top}
    if dense_norm == "raw":
        dn = {i: float(cos[i]) for i in cand}
    else:  # normalise over the dense top-n; lexical-only candidates are placed on the same scale
        lo, hi = dense_top[-1][1], dense_top[0][1]
        dn = {i: (float(cos[i]) - lo) / (hi - lo) if hi > lo else 1.0 for i in cand}
    s = {i: alpha * lx.get(i, 0.0) + (1 - alpha) * dn[i] for i in cand}
    if beta:
        s = lab.neighbour_boost(s, beta, n_messages, mode)
    return lab.ranked(s)


def run(ds: str, depth: int = 20, with_scores: bool = False, **kw) -> list[list[list]]:
    """rankings[conversation][question] = top `depth` message positions (or (position, score) pairs)."""
    p = {**DEFAULT, **kw}
    L = lab.lexical(ds, p["lex_view"], p["n"], False, p["lex_weights"]) if p["alpha"] > 0 else None
    S = lab.all_scores(ds, p["model"], p["dense_view"]) if p["alpha"] < 1 else None
    idf = lab.idf_sums(ds, p["lex_view"]) if p["lex_norm"] == "idf" else None
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        rows = []
        for qi in range(len(conv.questions)):
            cos = S[ci][qi] if S is not None else np.zeros(len(conv.messages))
            dtop = lab.top(cos, p["n"]) if S is not None else []
            res = fuse(
                L[ci][qi] if L else [],
                dtop,
                cos,
                len(conv.messages),
                p["alpha"],
                p["beta"],
                p["mode"],
                p["lex_norm"],
                p["dense_norm"],
                p["rrf_k"],
                idf[ci][qi] if idf else 1.0,
            )
            rows.append(res[:depth] if with_scores else [i for i, _ in res[:depth]])
        out.append(rows)
    return out
