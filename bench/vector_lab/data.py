"""Synthetic embeddings and tenant layout shared by the SQLite and PostgreSQL benchmarks.

Vectors are unit-length float32. Kinds:
* "textlike" (default): shaped after real all-MiniLM-L6-v2 message embeddings (24,667 of them, measured
  once): a common mean direction (|mean| 0.32, random pairs at cosine ~0.10), an anisotropic spectrum
  (variance of axis i ~ i^-0.75, effective dimension ~82 of 384) and a two-level topic mixture (200 topics x
  50 subtopics), giving a median 10th-neighbour cosine of ~0.64 at 25k points. Real MiniLM: 0.10 / 82 / 0.63.
* "clustered": 512 isotropic Gaussian blobs; neighbours are nearly equidistant (effective dimension ~320),
  a pathological case for any ANN index (HNSW recall collapses), fine for timing brute force.
* "uniform": isotropic Gaussian directions, the same problem, worse.
Queries are fresh draws from the same distribution (not copies of stored points).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class Vectors:
    def __init__(self, dim: int, *, kind: str = "textlike", seed: int = 7) -> None:
        self.dim, self.kind = dim, kind
        # The distribution is fixed by `structure_seed`; `seed` only picks the samples, so data and
        # queries drawn with different seeds come from the same distribution.
        srng = np.random.default_rng(12345)
        self.rng = np.random.default_rng(seed)
        if kind == "textlike":
            self.basis = np.linalg.qr(srng.standard_normal((dim, dim)))[0].astype(np.float32)
            scale = (np.arange(1, dim + 1) ** -0.375).astype(np.float32)
            self.scale = scale / np.sqrt((scale ** 2).sum())
            mu = srng.standard_normal(dim).astype(np.float32)
            self.mean = 0.45 * mu / np.linalg.norm(mu)
            topics = srng.standard_normal((200, dim)).astype(np.float32) * self.scale
            self.centers = (np.repeat(topics, 50, axis=0)
                            + 0.8 * srng.standard_normal((200 * 50, dim)).astype(np.float32) * self.scale)
        elif kind == "clustered":
            c = srng.standard_normal((512, dim)).astype(np.float32)
            self.centers = c / np.linalg.norm(c, axis=1, keepdims=True)
        elif kind != "uniform":
            raise ValueError(kind)

    def draw(self, n: int) -> np.ndarray:
        g = self.rng.standard_normal((n, self.dim)).astype(np.float32)
        if self.kind == "textlike":
            z = self.centers[self.rng.integers(0, len(self.centers), n)] + 0.5 * g * self.scale
            g = z @ self.basis.T + self.mean
        elif self.kind == "clustered":
            g *= 1.0 / np.sqrt(self.dim)
            g += self.centers[self.rng.integers(0, len(self.centers), n)]
        return g / np.linalg.norm(g, axis=1, keepdims=True)


def exact_topk(data: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k nearest rows of `data` by cosine (all rows unit length)."""
    if len(ids) == 0:
        return ids
    sims = data @ query
    k = min(k, len(ids))
    part = np.argpartition(-sims, k - 1)[:k]
    return ids[part[np.argsort(-sims[part])]]


def recall(found: list[int] | np.ndarray, truth: np.ndarray) -> float:
    if len(truth) == 0:
        return 1.0
    return len({int(x) for x in found} & {int(x) for x in truth}) / len(truth)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def summary(ms: list[float]) -> str:
    return f"p50 {pct(ms, 50):7.2f} ms  p95 {pct(ms, 95):7.2f} ms"


@contextmanager
def timed(label: str) -> Iterator[None]:
    t = time.perf_counter()
    yield
    print(f"  [{label}: {time.perf_counter() - t:.1f} s]", flush=True)
