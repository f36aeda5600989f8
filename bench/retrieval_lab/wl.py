"""wordllama embedding variants computed directly from the model's token table (wordllama is static: a text's
vector is the mean of its tokens' vectors, then L2-normalised), so token weighting and text recipes can be
varied without the library's pooling and without the on-disk cache.

Text processing (`prep`):
    raw     the text as is
    nostop  words (runs of letters/digits, as the FTS tokenizer cuts them) that are not in lexical.STOPWORDS,
            joined by spaces, original case kept: punctuation and function words are gone
    nopunct every word kept, punctuation dropped
    lead<W> the first W whitespace-separated words

Token weighting (`tw`), applied when pooling (vector = sum_t w(t) * E[t], then unit length):
    none    w = 1 (the library's mean pooling)
    pow<P>  w = |E[t]|^P  (the token vector's norm already acts as a learned importance; P > 0 sharpens it)
    clip<C> w = 0 for tokens whose |E[t]| < C (drops the near-empty function-word / punctuation tokens)

Message vector (`doc_vectors`): a unit-length weighted sum of unit component vectors
    text component      the message text (prep, tw)
    name component      the sender's name, weight `name_w` (0 = none); name_mode 'concat' instead puts
                        "<name>: " in front of the text before pooling (the lab's 'speaker' view)
    prev component      the previous message of the same conversation (its last `prev_words` words), weight
                        `prev_w` (0 = none)
All of these are functions of the message, its sender and the previous message: one stored vector.
"""

from __future__ import annotations

import re
from functools import cache

import embed
import lab
import numpy as np
from lexical import STOPWORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@cache
def _table() -> tuple[np.ndarray, np.ndarray, object]:
    m = embed._model("wordllama")
    E = m.embedding
    return E, np.linalg.norm(E, axis=1), m.tokenizer


def prep(text: str, how: str) -> str:
    if how == "raw":
        return text
    if how.startswith("lead"):  # the first W whitespace words
        return " ".join(text.split()[: int(how[4:])])
    words = _WORD.findall(text)
    if how == "nostop":
        words = [w for w in words if w.lower() not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    elif how != "nopunct":
        raise ValueError(how)
    return " ".join(words)


def token_ids(texts: list[str]) -> list[np.ndarray]:
    _, _, tok = _table()
    enc = tok.encode_batch(texts, add_special_tokens=False)
    return [np.asarray([i for i, a in zip(e.ids, e.attention_mask, strict=True) if a], dtype=np.int64) for e in enc]


@cache
def weights(tw: str) -> np.ndarray:
    _E, n, _ = _table()
    if tw == "none":
        return np.ones(len(n), dtype=np.float32)
    if tw.startswith("pow"):
        return (n ** float(tw[3:])).astype(np.float32)
    if tw.startswith("clip"):
        return (n >= float(tw[4:])).astype(np.float32)
    raise ValueError(tw)


def pool(texts: list[str], tw: str = "none") -> np.ndarray:
    """Unit vectors (zero vector for an empty text)."""
    E, _, _ = _table()
    w = weights(tw)
    ids = token_ids(texts)
    out = np.zeros((len(texts), E.shape[1]), dtype=np.float32)
    for r, t in enumerate(ids):
        if len(t):
            v = (w[t, None] * E[t]).sum(0)
            nv = np.linalg.norm(v)
            if nv > 0:
                out[r] = v / nv
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    nv = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(nv > 0, nv, 1.0)


@cache
def doc_vectors(
    ds: str,
    ci: int,
    prep_how: str = "raw",
    tw: str = "none",
    name_w: float = 0.0,
    name_mode: str = "concat",
    prev_w: float = 0.0,
    prev_words: int = 25,
    lead_mix: float = 0.0,
) -> np.ndarray:
    ms = lab.dataset(ds)[ci].messages
    texts = [prep(m.text, prep_how) for m in ms]
    if name_mode == "concat" and name_w:
        v = pool([f"{m.speaker}: {t}" for m, t in zip(ms, texts, strict=True)], tw)
    else:
        v = pool(texts, tw)
        if name_w:
            v = v + name_w * pool([m.speaker for m in ms], tw)
    if lead_mix:  # + lead_mix * unit vector of the first 50 words
        v = _unit(v) + lead_mix * pool([prep(m.text, "lead50") for m in ms], tw)
    if prev_w:
        prev = [""] + [" ".join(prep(m.text, prep_how).split()[-prev_words:]) for m in ms[:-1]]
        v = _unit(v) + prev_w * pool(prev, tw)
    return _unit(v)


@cache
def query_vectors(ds: str, ci: int, prep_how: str = "raw", tw: str = "none") -> np.ndarray:
    return pool([prep(q.text, prep_how) for q in lab.dataset(ds)[ci].questions], tw)


@cache
def scores(ds: str, doc: tuple = (), query: tuple = ()) -> tuple:
    """Per conversation: (questions x messages) cosine. doc / query: positional args of doc_vectors /
    query_vectors after (ds, ci); query may also be a tuple of such tuples (several query variants, their
    vectors summed and renormalised)."""
    out = []
    for ci in range(len(lab.dataset(ds))):
        D = doc_vectors(ds, ci, *doc)
        if query and isinstance(query[0], tuple):
            Q = _unit(sum(query_vectors(ds, ci, *q) for q in query))
        else:
            Q = query_vectors(ds, ci, *query)
        out.append(Q @ D.T)
    return tuple(out)


@cache
def minilm_sep_vectors(ds: str, ci: int, model: str = "minilm", name_w: float = 0.5) -> np.ndarray:
    """The 'separate name' recipe for a contextual embedder: unit(unit(E(text)) + name_w * unit(E(name)))."""
    ms = lab.dataset(ds)[ci].messages
    v = embed.embed(model, [m.text for m in ms]) + name_w * embed.embed(model, [m.speaker for m in ms])
    return _unit(v)


@cache
def minilm_scores(ds: str, model: str = "minilm", name_w: float = 0.5) -> tuple:
    return tuple(
        lab.query_vectors(ds, ci, model) @ minilm_sep_vectors(ds, ci, model, name_w).T
        for ci in range(len(lab.dataset(ds)))
    )
