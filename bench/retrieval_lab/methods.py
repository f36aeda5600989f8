"""The configurations compared in RESULTS.md. Each maps a dataset name to rankings[conversation][question] =
message positions, best first (at least 20)."""

from __future__ import annotations

from functools import partial

import lab

N = 100  # candidates taken from each retriever before fusion


def positions(lists) -> list[list[list[int]]]:
    return [[[i for i, _ in lst] for lst in conv] for conv in lists]


def fts(ds, view="plain", prefix=False, weights=None):
    return positions(lab.lexical(ds, view, N, prefix, weights))


def fts_nb(ds, view="speaker", beta=0.5, mode="prev", how="max"):
    """FTS list, scores normalised (how), then neighbour propagation."""
    L = lab.lexical(ds, view, N)
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        out.append(
            [
                [
                    i
                    for i, _ in lab.ranked(
                        lab.neighbour_boost(lab.normalise(lst, how), beta, len(conv.messages), mode)
                    )[:50]
                ]
                for lst in L[ci]
            ]
        )
    return out


def dense(ds, model="minilm", view="plain"):
    return positions(lab.dense(ds, model, view, N))


def hybrid(ds, lex="speaker", dense=(("minilm", "speaker"),), fuse="rrf", k=60, weights=None, how="minmax", nb=0.0):
    """Fuse one FTS list with one or more dense lists."""
    L = lab.lexical(ds, lex, N) if lex else None
    Ds = [lab.dense(ds, m, v, N) for m, v in dense]
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        rows = []
        for qi in range(len(conv.questions)):
            lists = ([L[ci][qi]] if L else []) + [D[ci][qi] for D in Ds]
            w = weights or [1.0] * len(lists)
            s = lab.rrf(lists, k, w) if fuse == "rrf" else lab.convex(lists, w, how)
            if nb:
                s = lab.neighbour_boost(s, nb, len(conv.messages))
            rows.append([i for i, _ in lab.ranked(s)[:50]])
        out.append(rows)
    return out


CONFIGS = {
    # lexical alone
    "fts.plain": partial(fts, view="plain"),
    "fts.speaker": partial(fts, view="speaker"),
    "fts.speaker.prefix": partial(fts, view="speaker", prefix=True),
    "fts.chunk64": partial(fts, view="chunk64"),
    "fts.chunk128": partial(fts, view="chunk128"),
    "fts.chunk256": partial(fts, view="chunk256"),
    "fts.speaker+prev.w1-0.2": partial(fts, view="speaker+prev", weights=(1.0, 0.2)),
    "fts.speaker+prev.w1-0.5": partial(fts, view="speaker+prev", weights=(1.0, 0.5)),
    "fts.speaker.nbprev0.3": partial(fts_nb, beta=0.3),
    "fts.speaker.nbprev0.5": partial(fts_nb, beta=0.5),
    "fts.speaker.nbprev0.7": partial(fts_nb, beta=0.7),
    "fts.speaker.nbboth0.3": partial(fts_nb, beta=0.3, mode="both"),
    "fts.speaker.nbboth0.5": partial(fts_nb, beta=0.5, mode="both"),
    # dense alone
    "minilm.plain": partial(dense, view="plain"),
    "minilm.speaker": partial(dense, view="speaker"),
    "wordllama.plain": partial(dense, model="wordllama", view="plain"),
    "wordllama.speaker": partial(dense, model="wordllama", view="speaker"),
    # fusion baselines
    "rrf60.plain": partial(hybrid, lex="plain", dense=(("minilm", "plain"),)),
    "rrf60.speaker": partial(hybrid),
}
