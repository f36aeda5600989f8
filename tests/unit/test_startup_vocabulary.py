"""The server starts answering before the token vocabulary has loaded, but a damaged vocabulary still stops it
from starting at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from honcho_server.api.app import create_app
from honcho_server.domain import tokens
from honcho_server.domain.pinned import NotThePinnedFile
from support import fresh_deps


async def test_a_damaged_vocabulary_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "o200k_base.tiktoken"
    bad.write_bytes(tokens.vocabulary_path().read_bytes()[:-10])
    monkeypatch.setenv(tokens.VOCAB_FILE_ENV, str(bad))
    async with fresh_deps("sqlite", tmp_path) as deps:
        app = create_app(deps.settings, deps=deps)
        with pytest.raises(NotThePinnedFile):
            async with app.router.lifespan_context(app):
                pass


async def test_the_pinned_vocabulary_starts(tmp_path: Path) -> None:
    async with fresh_deps("sqlite", tmp_path) as deps:
        app = create_app(deps.settings, deps=deps)
        async with app.router.lifespan_context(app):
            assert tokens.count_tokens("hello world") == 2
