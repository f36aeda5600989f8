"""Exact, offline tiktoken `o200k_base` token counting.

tiktoken itself downloads its vocabulary on first use, which must never happen here. The very same
`o200k_base.tiktoken` rank file (sha256 446a9538...1a2d, the hash tiktoken pins) ships with this package
(domain/data/, origin and licence in o200k_base.LICENSE). We check its hash and build the `tiktoken.Encoding`
ourselves, so no code path can reach the network. `HONCHO_TOKENIZER_FILE` may point at another copy of the file.
"""

import base64
import os
import threading
from pathlib import Path

import tiktoken

from honcho_server.domain.pinned import read_pinned

TOKENIZER_NAME = "tiktoken/o200k_base"
VOCAB_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
VOCAB_FILE_ENV = "HONCHO_TOKENIZER_FILE"
BUNDLED_VOCAB = Path(__file__).parent / "data" / "o200k_base.tiktoken"

# Special tokens of o200k_base and its pre-tokenisation pattern (as defined by tiktoken_ext.openai_public).
SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
_LETTERS_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_LETTERS_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
_CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
O200K_PATTERN = "|".join(
    [
        rf"[^\r\n\p{{L}}\p{{N}}]?{_LETTERS_UPPER}*{_LETTERS_LOWER}+{_CONTRACTIONS}",
        rf"[^\r\n\p{{L}}\p{{N}}]?{_LETTERS_UPPER}+{_LETTERS_LOWER}*{_CONTRACTIONS}",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)

# tiktoken's threaded batch encoder only pays off for long texts: measured 3-5x slower than a plain
# loop on short chat messages, ~20% faster on 25k-character chunks (2 cores).
_BATCH_MIN_AVG_CHARS = 4000
_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def vocabulary_path() -> Path:
    """Where the o200k_base rank file is read from: `HONCHO_TOKENIZER_FILE`, else the bundled copy."""
    explicit = os.environ.get(VOCAB_FILE_ENV)
    return Path(explicit) if explicit else BUNDLED_VOCAB


def _load_ranks(path: Path) -> dict[bytes, int]:
    data = read_pinned(path, VOCAB_SHA256, "the o200k_base vocabulary")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def check_vocabulary() -> None:
    """Raise NotThePinnedFile now if the vocabulary is damaged (~10 ms: a start-up refuses a bad copy at once,
    while the encoder itself may load later)."""
    read_pinned(vocabulary_path(), VOCAB_SHA256, "the o200k_base vocabulary")


def get_encoding() -> tiktoken.Encoding:
    """The shared o200k_base encoder, built on first use (thread-safe)."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                ranks = _load_ranks(vocabulary_path())
                _encoding = tiktoken.Encoding(
                    name="o200k_base",
                    pat_str=O200K_PATTERN,
                    mergeable_ranks=ranks,
                    special_tokens=SPECIAL_TOKENS,
                )
                # The encoder's Rust core holds its own copy; this dict of 200k byte strings (~28 MB, kept by the
                # Encoding for methods this package never calls) is emptied. Counting, encoding and decoding
                # all go through the core.
                ranks.clear()
    return _encoding


def count_tokens(text: str) -> int:
    """Number of o200k_base tokens in `text`; special-token strings count as plain text."""
    return len(get_encoding().encode_ordinary(text)) if text else 0


def count_tokens_many(texts: list[str]) -> list[int]:
    """`count_tokens` for many texts; long texts go through tiktoken's threaded batch encoder."""
    enc = get_encoding()
    if len(texts) > 1 and sum(map(len, texts)) >= _BATCH_MIN_AVG_CHARS * len(texts):
        return [len(tokens) for tokens in enc.encode_ordinary_batch(texts)]
    return [len(enc.encode_ordinary(t)) if t else 0 for t in texts]


def find_special_token(text: str) -> str | None:
    """The first special-token string in `text` (the reference's `encode` rejects those), else None."""
    hits = [(text.find(s), s) for s in SPECIAL_TOKENS if s in text]
    return min(hits)[1] if hits else None


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` (whole characters) whose token count is at most `max_tokens`."""
    if max_tokens <= 0:
        return ""
    enc = get_encoding()
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    keep = max_tokens
    while keep > 0:
        # A cut inside a multi-byte character leaves a partial sequence at the end: drop it.
        prefix = enc.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
        if len(enc.encode_ordinary(prefix)) <= max_tokens:
            return prefix
        keep -= 1
    return ""
