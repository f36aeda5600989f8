"""Recently asked search queries and their vectors, so a repeated query skips the embedder (a remote one costs a
network round trip per search)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


class QueryCache:
    """Least-recently-used map of (embedder model, query text) to its unit vector; bounded in entries."""

    def __init__(self, entries: int = 2048) -> None:
        self._entries = entries
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def get(self, model_id: str, text: str) -> np.ndarray | None:
        vector = self._vectors.get((model_id, text))
        if vector is not None:
            self._vectors.move_to_end((model_id, text))
        return vector

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None:
        if self._entries <= 0:
            return
        vector.setflags(write=False)  # shared by every caller that asks the same query
        self._vectors[(model_id, text)] = vector
        self._vectors.move_to_end((model_id, text))
        while len(self._vectors) > self._entries:
            self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)
