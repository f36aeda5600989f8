"""Retrieval building blocks: document views, lexical and dense candidate lists, fusion, re-scoring, recall@k.

A ranked list is a list of (message position, score), best first. Every method below only uses what the
server has at query time: the conversation's stored messages (text, speaker, order), their FTS index and
their vectors, and the query text.
"""

from __future__ import annotations

from functools import cache

import data
import embed
import numpy as np
from lexical import FTSIndex, fts_query, terms

KS = (5, 10, 20)


@cache
def dataset(name: str) -> list[data.Conversation]:
    return data.load(name)


# ---------------------------------------------------------------------------------------------- document views
def _tail(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[-chars:]
    return cut[cut.find(" ") + 1 :] if " " in cut else cut


def view_texts(conv: data.Conversation, view: str) -> tuple[list[str], np.ndarray]:
    """Texts to index and, for each, the message position it belongs to.

    plain       message text
    speaker     "<speaker>: <text>"
    prev[C]     the previous message, "<speaker>: <text>" ("" for the first); with C only its last C chars
    prevw<W>    "<previous speaker>: <last W words of the previous message>" ("" for the first)
    ctx<C>      contextual: "<prev speaker>: <last C chars of previous message>\n<speaker>: <text>"
                (previous message = the one before it in the conversation, any session)
    lead<W>     "<speaker>: <first W words>"
    rest<W>     the words after the first W ("" if none)
    chunk<W>    "<speaker>: <window>" for windows of W words (stride W*3/4) over the text; several per message
    """
    ms = conv.messages
    if view == "plain":
        return [m.text for m in ms], np.arange(len(ms))
    if view == "speaker":
        return [f"{m.speaker}: {m.text}" for m in ms], np.arange(len(ms))
    if view.startswith("prevw"):  # the previous message's last W words (an FTS context column)
        w = int(view[5:])
        return [""] + [f"{m.speaker}: {' '.join(m.text.split()[-w:])}" for m in ms[:-1]], np.arange(len(ms))
    if view.startswith("prev"):  # the previous message alone (an FTS context column), prev<C>: its last C chars
        c = int(view[4:] or 10**9)
        return [""] + [f"{m.speaker}: {_tail(m.text, c)}" for m in ms[:-1]], np.arange(len(ms))
    if view.startswith("ctx"):
        c = int(view[3:])
        out = []
        for i, m in enumerate(ms):
            cur = f"{m.speaker}: {m.text}"
            out.append(cur if i == 0 else f"{ms[i - 1].speaker}: {_tail(ms[i - 1].text, c)}\n{cur}")
        return out, np.arange(len(ms))
    if view.startswith("lead"):  # "<speaker>: <first W words>" (what a W-token embedding window sees)
        w = int(view[4:])
        return [f"{m.speaker}: {' '.join(m.text.split()[:w])}" for m in ms], np.arange(len(ms))
    if view.startswith("rest"):  # the words after the first W ("" for short messages): an FTS column
        w = int(view[4:])
        return [" ".join(m.text.split()[w:]) for m in ms], np.arange(len(ms))
    if view.startswith("chunk"):
        w = int(view[5:])
        stride = max(1, w * 3 // 4)
        texts, owner = [], []
        for i, m in enumerate(ms):
            words = m.text.split()
            starts = range(0, max(1, len(words) - w + stride), stride) if len(words) > w else [0]
            for s in starts:
                texts.append(f"{m.speaker}: {' '.join(words[s : s + w])}")
                owner.append(i)
        return texts, np.asarray(owner)
    raise ValueError(view)


# ----------------------------------------------------------------------------------------------------- lexical
@cache
def fts_index(ds: str, ci: int, view: str, weights: tuple[float, ...] | None = None) -> FTSIndex:
    """view: one view, or several joined by '+' = several FTS columns (one text per message each)."""
    conv = dataset(ds)[ci]
    parts = [view_texts(conv, v) for v in view.split("+")]
    if len(parts) == 1:
        texts, owner = parts[0]
        return FTSIndex([(t,) for t in texts], owner, weights)
    assert all(len(t) == len(conv.messages) for t, _ in parts), "multi-column views are one text per message"
    return FTSIndex(list(zip(*(t for t, _ in parts), strict=True)), None, weights)


@cache
def lexical(
    ds: str, view: str = "plain", n: int = 100, prefix: bool = False, weights: tuple[float, ...] | None = None
) -> tuple:
    """Per conversation, per question: FTS5 bm25 list."""
    out = []
    for ci, conv in enumerate(dataset(ds)):
        idx = fts_index(ds, ci, view, weights)
        out.append([idx.search(fts_query(q.text, prefix=prefix), n) for q in conv.questions])
    return tuple(out)


@cache
def idf_sums(ds: str, view: str = "plain") -> tuple:
    """Per conversation, per question: sum of FTS5 idf over the query's terms (the scale of a full match)."""
    out = []
    for ci, conv in enumerate(dataset(ds)):
        idx = fts_index(ds, ci, view)
        out.append([sum(idx.idf(t) for t in terms(q.text)) or 1.0 for q in conv.questions])
    return tuple(out)


# ------------------------------------------------------------------------------------------------------- dense
@cache
def doc_vectors(ds: str, ci: int, model: str, view: str) -> tuple[np.ndarray, np.ndarray]:
    texts, owner = view_texts(dataset(ds)[ci], view)
    return embed.embed(model, texts), owner


@cache
def query_vectors(ds: str, ci: int, model: str) -> np.ndarray:
    return embed.embed(model, [q.text for q in dataset(ds)[ci].questions])


def message_scores(ds: str, ci: int, model: str, view: str, qv: np.ndarray) -> np.ndarray:
    """Cosine of each query with each message (max over a message's chunks). Shape (queries, messages)."""
    dv, owner = doc_vectors(ds, ci, model, view)
    sims = qv @ dv.T
    n = len(dataset(ds)[ci].messages)
    if len(owner) == n:
        return sims
    out = np.full((len(qv), n), -1.0, dtype=np.float32)
    np.maximum.at(out.T, owner, sims.T)
    return out


def top(scores: np.ndarray, n: int) -> list[tuple[int, float]]:
    n = min(n, len(scores))
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx]


@cache
def all_scores(ds: str, model: str, view: str) -> tuple:
    """Per conversation: the full (questions x messages) cosine matrix (the server can compute any candidate's).

    'a&b' in model or view = the mean of the cosines under each (for views of one model this equals the inner
    product with one stored vector, the mean of the two document vectors)."""
    if "&" in model or "&" in view:
        parts = [all_scores(ds, m, v) for m in model.split("&") for v in view.split("&")]
        return tuple(sum(p[ci] for p in parts) / len(parts) for ci in range(len(dataset(ds))))
    return tuple(message_scores(ds, ci, model, view, query_vectors(ds, ci, model)) for ci in range(len(dataset(ds))))


@cache
def dense(ds: str, model: str = "minilm", view: str = "plain", n: int = 100) -> tuple:
    return tuple([top(row, n) for row in m] for m in all_scores(ds, model, view))


# ------------------------------------------------------------------------------------------------------ fusion
def rrf(lists: list[list[tuple[int, float]]], k: float = 60, weights: list[float] | None = None) -> dict[int, float]:
    weights = weights or [1.0] * len(lists)
    out: dict[int, float] = {}
    for w, lst in zip(weights, lists, strict=True):
        for rank, (i, _) in enumerate(lst, start=1):
            out[i] = out.get(i, 0.0) + w / (k + rank)
    return out


def normalise(lst: list[tuple[int, float]], how: str) -> dict[int, float]:
    if not lst:
        return {}
    s = np.array([x for _, x in lst])
    if how == "minmax":
        lo, hi = s.min(), s.max()
        s = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
    elif how == "max":  # divide by the best score (scores are positive)
        s = s / s.max() if s.max() > 0 else s
    elif how == "z":
        s = (s - s.mean()) / (s.std() + 1e-9)
    elif how != "raw":
        raise ValueError(how)
    return {i: float(v) for (i, _), v in zip(lst, s, strict=True)}


def convex(lists, weights, how: str = "minmax", missing: float = 0.0) -> dict[int, float]:
    """sum_j w_j * norm_j(score); a message absent from list j gets `missing` (minmax/max: 0 = worst)."""
    normed = [normalise(lst, how) for lst in lists]
    keys = set().union(*normed)
    return {i: sum(w * d.get(i, missing) for w, d in zip(weights, normed, strict=True)) for i in keys}


def ranked(scores: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def neighbour_boost(scores: dict[int, float], beta: float, n_messages: int, mode: str = "prev") -> dict[int, float]:
    """Context propagation after retrieval. mode 'prev': s'(i) = s(i) + beta * s(i-1) (a message inherits from
    the turn it answers); 'both': + beta * max(s(i-1), s(i+1)). Missing scores count 0; messages that only
    inherit become candidates too."""
    offs = (-1,) if mode == "prev" else (-1, 1)
    keys = set(scores) | {i - o for i in scores for o in offs if 0 <= i - o < n_messages}
    return {i: scores.get(i, 0.0) + beta * max(scores.get(i + o, 0.0) for o in offs) for i in keys}


# -------------------------------------------------------------------------------------------------- evaluation
def evidence_positions(conv: data.Conversation) -> list[set[int]]:
    pos = {m.id: i for i, m in enumerate(conv.messages)}
    return [{pos[e] for e in q.evidence} for q in conv.questions]


def recall(
    ds: str, rankings: list[list[list[int]]], convs: list[int] | None = None, categories: set[str] | None = None
) -> dict[int, float]:
    """Per question: |evidence in top k| / |evidence|; then the plain mean over all questions (micro)."""
    per_k = {k: [] for k in KS}
    for ci, conv in enumerate(dataset(ds)):
        if convs is not None and ci not in convs:
            continue
        for q, ev, rank in zip(conv.questions, evidence_positions(conv), rankings[ci], strict=True):
            if categories and q.category not in categories:
                continue
            for k in KS:
                per_k[k].append(len(ev & set(rank[:k])) / len(ev))
    return {k: float(np.mean(v)) for k, v in per_k.items()}
