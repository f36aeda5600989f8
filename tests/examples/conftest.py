"""Fixtures for the examples/ tests: the server is `app_server` (auth on, reasoning on with the bench's fake model)
on SQLite only (the examples are clients of the HTTP API; the API on both databases is the SDK suites' job); the
OpenAI-compatible model the examples talk to is the suite's recording fake. The tests import their helpers
(example_run.py) by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def app_model() -> Iterator[FakeOpenAI]:
    """The examples' model: records every request; answers each with a short numbered reply."""
    with FakeOpenAI() as fake:
        fake.responder = lambda body: f"reply {len(fake.chat_requests)}"
        yield fake
