"""How messages and queries become vectors.

A stored vector is `unit(unit(E(text)) + NAME_WEIGHT * unit(E(sender name)))`: the sender is part of what a
message is about (questions usually name who said something), but written into the text ("Caroline: ...") a
name's token can outweigh a short message entirely, so it is mixed in at a fixed weight instead. Measured on
LoCoMo with the default model: recall@10 0.689 -> 0.717 (docs/search.md, "Findings of the retrieval lab").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from honcho_server.embeddings.base import Embedder
from honcho_server.search.terms import keyword_text
from honcho_server.store.repos.embeddings import SourceMessage

NAME_WEIGHT = 0.5


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


async def document_vectors(embedder: Embedder, messages: Sequence[SourceMessage]) -> np.ndarray:
    """One unit vector per message, in order (one embedder call: the texts, then each distinct sender)."""
    names = sorted({m.peer_name for m in messages if m.peer_name})
    vectors = np.asarray(await embedder.embed([m.content for m in messages] + names, "document"), dtype=np.float32)
    texts = _unit(vectors[: len(messages)])
    if not names:
        return texts
    by_name = dict(zip(names, _unit(vectors[len(messages):]), strict=True))
    zero = np.zeros(vectors.shape[1], dtype=np.float32)
    mixed = texts + NAME_WEIGHT * np.stack([by_name.get(m.peer_name, zero) for m in messages])
    return _unit(mixed)


def query_text(embedder: Embedder, text: str) -> str:
    """What the query is embedded as: content words only for static models, the question as asked otherwise."""
    if getattr(embedder, "keyword_queries", False):
        return keyword_text(text) or text
    return text
