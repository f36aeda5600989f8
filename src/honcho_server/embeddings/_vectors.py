"""Vector helpers shared by the providers (pure Python: remote providers need no numpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from honcho_server.embeddings.base import EmbeddingError


def unit_fallback(dimensions: int) -> list[float]:
    """The vector given to a text with no signal at all (an all-zero embedding has no direction)."""
    return [1.0] + [0.0] * (dimensions - 1)


def normalise(vector: Sequence[float]) -> list[float]:
    """Scale to unit length. A zero vector becomes `unit_fallback`; NaN or infinite values are an error."""
    norm = math.hypot(*vector)
    if not math.isfinite(norm):
        raise EmbeddingError("provider returned a vector with NaN or infinite values")
    if norm == 0.0:
        return unit_fallback(len(vector))
    return [x / norm for x in vector]


def check_dimensions(vectors: Sequence[Sequence[float]], expected: int, source: str) -> None:
    for vector in vectors:
        if len(vector) != expected:
            raise EmbeddingError(
                f"{source} returned {len(vector)}-dimensional vectors, expected {expected} "
                "(check HONCHO_EMBEDDING__MODEL / HONCHO_EMBEDDING__DIMENSIONS)"
            )
