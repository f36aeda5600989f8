"""Sweep harness for the wordllama default: the pipeline of pipeline.py with the dense score matrices given
directly (from wl.scores or lab.all_scores), so embedding recipes and fusion parameters can be crossed quickly.

    /tmp/labenv/bin/python explore.py            # prints R@10 locomo / beam (+ even/odd halves) per row
"""

from __future__ import annotations

import lab
import numpy as np
import pipeline

DSETS = ("locomo", "beam")


def run(ds: str, S: tuple | None, depth: int = 20, **kw) -> list:
    p = {**pipeline.DEFAULT, **kw}
    L = lab.lexical(ds, p["lex_view"], p["n"], False, p["lex_weights"]) if p["alpha"] > 0 else None
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        rows = []
        for qi in range(len(conv.questions)):
            cos = S[ci][qi] if S is not None else np.zeros(len(conv.messages))
            dtop = lab.top(cos, p["n"]) if S is not None and p["alpha"] < 1 else []
            res = pipeline.fuse(
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
            )
            rows.append([i for i, _ in res[:depth]])
        out.append(rows)
    return out


def evaluate(S_by_ds: dict, split: bool = False, **kw) -> dict:
    r = {}
    for ds in DSETS:
        rk = run(ds, S_by_ds.get(ds), **kw)
        r[ds] = lab.recall(ds, rk)
        if split:
            n = len(lab.dataset(ds))
            r[ds + "_even"] = lab.recall(ds, rk, convs=set(range(0, n, 2)))[10]
            r[ds + "_odd"] = lab.recall(ds, rk, convs=set(range(1, n, 2)))[10]
    return r


def fmt(r: dict) -> str:
    s = " | ".join(f"{ds} {r[ds][5]:.3f}/{r[ds][10]:.3f}/{r[ds][20]:.3f}" for ds in DSETS)
    if "locomo_even" in r:
        s += " | split " + " ".join(f"{ds[:2]} {r[ds + '_even']:.3f}/{r[ds + '_odd']:.3f}" for ds in DSETS)
    return s


def wl_scores(doc: tuple = (), query: tuple = ()) -> dict:
    import wl

    return {ds: wl.scores(ds, doc, query) for ds in DSETS}


def lab_scores(model: str, view: str) -> dict:
    return {ds: lab.all_scores(ds, model, view) for ds in DSETS}


def prf_scores(S_by_ds: dict, doc: tuple, query, m: int = 5, gamma: float = 0.5, first: str = "fused", **kw) -> dict:
    """Dense pseudo-relevance feedback (Rocchio): q' = unit(q + gamma * unit(mean of the top m stored vectors of a
    first pass)); first = 'fused' (the pipeline's ranking) or 'dense' (the dense ranking alone)."""
    import wl

    out = {}
    for ds in DSETS:
        first_rk = run(ds, S_by_ds[ds], depth=m, **kw) if first == "fused" else None
        convs = []
        for ci in range(len(lab.dataset(ds))):
            D = wl.doc_vectors(ds, ci, *doc)
            Q = wl._unit(sum(wl.query_vectors(ds, ci, *q) for q in query)) if isinstance(query[0], tuple) else (
                wl.query_vectors(ds, ci, *query))
            rows = []
            for qi in range(len(Q)):
                top_ids = first_rk[ci][qi][:m] if first_rk else np.argsort(-S_by_ds[ds][ci][qi])[:m]
                fb = D[list(top_ids)].mean(0)
                q = Q[qi] + gamma * fb / np.linalg.norm(fb)
                rows.append(D @ (q / np.linalg.norm(q)))
            convs.append(np.array(rows))
        out[ds] = tuple(convs)
    return out


def fuse2(lex, dtop, cos, n_messages, alpha=0.3, beta=0.3, mode="both", lex_norm="max", dense_norm="raw",
          beta_next=None, len_pen=None, lengths=None, cand_nb=False, damp_after=False):
    """pipeline.fuse plus variants: dense_norm 'max' (cos / best cos), 'z' (z-score over the dense top n),
    'shift' (cos - n-th best cos); mode 'both' = max(prev, next), 'sum' = beta * prev + beta_next * next."""
    lx = lab.normalise(lex, lex_norm)
    cand = set(lx) | {i for i, _ in dtop}
    c = np.array([x for _, x in dtop])
    if dense_norm == "raw":
        dn = {i: float(cos[i]) for i in cand}
    elif dense_norm == "max":
        dn = {i: float(cos[i]) / c[0] for i in cand}
    elif dense_norm == "z":
        mu, sd = c.mean(), c.std() + 1e-9
        dn = {i: (float(cos[i]) - mu) / sd for i in cand}
    elif dense_norm == "shift":
        dn = {i: float(cos[i]) - c[-1] for i in cand}
    s = {i: alpha * lx.get(i, 0.0) + (1 - alpha) * dn[i] for i in cand}
    if len_pen is not None and not damp_after:
        s = _damp(s, len_pen, lengths)
    if mode == "sum":
        keys = set(s) | {i + o for i in s for o in (-1, 1) if 0 <= i + o < n_messages}
        if cand_nb:
            for i in keys - set(s):
                s[i] = (1 - alpha) * float(cos[i])
        bn = beta if beta_next is None else beta_next
        s = {i: s.get(i, 0.0) + beta * s.get(i - 1, 0.0) + bn * s.get(i + 1, 0.0) for i in keys}
    elif beta:
        s = lab.neighbour_boost(s, beta, n_messages, mode)
    if len_pen is not None and damp_after:
        s = _damp(s, len_pen, lengths)
    return lab.ranked(s)


def _damp(s, len_pen, lengths):
    """Length damping of fused scores. ('soft', L0, g): / (1 + len/L0)^g; ('cap', L0, g): * min(1, (L0/len)^g)."""
    kind, l0, *g = len_pen if isinstance(len_pen, tuple) else ("soft", len_pen)
    g = g[0] if g else 0.5
    if kind == "soft":
        return {i: v / (1 + lengths[i] / l0) ** g for i, v in s.items()}
    return {i: v * min(1.0, (l0 / max(lengths[i], 1)) ** g) for i, v in s.items()}


def run2(ds: str, S: tuple, depth: int = 20, **kw) -> list:
    p = {**pipeline.DEFAULT, **kw}
    L = lab.lexical(ds, p["lex_view"], p["n"], False, p["lex_weights"])
    extra = {k: kw[k] for k in ("beta_next", "len_pen", "cand_nb", "damp_after") if k in kw}
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        lengths = [len(m.text.split()) for m in conv.messages]
        rows = []
        for qi in range(len(conv.questions)):
            cos = S[ci][qi]
            res = fuse2(L[ci][qi], lab.top(cos, p["n"]), cos, len(conv.messages), p["alpha"], p["beta"], p["mode"],
                        p["lex_norm"], p["dense_norm"], lengths=lengths, **extra)
            rows.append([i for i, _ in res[:depth]])
        out.append(rows)
    return out


def evaluate2(S_by_ds: dict, split: bool = False, **kw) -> dict:
    r = {}
    for ds in DSETS:
        rk = run2(ds, S_by_ds[ds], **kw)
        r[ds] = lab.recall(ds, rk)
        if split:
            n = len(lab.dataset(ds))
            r[ds + "_even"] = lab.recall(ds, rk, convs=set(range(0, n, 2)))[10]
            r[ds + "_odd"] = lab.recall(ds, rk, convs=set(range(1, n, 2)))[10]
    return r


def config(ds: str, dense: tuple = ("wl", ("raw", "none", 0.5, "sep"), ("nostop", "none")), **kw) -> list:
    """A methods.CONFIGS entry: dense = ('wl', doc recipe, query recipe) | ('minilm-sep', name_w) |
    ('lab', model, view); kw = run2 / pipeline parameters."""
    import wl

    if dense[0] == "wl":
        S = wl.scores(ds, dense[1], dense[2])
    elif dense[0] == "minilm-sep":
        S = wl.minilm_scores(ds, "minilm", dense[1])
    else:
        S = lab.all_scores(ds, dense[1], dense[2])
    return run2(ds, S, **kw)
