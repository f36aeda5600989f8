"""A deterministic embedder for tests: signed feature hashing of words, no model, no network.

Each lower-cased word that is not a stop word, with a crude suffix strip ("drinks", "drinking" -> "drink"), is
hashed to a coordinate and a sign; counts are damped (1 + log tf) and the sum is normalised. Texts that share
words therefore have a higher cosine similarity than texts that share none, which is enough to make tests of
vector search meaningful. The hash is blake2b, so vectors are identical across processes and platforms (unlike
Python's salted `hash`). Two different words share a coordinate with probability 1/`dimensions`, so tests should
compare texts that share a word or two against texts that share none rather than rely on exact scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from hashlib import blake2b

from honcho_server.embeddings._vectors import normalise
from honcho_server.embeddings.base import Purpose

_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "did", "do", "does", "for", "from", "had", "has",
    "have", "he", "her", "his", "how", "i", "if", "in", "is", "it", "its", "me", "my", "not", "of", "on", "or",
    "our", "she", "so", "than", "that", "the", "their", "them", "then", "there", "they", "this", "to", "too", "us",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})
_SUFFIXES = ("ing", "ed", "es", "s")


def features(text: str) -> list[str]:
    """The words a text is embedded from: lower-cased, stop words dropped, a common suffix removed."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        for suffix in _SUFFIXES:
            if len(word) > len(suffix) + 2 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        out.append(word)
    return out


@lru_cache(maxsize=65536)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    digest = int.from_bytes(blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return (digest >> 1) % dimensions, (1.0 if digest & 1 else -1.0)


class HashEmbedder:
    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 2:
            raise ValueError("hash embedder needs at least 2 dimensions")
        self._dimensions = dimensions

    @property
    def model_id(self) -> str:
        return f"hash:{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dimensions
        for feature, count in Counter(features(text)).items():
            index, sign = _slot(feature, self._dimensions)
            vector[index] += sign * (1.0 + math.log(count))
        return normalise(vector)

    async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    async def aclose(self) -> None:
        return None
