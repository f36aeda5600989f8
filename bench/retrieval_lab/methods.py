"""Every configuration compared in RESULTS.md. Each maps a dataset name to rankings[conversation][question] =
message positions, best first (at least 20). Views (document texts) are defined in lab.view_texts."""

from __future__ import annotations

from functools import partial

import explore
import lab
import numpy as np
import pipeline

N = 100  # candidates taken from each retriever before fusion


def positions(lists) -> list[list[list[int]]]:
    return [[[i for i, _ in lst] for lst in conv] for conv in lists]


def fts(ds, view="plain", prefix=False, weights=None, stop=True):
    if not stop:  # every token of the question, stopwords included
        conv_lists = []
        for ci, conv in enumerate(lab.dataset(ds)):
            idx = lab.fts_index(ds, ci, view, weights)
            conv_lists.append([idx.search(lab.fts_query(q.text, frozenset()), N) for q in conv.questions])
        return positions(conv_lists)
    return positions(lab.lexical(ds, view, N, prefix, weights))


def dense(ds, model="minilm", view="plain"):
    return positions(lab.dense(ds, model, view, N))


def list_fusion(ds, lex="speaker", dense=(("minilm", "speaker"),), fuse="rrf", k=60, weights=None, how="minmax"):
    """Fusion of ranked lists only (no exact scores for the other list's candidates): RRF, or a convex
    combination of per-list normalised scores with 0 for a missing message."""
    L = lab.lexical(ds, lex, N)
    Ds = [lab.dense(ds, m, v, N) for m, v in dense]
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        rows = []
        for qi in range(len(conv.questions)):
            lists = [L[ci][qi]] + [D[ci][qi] for D in Ds]
            w = weights or [1.0] * len(lists)
            s = lab.rrf(lists, k, w) if fuse == "rrf" else lab.convex(lists, w, how)
            rows.append([i for i, _ in lab.ranked(s)[:20]])
        out.append(rows)
    return out


def _stored_vectors(ds, ci, model, view):
    """The one vector per message the server would store: mean of the views' vectors ('a&b'), unit length."""
    v = sum(lab.doc_vectors(ds, ci, model, x)[0] for x in view.split("&"))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def prf(ds, m=3, gamma=0.3, **kw):
    """Pseudo-relevance feedback on the dense side (Rocchio): after a first default pass, the query vector moves
    towards the mean vector of the top m results (q' = q + gamma * mean/|mean|), and the pipeline runs again."""
    p = {**pipeline.DEFAULT, **kw}
    L = lab.lexical(ds, p["lex_view"], p["n"], False, p["lex_weights"])
    out = []
    for ci, conv in enumerate(lab.dataset(ds)):
        dv = _stored_vectors(ds, ci, p["model"], p["dense_view"])
        qv = lab.query_vectors(ds, ci, p["model"])
        rows = []
        for qi in range(len(conv.questions)):
            q = qv[qi]
            for _ in range(2):
                cos = dv @ q
                res = pipeline.fuse(L[ci][qi], lab.top(cos, p["n"]), cos, len(conv.messages), p["alpha"], p["beta"])
                fb = dv[[i for i, _ in res[:m]]].mean(0)
                q = qv[qi] + gamma * fb / np.linalg.norm(fb)
                q = q / np.linalg.norm(q)
            rows.append([i for i, _ in res[:20]])
        out.append(rows)
    return out


def mmr(ds, lam=0.8, pool=50, **kw):
    """Maximal marginal relevance over the default's top `pool`: pick argmax lam * score/max - (1 - lam) *
    max cosine to the already picked (aims at questions with several evidence messages)."""
    p = {**pipeline.DEFAULT, **kw}
    base = pipeline.run(ds, **kw, depth=pool, with_scores=True)
    out = []
    for ci, _conv in enumerate(lab.dataset(ds)):
        dv = _stored_vectors(ds, ci, p["model"], p["dense_view"])
        rows = []
        for res in base[ci]:
            ids = np.array([i for i, _ in res])
            sc = np.array([s for _, s in res]) / res[0][1]
            sim = dv[ids] @ dv[ids].T
            chosen, maxsim = [0], sim[0].copy()
            while len(chosen) < min(20, len(ids)):
                val = lam * sc - (1 - lam) * maxsim
                val[chosen] = -np.inf
                j = int(np.argmax(val))
                chosen.append(j)
                maxsim = np.maximum(maxsim, sim[j])
            rows.append([int(ids[j]) for j in chosen])
        out.append(rows)
    return out


P = pipeline.run
LEX = {"lex_view": "speaker", "lex_weights": None}  # whole message text as one FTS column
DEFAULT_LEX = {"alpha": 1.0, "beta": 0.0}  # pipeline with the lexical list alone
CONFIGS = {
    # ---- lexical alone (SQLite FTS5, porter unicode61, bm25, OR of the question's terms)
    "fts.plain": partial(fts, view="plain"),
    "fts.speaker": partial(fts, view="speaker"),
    "fts.speaker.no-stopwords": partial(fts, view="speaker", stop=False),
    "fts.speaker.prefix*": partial(fts, view="speaker", prefix=True),
    "fts.chunk64 (max over chunks)": partial(fts, view="chunk64"),
    "fts.chunk128 (max over chunks)": partial(fts, view="chunk128"),
    "fts.chunk256 (max over chunks)": partial(fts, view="chunk256"),
    "fts.speaker+prev (1, .2)": partial(fts, view="speaker+prev", weights=(1.0, 0.2)),
    "fts.speaker+prev (1, .5)": partial(fts, view="speaker+prev", weights=(1.0, 0.5)),
    "fts.speaker+prev300c (1, .5)": partial(fts, view="speaker+prev300", weights=(1.0, 0.5)),
    "fts.speaker+prev150c (1, .5)": partial(fts, view="speaker+prev150", weights=(1.0, 0.5)),
    "fts.lead50": partial(fts, view="lead50"),
    "fts.lead100": partial(fts, view="lead100"),
    "fts.lead200": partial(fts, view="lead200"),
    "fts.lead100+rest100 (1, .1)": partial(fts, view="lead100+rest100", weights=(1.0, 0.1)),
    "fts.lead100+rest100 (1, .3)": partial(fts, view="lead100+rest100", weights=(1.0, 0.3)),
    "fts.lead50+rest50 (1, .1)": partial(fts, view="lead50+rest50", weights=(1.0, 0.1)),
    "fts.lead50+rest50+prevw25 (1, .1, .3) [default lexical]": partial(
        fts, view="lead50+rest50+prevw25", weights=(1.0, 0.1, 0.3)
    ),
    "fts.speaker + nb prev .5": partial(P, **LEX, alpha=1.0, beta=0.5, mode="prev"),
    "fts.speaker + nb both .3": partial(P, **LEX, alpha=1.0, beta=0.3),
    "fts.speaker + nb both .5": partial(P, **LEX, alpha=1.0, beta=0.5),
    "fts.default lexical + nb both .3": partial(P, alpha=1.0, beta=0.3),
    # ---- dense alone (brute-force cosine)
    "minilm.plain": partial(dense, view="plain"),
    "minilm.speaker": partial(dense, view="speaker"),
    "minilm.ctx300 (prev tail + message)": partial(dense, view="ctx300"),
    "minilm.speaker&ctx300 (mean vector)": partial(dense, view="speaker&ctx300"),
    "minilm.plain&ctx300 (mean vector)": partial(dense, view="plain&ctx300"),
    "minilm.chunk128 (max over chunks)": partial(dense, view="chunk128"),
    "minilm.plain&chunk128": partial(dense, view="plain&chunk128"),
    "minilm128.plain (128-token window)": partial(dense, model="minilm128", view="plain"),
    "minilm128.speaker": partial(dense, model="minilm128", view="speaker"),
    "minilm512.plain (512-token window)": partial(dense, model="minilm512", view="plain"),
    "wordllama.plain": partial(dense, model="wordllama", view="plain"),
    "wordllama.speaker": partial(dense, model="wordllama", view="speaker"),
    "wordllama.lead50": partial(dense, model="wordllama", view="lead50"),
    "wordllama.speaker&ctx300": partial(dense, model="wordllama", view="speaker&ctx300"),
    "minilm&wordllama.plain (mean cosine)": partial(dense, model="minilm&wordllama", view="plain"),
    "minilm.speaker + nb both .3": partial(P, alpha=0.0, beta=0.3),
    # ---- list fusion, whole-message FTS (the baselines' kind)
    "rrf60 fts.plain + minilm.plain": partial(list_fusion, lex="plain", dense=(("minilm", "plain"),)),
    "rrf60 fts.speaker + minilm.speaker": partial(list_fusion),
    "rrf10 fts.speaker + minilm.speaker": partial(list_fusion, k=10),
    "rrf10 fts.speaker + minilm.plain": partial(list_fusion, dense=(("minilm", "plain"),), k=10),
    "rrf60 weighted 2:1 fts.speaker + minilm.speaker": partial(list_fusion, weights=[2.0, 1.0]),
    "minmax .5/.5 fts.speaker + minilm.speaker": partial(list_fusion, fuse="convex", weights=[0.5, 0.5]),
    "minmax .7/.3 fts.speaker + minilm.speaker": partial(list_fusion, fuse="convex", weights=[0.7, 0.3]),
    "max-norm .5/.5 fts.speaker + minilm.speaker": partial(list_fusion, fuse="convex", weights=[0.5, 0.5], how="max"),
    "rrf60 fts.speaker + minilm.speaker + wordllama.speaker": partial(
        list_fusion, dense=(("minilm", "speaker"), ("wordllama", "speaker"))
    ),
    # ---- score fusion pipeline (pipeline.py); the default first, then one change at a time
    "DEFAULT (pipeline.DEFAULT, minilm)": P,
    "default, embedder wordllama": partial(P, model="wordllama"),
    "default, embedder minilm&wordllama (two vectors)": partial(P, model="minilm&wordllama"),
    "default, dense view plain": partial(P, dense_view="plain"),
    "default, dense view speaker&ctx300": partial(P, dense_view="speaker&ctx300"),
    "default, dense chunk128 (max)": partial(P, dense_view="chunk128"),
    "default, lexical whole message (speaker)": partial(P, **LEX),
    "default, lexical speaker+prevw25 (1, .3)": partial(P, lex_view="speaker+prevw25", lex_weights=(1.0, 0.3)),
    "default, lexical lead50+rest50 (no prev column)": partial(P, lex_view="lead50+rest50", lex_weights=(1.0, 0.1)),
    "default, lexical lead100+rest100+prevw25": partial(P, lex_view="lead100+rest100+prevw25"),
    "default, lexical chunk128 (max)": partial(P, lex_view="chunk128", lex_weights=None),
    "default, prev weight .5": partial(P, lex_weights=(1.0, 0.1, 0.5)),
    "default, rest weight .3": partial(P, lex_weights=(1.0, 0.3, 0.3)),
    "default, alpha .2": partial(P, alpha=0.2),
    "default, alpha .4": partial(P, alpha=0.4),
    "default, alpha .5": partial(P, alpha=0.5),
    "default, beta 0 (no neighbour propagation)": partial(P, beta=0.0),
    "default, beta .2": partial(P, beta=0.2),
    "default, beta .5": partial(P, beta=0.5),
    "default, propagation from previous only": partial(P, mode="prev"),
    "default, n 50": partial(P, n=50),
    "default, n 200": partial(P, n=200),
    "default, dense min-max over top n": partial(P, dense_norm="minmax"),
    "default, dense min-max, alpha .5": partial(P, dense_norm="minmax", alpha=0.5),
    "default, lexical / sum of query idf": partial(P, lex_norm="idf"),
    "default, lexical / sum of query idf, alpha .5": partial(P, lex_norm="idf", alpha=0.5),
    "default with RRF k10 instead of scores": partial(P, rrf_k=10, beta=0.0),
    "default with RRF k10 + nb .3": partial(P, rrf_k=10),
    "default + dense PRF (m 3, gamma .3)": partial(prf),
    "default + MMR (lambda .8)": partial(mmr),
    # ---- wordllama default search (explore.py / wl.py; RESULTS.md "wordllama default")
    # W = wordllama vector unit(unit(mean tokens of text) + 0.5 * unit(mean tokens of sender name)), query with
    # stop words and punctuation removed; fusion alpha .3, beta .3 (both); CAP = fused score * min(1, sqrt(100/words))
    **{
        f"wl.{name}": partial(explore.config, **kw)
        for name, kw in {
            "old default (speaker view, beta .3)": dict(dense=("lab", "wordllama", "speaker")),
            "sep-name .5, q raw, beta .3": dict(dense=("wl", ("raw", "none", 0.5, "sep"), ("raw", "none"))),
            "sep-name .3, q nostop, beta .3": dict(dense=("wl", ("raw", "none", 0.3, "sep"), ("nostop", "none"))),
            "sep-name .5, q nostop, beta .3": dict(),
            "sep-name .7, q nostop, beta .3": dict(dense=("wl", ("raw", "none", 0.7, "sep"), ("nostop", "none"))),
            "sep-name 1.0, q nostop, beta .3": dict(dense=("wl", ("raw", "none", 1.0, "sep"), ("nostop", "none"))),
            "sep-name .5, q nostop, beta .2": dict(beta=0.2),
            "sep-name .5, q nostop, beta .3, CAP [recommended]": dict(len_pen=("cap", 100, 0.5)),
            "sep-name .5, q nostop, beta .2, CAP": dict(beta=0.2, len_pen=("cap", 100, 0.5)),
            "sep-name .5, q nostop, beta .3, CAP, alpha .4": dict(alpha=0.4, len_pen=("cap", 100, 0.5)),
            "sep-name .5, q nostop, beta .3, CAP, rest weight .05": dict(
                len_pen=("cap", 100, 0.5), lex_weights=(1.0, 0.05, 0.3)
            ),
            "CAP, lexical speaker only (1 column)": dict(
                len_pen=("cap", 100, 0.5), lex_view="speaker", lex_weights=None
            ),
            "CAP, lexical plain only (1 column, no name)": dict(
                len_pen=("cap", 100, 0.5), lex_view="plain", lex_weights=None
            ),
            "CAP, lexical speaker+prevw25 (1, .3)": dict(
                len_pen=("cap", 100, 0.5), lex_view="speaker+prevw25", lex_weights=(1.0, 0.3)
            ),
            "CAP, lexical speaker (one column)": dict(len_pen=("cap", 100, 0.5), lex_view="speaker", lex_weights=None),
            "CAP, lexical lead50+rest50 (1, .1)": dict(
                len_pen=("cap", 100, 0.5), lex_view="lead50+rest50", lex_weights=(1.0, 0.1)
            ),
            "CAP, lexical lead50+prevw25 (1, .3)": dict(
                len_pen=("cap", 100, 0.5), lex_view="lead50+prevw25", lex_weights=(1.0, 0.3)
            ),
            "2col: sep-name .5, q nostop, beta .3, lexical speaker+prevw25, no CAP": dict(
                lex_view="speaker+prevw25", lex_weights=(1.0, 0.3)
            ),
            "2col minilm speaker view, CAP": dict(
                dense=("lab", "minilm", "speaker"), len_pen=("cap", 100, 0.5), lex_view="speaker+prevw25",
                lex_weights=(1.0, 0.3),
            ),
            "2col minilm sep-name .5, CAP": dict(
                dense=("minilm-sep", 0.5), len_pen=("cap", 100, 0.5), lex_view="speaker+prevw25", lex_weights=(1.0, 0.3)
            ),
            "minilm speaker view, beta .3": dict(dense=("lab", "minilm", "speaker")),
            "minilm speaker view, beta .3, CAP": dict(dense=("lab", "minilm", "speaker"), len_pen=("cap", 100, 0.5)),
            "minilm sep-name .5, beta .3": dict(dense=("minilm-sep", 0.5)),
            "minilm sep-name .5, beta .3, CAP": dict(dense=("minilm-sep", 0.5), len_pen=("cap", 100, 0.5)),
        }.items()
    },
}
