"""A pytest plugin (loaded by conftest.py): `app_server`, one `honcho-server serve` per database as an application
meets it (auth on, reasoning on), shared by the tests that drive it from outside through other programs: the
official honcho-cli (tests/cli_official) and the examples (tests/examples). Its model is the bench's fake, which
derives one conclusion per message of five words or more at once; its embedder is the hash embedder."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from server_process import ServerProcess
from support import fresh_database_url


@dataclass(frozen=True)
class AppServer:
    process: ServerProcess
    admin_key: str

    @property
    def base_url(self) -> str:
        return self.process.base_url


@pytest.fixture(scope="session")
def app_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    from sdk_helpers import admin_key

    from honcho_bench.fake_llm import FakeLLM  # here: every test run loads this plugin, few use the fixture

    secret = secrets.token_urlsafe(32)
    workdir = tmp_path_factory.mktemp(f"app-server-{backend}")
    with FakeLLM() as model:
        env = {"HONCHO_AUTH__ENABLED": "true", "HONCHO_AUTH__JWT_SECRET": secret,
               "HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": "fake",
               "HONCHO_LLM__BASE_URL": model.base_url, "HONCHO_DERIVER__FLUSH_SECONDS": "0",
               "HONCHO_WORKER__POLL_INTERVAL_SECONDS": "0.1", "HONCHO_EMBEDDING__PROVIDER": "hash"}
        server = ServerProcess(name=f"app-server-{backend}", db_url=fresh_database_url(backend, workdir),
                               workdir=workdir, migrate=backend == "postgres", extra_env=env, secret=secret).start()
        try:
            yield AppServer(server, admin_key(secret))
        finally:
            server.stop()
