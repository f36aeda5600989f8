"""Unit tests for offline o200k_base token counting."""

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import tiktoken

from honcho_server.domain import tokens
from honcho_server.domain.tokens import (
    TOKENIZER_NAME,
    count_tokens,
    count_tokens_many,
    find_special_token,
    get_encoding,
    truncate_to_tokens,
    vocabulary_path,
)

SAMPLES = [
    "hello world",
    "Hello, World! I'm here; they'll say we've DONE it.",
    "naïve café, Ünïcödé — “quotes” and emoji 🎉👩‍👩‍👧 and 中文字符 and العربية",
    "def f(x):\n    return x ** 2  # comment\r\n\r\n\tindented\n\n\n",
    "numbers 1234567890 3.14159 1e-10 0x1F and URLs https://example.com/a/b?c=d",
    "   leading and trailing spaces   ",
    "<|endoftext|> looks special but is text",
]


def test_name_and_known_token_ids():
    assert TOKENIZER_NAME == "tiktoken/o200k_base"
    assert get_encoding().encode_ordinary("hello world") == [24912, 2375]
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0


def test_identical_to_tiktokens_own_o200k_base(monkeypatch, tmp_path):
    # tiktoken's own loader, given the bundled file as its cache (keyed by the sha1 of the download URL, and
    # checked against the hash tiktoken pins), with the network unreachable.
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    shutil.copyfile(vocabulary_path(), tmp_path / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    from tiktoken_ext.openai_public import o200k_base

    official = o200k_base()
    enc = get_encoding()
    assert enc._pat_str == official["pat_str"]
    assert enc._special_tokens == official["special_tokens"]
    # The encoder keeps no copy of the ranks in Python (its core has them): the file's ranks are tiktoken's, and
    # the encoder splits every sample into the same tokens as tiktoken's own.
    assert tokens._load_ranks(vocabulary_path()) == official["mergeable_ranks"]
    theirs = tiktoken.Encoding(**official)
    for text in SAMPLES:
        assert enc.encode_ordinary(text) == theirs.encode_ordinary(text), text


def test_loads_without_network_or_tiktoken_cache(tmp_path):
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network disabled in test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from honcho_server.domain.tokens import count_tokens\n"
        "assert count_tokens('hello world') == 2\n"
        "assert 'litellm' not in sys.modules and 'requests' not in sys.modules\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "HTTPS_PROXY": "http://127.0.0.1:9"}
    env["HTTP_PROXY"] = env["HTTPS_PROXY"]
    env.pop(tokens.VOCAB_FILE_ENV, None)
    src = Path(tokens.__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert list(cache.iterdir()) == []


def test_special_token_text_is_counted_as_plain_text():
    assert count_tokens("<|endoftext|>") > 1
    assert find_special_token("a <|endofprompt|> b <|endoftext|>") == "<|endofprompt|>"
    assert find_special_token("x <|endoftext|> <|endofprompt|>") == "<|endoftext|>"
    assert find_special_token("<|endof|>") is None


def test_count_tokens_many_matches_single_counts():
    assert count_tokens_many([]) == []
    assert count_tokens_many([*SAMPLES, ""]) == [count_tokens(s) for s in SAMPLES] + [0]
    long_texts = [" ".join(SAMPLES) * 200, "word " * 5000, ""]  # long enough for the threaded path
    assert count_tokens_many(long_texts) == [count_tokens(t) for t in long_texts]


def test_truncate_to_tokens():
    text = " ".join(SAMPLES)
    assert truncate_to_tokens(text, 10_000) == text
    assert truncate_to_tokens(text, 0) == ""
    assert truncate_to_tokens(text, -3) == ""
    assert truncate_to_tokens("hello world", 1) == "hello"
    for limit in range(1, count_tokens(text)):
        cut = truncate_to_tokens(text, limit)
        assert text.startswith(cut)
        assert count_tokens(cut) <= limit
        assert "\ufffd" not in cut


def test_truncate_never_splits_a_character():
    text = "🎉👩‍👩‍👧中文字符" * 3
    for limit in range(1, count_tokens(text) + 1):
        cut = truncate_to_tokens(text, limit)
        assert text.startswith(cut)
        assert count_tokens(cut) <= limit


def test_lazy_loading_is_thread_safe(monkeypatch):
    monkeypatch.setattr(tokens, "_encoding", None)
    seen = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        seen.append((get_encoding(), count_tokens(SAMPLES[2])))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(enc) for enc, _ in seen}) == 1
    assert len({n for _, n in seen}) == 1


def test_the_vocabulary_ships_with_the_package(monkeypatch):
    monkeypatch.delenv(tokens.VOCAB_FILE_ENV, raising=False)
    assert vocabulary_path() == Path(tokens.__file__).parent / "data" / "o200k_base.tiktoken"
    assert len(tokens._load_ranks(vocabulary_path())) == 199998  # the sha256 is checked on the way


def test_rejects_a_wrong_vocabulary_file(monkeypatch, tmp_path):
    bogus = tmp_path / "o200k_base.tiktoken"
    bogus.write_bytes(b"aGVsbG8= 0\n")
    monkeypatch.setenv(tokens.VOCAB_FILE_ENV, str(bogus))
    assert vocabulary_path() == bogus
    with pytest.raises(RuntimeError, match="sha256"):
        tokens._load_ranks(bogus)
