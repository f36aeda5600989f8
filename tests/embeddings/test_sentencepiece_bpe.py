"""The bundled Llama 2 tokenizer gives exactly the ids of the `tokenizers` library for the same file, on real
conversation text and on generated text full of what tokenizers get wrong (spaces, unknown characters, emoji,
scripts outside the vocabulary, long words), and the safetensors reader matches the `safetensors` package's
layout rules."""

import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from honcho_server.embeddings._safetensors import read_tensors
from honcho_server.embeddings._sentencepiece_bpe import SentencePieceBPE
from honcho_server.embeddings.local import BUNDLED_DATA, WORDLLAMA_TOKENIZER

tokenizers = pytest.importorskip("tokenizers", reason="the reference tokenizer (pip install 'honcho-server[minilm]')")

TOKENIZER_FILE = BUNDLED_DATA / WORDLLAMA_TOKENIZER
LOCOMO = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def pair() -> tuple[SentencePieceBPE, "tokenizers.Tokenizer"]:
    reference = tokenizers.Tokenizer.from_file(str(TOKENIZER_FILE))
    reference.no_padding()
    reference.no_truncation()
    return SentencePieceBPE.from_json(TOKENIZER_FILE.read_bytes()), reference


def reference_ids(reference: "tokenizers.Tokenizer", texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in reference.encode_batch(texts, add_special_tokens=False)]


def generated_texts(count: int, seed: int) -> list[str]:
    """Text built to stress the tokenizer: runs of spaces and other whitespace, accents, CJK, emoji, rare
    scripts, control characters, digits, long unbroken words."""
    rng = random.Random(seed)
    alphabets = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  ", "\n\t\r",
                 ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`", "éèêëàâäôöûüçñßøåæœ", "日本語中文한국어テキスト",
                 "🎉😀👍🏽🇫🇷‍", "ሀሁሂሃሄ", "\u2581\u200b\u00a0\u0000\u202e", "ΑΒΓαβγЖжЯя", "אבגدجح"]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            alphabet = rng.choice(alphabets)
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))))
        texts.append(rng.choice(["", " "]).join(parts))
    return texts


def conversation_texts() -> list[str]:
    texts = []
    for path in sorted(LOCOMO.rglob("*.json"))[:2]:
        content = path.read_text(encoding="utf-8", errors="replace")
        texts += [content[i : i + 300] for i in range(0, min(len(content), 300_000), 300)]
    return texts or ["Caroline went to the LGBTQ support group on Tuesday, 7 May 2023."]


def test_same_ids_as_the_tokenizers_library(pair: tuple[SentencePieceBPE, "tokenizers.Tokenizer"]) -> None:
    ours, reference = pair
    texts = ["", " ", "  ", "Hello world", "  two  spaces  ", "x" * 5000, "ab" * 3000, "\u2581already marked",
             *conversation_texts(), *generated_texts(1500, seed=14)]
    mismatches = [(text, ids) for text, ids in zip(texts, reference_ids(reference, texts), strict=True)
                  if ours.encode(text) != ids]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} texts differ, e.g. {mismatches[0][0][:80]!r}"


def test_cached_words_give_the_same_ids_again(pair: tuple[SentencePieceBPE, "tokenizers.Tokenizer"]) -> None:
    ours, reference = pair
    texts = generated_texts(200, seed=7)
    assert ours.encode_batch(texts) == ours.encode_batch(texts) == reference_ids(reference, texts)


def test_a_tokenizer_it_would_get_wrong_is_refused() -> None:
    config = json.loads(TOKENIZER_FILE.read_bytes())
    config["pre_tokenizer"] = {"type": "Whitespace"}
    with pytest.raises(ValueError, match="has a pre-tokenizer"):
        SentencePieceBPE(config)
    config = json.loads(TOKENIZER_FILE.read_bytes())
    config["model"]["vocab"]["a\u2581b"] = 32000
    with pytest.raises(ValueError, match="crosses a word boundary"):
        SentencePieceBPE(config)


def safetensors_bytes(header: dict[str, object], body: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


def test_safetensors_reader(tmp_path: Path) -> None:
    table = np.arange(12, dtype="<f2").reshape(3, 4)
    ints = np.array([7, -1], dtype="<i8")
    data = safetensors_bytes({"__metadata__": {"format": "pt"},
                              "table": {"dtype": "F16", "shape": [3, 4], "data_offsets": [0, 24]},
                              "ints": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}},
                             table.tobytes() + ints.tobytes())
    path = tmp_path / "t.safetensors"
    path.write_bytes(data)
    tensors = read_tensors(path)
    assert set(tensors) == {"table", "ints"}
    assert np.array_equal(tensors["table"], table) and np.array_equal(tensors["ints"], ints)
    path.write_bytes(safetensors_bytes({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
    with pytest.raises(ValueError, match="does not match its declared shape"):
        read_tensors(path)
    path.write_bytes(safetensors_bytes({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)))
    with pytest.raises(ValueError, match="unsupported dtype C64"):
        read_tensors(path)
    path.write_bytes(b"\xff" * 12)
    with pytest.raises(ValueError, match="header runs past the end"):
        read_tensors(path)
