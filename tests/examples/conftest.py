"""Fixtures for the examples/ tests: one server per database with reasoning on (its model the bench's fake, which
derives one conclusion per longer message at once), and the OpenAI-compatible model the examples talk to (the
suite's recording fake). The tests import their helpers (example_run.py) by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI
from honcho_bench.fake_llm import FakeLLM
from server_process import ServerProcess
from support import fresh_database_url

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def examples_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp(f"examples-{backend}")
    with FakeLLM() as reasoning_model:
        env = {"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": "fake",
               "HONCHO_LLM__BASE_URL": reasoning_model.base_url, "HONCHO_DERIVER__FLUSH_SECONDS": "0",
               "HONCHO_WORKER__POLL_INTERVAL_SECONDS": "0.1", "HONCHO_EMBEDDING__PROVIDER": "hash"}
        server = ServerProcess(name=f"examples-{backend}", db_url=fresh_database_url(backend, workdir),
                               workdir=workdir, migrate=backend == "postgres", extra_env=env).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def app_model() -> Iterator[FakeOpenAI]:
    """The examples' model: records every request; answers each with a short numbered reply."""
    with FakeOpenAI() as fake:
        fake.responder = lambda body: f"reply {len(fake.chat_requests)}"
        yield fake
