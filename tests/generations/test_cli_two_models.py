"""The command line end to end on both databases, against the loopback server playing two models (as in
test_two_models.py): `honcho-server rederive --model model-b` prints the estimate before any model is asked anything,
follows the build with its progress bar while a worker runs, and `generations compare | activate | rollback`
switch what the API serves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from api_helpers import expect, ws_url
from generation_helpers import command_database
from generation_helpers import with_deps as _with
from test_two_models import _conversation, _reads, _voices
from two_models import VOICE
from typer.testing import CliRunner

from fake_openai import FakeOpenAI
from honcho_server.cli.main import app
from honcho_server.worker.runtime import Worker
from support import api_client

runner = CliRunner()
WS = "cli-two-models"


@pytest.fixture
def url(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI) -> str:
    """A migrated database of its own; the settings (read from the environment by the commands and by `new_deps`)
    name model-a on the loopback server, priced, and the hashing embedder."""
    return command_database(backend, tmp_path, monkeypatch, {
        "EMBEDDING__PROVIDER": "hash", "EMBEDDING__DIMENSIONS": "64", "LLM__PROVIDER": "openai-compatible",
        "LLM__MODEL": "model-a", "LLM__BASE_URL": fake.base_url, "LLM__INPUT_PRICE_PER_MTOK": "1",
        "LLM__OUTPUT_PRICE_PER_MTOK": "2", "DERIVER__FLUSH_SECONDS": "0", "DEFAULTS__MESSAGES_PER_SHORT_SUMMARY": "10",
        "WORKER__POLL_INTERVAL_SECONDS": "0.05"})




def _api(url: str, use: Callable[[Any], Awaitable[Any]]) -> Any:
    async def call(deps: Any) -> Any:
        async with api_client(deps) as client:
            return await use(client)

    return _with(url, call)


class _WorkerThread:
    """`honcho-server worker` beside the command: its own event loop and connections, until stopped."""

    def __init__(self, url: str) -> None:
        self.url, self._stop = url, threading.Event()
        self._thread = threading.Thread(target=lambda: _with(url, self._run), daemon=True)

    async def _run(self, deps: Any) -> None:
        worker = Worker(deps)
        while not self._stop.is_set():
            if not await worker.run_once():
                await asyncio.sleep(0.05)

    def __enter__(self) -> _WorkerThread:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def _run(*args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result


def test_rederive_compare_activate_and_roll_back_from_the_command_line(url: str, fake: FakeOpenAI) -> None:
    async def build(client: Any) -> None:
        await _conversation(client, WS)

    _api(url, build)
    _with(url, lambda deps: Worker(deps).drain())
    asked = len(fake.chat_requests)

    dry = _run("rederive", "--db", url, "--workspace", WS, "--model", "model-b", "--dry-run")
    assert "Estimate" in dry.output and "model-b" in dry.output and "$" in dry.output
    assert len(fake.chat_requests) == asked, "the estimate asks no model"

    with _WorkerThread(url):
        built = _run("rederive", "--db", url, "--workspace", WS, "--model", "model-b", "--max-cost", "5", "--yes")
    assert built.output.index("Estimate") < built.output.index("g2 is building"), "the estimate comes first"
    assert "ready" in built.output
    assert {r["model"] for r in fake.chat_requests[asked:]} == {"model-b"}, "the rederive asked model-b only"

    listed = _run("generations", "list", "--db", url, "--workspace", WS)
    assert "g1" in listed.output and "g2" in listed.output and "ready" in listed.output
    compared = _run("generations", "compare", "g1", "g2", "--db", url, "--workspace", WS)
    assert VOICE["model-a"] in compared.output and VOICE["model-b"] in compared.output

    async def reads(client: Any) -> dict[str, Any]:
        return await _reads(client, WS)

    assert _voices(_api(url, reads)) == {"A heard"}
    _run("generations", "activate", "g2", "--db", url, "--workspace", WS)
    assert _voices(_api(url, reads)) == {"B heard"}
    _run("generations", "rollback", "--db", url, "--workspace", WS)
    assert _voices(_api(url, reads)) == {"A heard"}

    async def generations(client: Any) -> list[dict[str, Any]]:
        return expect(await client.get(ws_url(WS, "generations")), 200)["items"]

    states = {g["id"]: g["state"] for g in _api(url, generations)}
    assert states == {"g1": "active", "g2": "ready"}
