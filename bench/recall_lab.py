"""Recall lab (issue 15): ingest a dataset once into /tmp/rlab/<dataset>.db (reused by later runs), then ask every
question under several rerank variants, alternating them question by question (A/B in one process), and print
recall@5/10/20 and the rerank step's mean cost per query. Research only: it monkeypatches search/messages.py's
`_fuse`; none of these variants was adopted (findings in the issue-15 recall report).

    PYTHONPATH=$PWD/src .venv/bin/python bench/recall_lab.py locomo|beam base,mix_0.1,maxsim_0.1,sentrep_0.5,c200
"""
import asyncio
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from sqlalchemy import text

from honcho_bench import retrieval_bench as rb
from honcho_bench.cli import bench_settings
from honcho_server.embeddings.local import BUNDLED_DATA, WordLlamaModel
from honcho_server.search import messages as sm
from honcho_server.search.terms import keyword_text, query_terms
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade

WL = WordLlamaModel(BUNDLED_DATA, 256)
TABLE = WL._table
NORMED = TABLE / np.maximum(np.linalg.norm(TABLE, axis=1, keepdims=True), 1e-9)
TOK = WL._tokenizer
_WORD = re.compile(r"[^\W_]+")
def stem(w):
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w
def words(t):
    return [stem(w) for w in _WORD.findall(t.lower())]

STATE = {"q": "", "variant": "base", "cost": []}
ORIG_FUSE = sm._fuse

def cand_bm25(qterms, found, k1=1.2, b=0.75, prox=False):
    docs = {pk: words(m.content) for pk, m in found.items()}
    N = len(docs) or 1
    avg = sum(len(d) for d in docs.values()) / N or 1
    q = [stem(t) for t in qterms]
    df = Counter(t for d in docs.values() for t in set(d) if t in q)
    out = {}
    for pk, d in docs.items():
        tf = Counter(d)
        s = 0.0
        for t in q:
            if tf[t]:
                idf = math.log(1 + (N - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avg))
        out[pk] = s
    return out

def maxsim(qtext, found):
    qids = [i for w in query_terms(qtext) for i in TOK.encode_batch([w])[0]]
    if not qids:
        return {}
    Q = NORMED[qids]  # (nq, d)
    pks = list(found)
    ids = TOK.encode_batch([found[pk].content for pk in pks])
    out = {}
    for pk, row in zip(pks, ids, strict=False):
        if not row:
            out[pk] = 0.0
            continue
        sims = Q @ NORMED[row].T
        out[pk] = float(sims.max(axis=1).mean())
    return out

TOPN = 40
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
def maxsent(qv, found):
    out = {}
    pieces, owners = [], []
    for pk, m in found.items():
        sents = [x for x in _SENT.split(m.content) if x.strip()] or [m.content]
        pieces.extend(sents)
        owners.extend([pk] * len(sents))
    if not pieces:
        return out
    sims = WL.encode(pieces) @ qv
    for pk, s in zip(owners, sims, strict=False):
        out[pk] = max(out.get(pk, -1.0), float(s))
    return out

def variant_fuse(lexical, found, cosine, fusion):
    v = STATE["variant"]
    base = ORIG_FUSE(lexical, found, cosine, fusion)
    if v in ("base", "c200"):
        return base
    t0 = time.perf_counter()
    damp = {pk: min(1.0, math.sqrt(fusion.long_words / max(len(m.content.split()), 1))) for pk, m in found.items()}
    qt = query_terms(STATE["q"])
    unknown = float(np.mean(list(cosine.values()))) if cosine else 0.0
    if v.startswith("bm25"):
        # lexical score recomputed over every candidate (vector-only ones included)
        s = cand_bm25(qt, found)
        best = max(s.values(), default=0) or 1
        a = float(v.split("_")[1]) if "_" in v else fusion.alpha
        out = {pk: (a * s[pk] / best + (1 - a) * cosine.get(pk, unknown)) * damp[pk] for pk in found}
    elif v.startswith("mix"):
        s = cand_bm25(qt, found)
        best = max(s.values(), default=0) or 1
        g = float(v.split("_")[1])
        out = {pk: base[pk] + g * s[pk] / best * damp[pk] for pk in found}
    elif v.startswith("maxsim"):
        ms = maxsim(STATE["q"], found)
        g = float(v.split("_")[1])
        out = {pk: base[pk] + g * ms.get(pk, 0.0) * damp[pk] for pk in found}
    elif v.startswith("sent"):
        g = float(v.split("_")[1])
        top = sorted(found, key=lambda pk: -base[pk])[:TOPN]
        if v.startswith("sentlong"):
            top = [pk for pk in top if len(found[pk].content.split()) > fusion.long_words]
        qv = WL.encode([keyword_text(STATE["q"]) or STATE["q"]])[0]
        ms = maxsent(qv, {pk: found[pk] for pk in top})
        if v.startswith(("sentrep", "sentlong")):
            # the message's cosine becomes the mean of its whole-text and best-sentence cosines, damping kept
            out = dict(base)
            for pk in top:
                c = cosine.get(pk, unknown)
                t = base[pk] / damp[pk] - (1 - fusion.alpha) * c
                out[pk] = (t + (1 - fusion.alpha) * ((1 - g) * c + g * ms[pk])) * damp[pk]
        else:
            out = dict(base)
            for pk in top:
                out[pk] = base[pk] + g * ms[pk]
    else:
        raise SystemExit(v)
    STATE["cost"].append(time.perf_counter() - t0)
    return out

sm._fuse = variant_fuse

async def main(dataset, variants):
    path = Path(f"/tmp/rlab/{dataset}.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    url = f"sqlite:///{path}"
    settings = bench_settings(url)
    convs = rb.load_dataset(dataset)
    upgrade(url)
    deps = Deps(db=Database(url, settings.db), settings=settings)
    await prepare_vectors(deps)
    names = [f"w{i}" for i in range(len(convs))]
    if fresh:
        t0 = time.time()
        for n, c in zip(names, convs, strict=False):
            await rb.ingest(deps, n, c)
        await rb.drain(deps)
        async with deps.db.write() as conn:
            await conn.execute(text("ANALYZE messages"))
        print("ingested", time.time() - t0, flush=True)
    results = {v: [] for v in variants}
    lat = {v: [] for v in variants}
    cost = {v: [] for v in variants}
    for n, c in zip(names, convs, strict=False):
        for q in c.questions:
            for v in variants:  # alternate variants question by question
                STATE.update(q=q.text, variant=v, cost=[])
                fusion = sm.Fusion(candidates=200) if v == "c200" else sm.DEFAULT_FUSION
                sm.search_messages.__defaults__ = (None, fusion)
                o = await rb.ask(deps, n, q)
                results[v].append(o)
                lat[v].append(o.seconds * 1000)
                cost[v].extend(STATE["cost"])
    await deps.aclose()
    for v in variants:
        r = rb.mean_recall(results[v])
        c = np.mean(cost[v]) * 1000 if cost[v] else 0.0
        print(f"{dataset:6s} {v:14s} R@5 {r['recall@5']:.3f} R@10 {r['recall@10']:.3f} R@20 {r['recall@20']:.3f}"
              f"  rerank {c:.2f} ms  p50 {np.median(lat[v]):.1f} ms", flush=True)

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].split(",")))
