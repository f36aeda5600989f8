"""numpy helpers shared by the local models."""

from __future__ import annotations

import numpy as np


def token_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Text indices grouped by similar token count (little padding), each group's padded size within `budget`
    tokens (a longer text forms a group of its own)."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and (len(groups[-1]) + 1) * lengths[i] <= budget:
            groups[-1].append(i)  # lengths ascend, so the newest text is the widest
        else:
            groups.append([i])
    return groups


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row; an all-zero row (a text without tokens) becomes the first basis vector."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    empty = norms[:, 0] == 0.0
    matrix = matrix / np.where(norms == 0.0, 1.0, norms)
    matrix[empty, 0] = 1.0
    return matrix
