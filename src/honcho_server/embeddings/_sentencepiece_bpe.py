"""The Llama 2 tokenizer (SentencePiece BPE with byte fallback) run from its Hugging Face `tokenizer.json`, in
plain Python: the same ids as the `tokenizers` library for that file (tests/embeddings/test_sentencepiece_bpe.py
compares them), without that library and the Hugging Face Hub packages it installs.

The text is normalised the SentencePiece way (a leading "▁", every space replaced by "▁"), cut into words (a
run of "▁" and the characters up to the next one; no vocabulary entry crosses such a boundary, checked at load,
so each word can be merged alone), and each word's pieces are merged by merge rank. Words are cached: speech
repeats its words, so a cached lookup does most of the work.
"""

from __future__ import annotations

import heapq
import json
import re
from typing import Any

SPACE = "\u2581"  # "▁", SentencePiece's visible space
_WORD = re.compile(f"{SPACE}*[^{SPACE}]+|{SPACE}+")
_CACHE_LIMIT = 100_000
_ID_LIMIT = 1 << 16


class SentencePieceBPE:
    """Encodes text to token ids. Threads may share it: its word cache is only read, set or cleared an entry at a
    time, each of which CPython's dict does atomically (a race at worst computes a word twice)."""

    def __init__(self, config: dict[str, Any]) -> None:
        _check_supported(config)
        model = config["model"]
        vocab: dict[str, int] = model["vocab"]
        for piece in vocab:
            if SPACE in piece.lstrip(SPACE):
                raise ValueError(f"vocabulary piece {piece!r} crosses a word boundary; words cannot be merged alone")
        if len(vocab) > _ID_LIMIT:
            raise ValueError(f"a vocabulary of {len(vocab)} pieces is larger than this encoder packs")
        # Compact tables (the server keeps them for its lifetime): single characters, and each mergeable pair as
        # one int (left << 16 | right) mapped to one int (rank << 16 | merged piece).
        self._chars = {piece: i for piece, i in vocab.items() if len(piece) == 1}
        self._bytes = [vocab[f"<0x{b:02X}>"] for b in range(256)]
        self._merges: dict[int, int] = {}
        for rank, merge in enumerate(model["merges"]):
            left, right = merge.split(" ") if isinstance(merge, str) else merge
            merged = vocab.get(left + right)
            if merged is not None and left in vocab and right in vocab:
                self._merges.setdefault(vocab[left] << 16 | vocab[right], rank << 16 | merged)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_json(cls, text: str | bytes) -> SentencePieceBPE:
        return cls(json.loads(text))

    def encode(self, text: str) -> list[int]:
        if not text:
            return []
        ids: list[int] = []
        cache = self._cache
        for word in _WORD.findall(SPACE + text.replace(" ", SPACE)):
            pieces = cache.get(word)
            if pieces is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                pieces = cache[word] = self._merge(self._symbols(word))
            ids.extend(pieces)
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def _symbols(self, word: str) -> list[int]:
        """One id per character; a character outside the vocabulary becomes its UTF-8 bytes' ids."""
        symbols: list[int] = []
        for char in word:
            known = self._chars.get(char)
            if known is None:
                symbols.extend(self._bytes[b] for b in char.encode("utf-8"))
            else:
                symbols.append(known)
        return symbols

    def _merge(self, ids: list[int]) -> list[int]:
        """Applies the lowest-ranked mergeable adjacent pair, leftmost first, until none is left."""
        count = len(ids)
        if count < 2:
            return ids
        merges = self._merges
        nxt = list(range(1, count + 1))
        prv = list(range(-1, count - 1))
        nxt[-1] = -1
        heap: list[tuple[int, int, int]] = []  # (merge rank, left position, the pair as one int)
        for i in range(count - 1):
            pair = ids[i] << 16 | ids[i + 1]
            found = merges.get(pair)
            if found is not None:
                heap.append((found >> 16, i, pair))
        heapq.heapify(heap)
        while heap:
            _, i, pair = heapq.heappop(heap)
            j = nxt[i]
            if j == -1 or ids[i] << 16 | ids[j] != pair:
                continue  # stale: a neighbour was merged since this pair was queued
            ids[i] = merges[pair] & 0xFFFF
            ids[j] = -1
            nxt[i] = nxt[j]
            if nxt[j] != -1:
                prv[nxt[j]] = i
            for left in (prv[i], i):
                right = nxt[left] if left != -1 else -1
                if left != -1 and right != -1:
                    pair = ids[left] << 16 | ids[right]
                    found = merges.get(pair)
                    if found is not None:
                        heapq.heappush(heap, (found >> 16, left, pair))
        return [x for x in ids if x != -1]


def _check_supported(config: dict[str, Any]) -> None:
    """Refuses a tokenizer.json this encoder would get wrong rather than returning different ids."""
    model = config.get("model") or {}
    normalizers = (config.get("normalizer") or {}).get("normalizers") or []
    expected = [{"type": "Prepend", "prepend": SPACE},
                {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]
    problems = []
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        problems.append("the model is not BPE with byte fallback")
    if model.get("dropout") or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        problems.append("the model uses dropout or subword affixes")
    if normalizers != expected:
        problems.append("the normaliser is not SentencePiece's (prepend '▁', spaces to '▁')")
    if config.get("pre_tokenizer") is not None:
        problems.append("the file has a pre-tokenizer")
    if problems:
        raise ValueError("unsupported tokenizer: " + "; ".join(problems))
