"""Fixtures of the generations suite: an app with auth on and an LLM configured (no model is ever called: the
rederive jobs, the estimate and the copy of the memory outside a scope are faked at their functions, see
generation_helpers.Fakes), over the session's database."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # generation_helpers, whatever pytest's import mode

import two_models
from api_helpers import JWT_SECRET
from generation_helpers import Fakes, install_fakes

from fake_openai import FakeOpenAI
from honcho_server.config import AuthSettings, LLMSettings
from honcho_server.services.deps import Deps
from support import api_client


@pytest.fixture(scope="module")
def gen_deps(deps: Deps) -> Deps:
    """The session's database, with auth on and an OpenAI model configured (reasoning on)."""
    settings = deps.settings.model_copy(deep=True)
    settings.llm = LLMSettings.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key"})
    settings.auth = AuthSettings(enabled=True, jwt_secret=JWT_SECRET)
    return Deps(db=deps.db, settings=settings)


@pytest.fixture(scope="module")
async def gc(gen_deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(gen_deps) as c:
        yield c


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """The loopback server playing "model-a" and "model-b" (two_models.py)."""
    with FakeOpenAI() as server:
        server.responder = two_models.answer
        yield server


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return install_fakes(monkeypatch)
