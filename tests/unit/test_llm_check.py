"""`honcho-server llm check` against loopback fakes of real endpoints: per task, what the endpoint supports and the
mode the task will use; what to fix when a task cannot work (exit 1); the results stored for every process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from honcho_bench.loopback import LoopbackServer
from honcho_server.cli.main import app
from honcho_server.config import LLM_TASKS, DatabaseSettings
from honcho_server.domain.llm import Capabilities
from honcho_server.llm.capabilities import endpoint_key
from honcho_server.store.engine import Database
from honcho_server.store.repos import llm_capabilities as capability_repo
from provider_fakes import AnthropicFake, GeminiFake, OpenAIFake

runner = CliRunner()
CHATS = [t for t in LLM_TASKS if t.startswith("dialectic_")]
KEY_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("HONCHO_") or name in ("DB_CONNECTION_URI", *KEY_ENV):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config.toml of the developer's


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One embedded database for the module (each fake has its own port, so its own endpoint row)."""
    return f"sqlite:///{tmp_path_factory.mktemp('llm-check') / 'check.db'}"


def compatible(base_url: str, model: str = "fake", **more: str) -> dict[str, str]:
    return {"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": model,
            "HONCHO_LLM__BASE_URL": base_url, **more}


def check(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, ["llm", "check", *args], env=env)


def table(output: str) -> dict[str, dict[str, str]]:
    """The table's rows by task, each a dict of header -> cell."""
    lines = output.splitlines()
    headers = next([c.strip() for c in line.strip().strip("┃").split("┃")] for line in lines if line.startswith("┃"))
    rows = [[c.strip() for c in line.strip().strip("│").split("│")] for line in lines if line.startswith("│")]
    return {row[0]: dict(zip(headers, row, strict=True)) for row in rows}


def stored(url: str, key: str) -> Capabilities | None:
    async def read() -> Capabilities | None:
        database = Database(url, DatabaseSettings())
        try:
            async with database.read() as conn:
                return await capability_repo.get(conn, key)
        finally:
            await database.dispose()

    return asyncio.run(read())


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


def test_a_capable_endpoint_works_for_every_task_and_is_stored(db: str) -> None:
    with OpenAIFake("full") as fake:
        result = check(compatible(fake.base_url), "--db", db)
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert list(rows) == list(LLM_TASKS)
    for row in rows.values():
        assert row["provider/model"] == "openai-compatible/fake"
        assert (row["reachable"], row["auth ok"], row["tools"], row["forced tool choice"], row["json_schema"]) == (
            "yes", "yes", "yes", "yes", "yes")
        assert row["streaming"] == "yes (usage yes)" and row["latency"].endswith(" ms")
        assert row["sample"] == "From memory: nothing more is known."
    assert {rows[t]["mode"] for t in ("deriver", "dream")} == {"native"}
    assert rows["summary"]["mode"] == "text" and {rows[t]["mode"] for t in CHATS} == {"tools"}
    assert "Every task can work" in result.stdout and "stored in the database" in result.stdout
    assert len([r for r in fake.requests if r["messages"][-1]["content"] == "Reply with the single word: ready"]) == 1
    caps = stored(db, endpoint_key("openai-compatible", fake.base_url, "fake"))
    assert caps is not None and caps.source == "probe"
    assert (caps.tools, caps.json_schema, caps.streaming, caps.stream_usage) == ("yes", "yes", "yes", "yes")


@pytest.mark.parametrize(("behaviour", "tools", "json_schema", "structured", "chat"), [
    ("schema_only", "ignored", "yes", "native", "one call, no tools"),
    ("text_only", "ignored", "ignored", "prompted", "one call, no tools"),
    ("refuses_tools", "refused", "yes", "native", "one call, no tools"),
    ("refuses_response_format", "yes", "refused", "tool", "tools"),
])
def test_a_limited_endpoint_still_works_in_the_mode_it_allows(db: str, behaviour: str, tools: str, json_schema: str,
                                                              structured: str, chat: str) -> None:
    with OpenAIFake(behaviour) as fake:
        result = check(compatible(fake.base_url), "--db", db)
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert {(r["tools"], r["json_schema"]) for r in rows.values()} == {(tools, json_schema)}
    assert (rows["deriver"]["mode"], rows["dream"]["mode"], rows["summary"]["mode"]) == (structured, structured, "text")
    assert {rows[t]["mode"] for t in CHATS} == {chat}
    caps = stored(db, endpoint_key("openai-compatible", fake.base_url, "fake"))
    assert caps is not None and (caps.tools, caps.json_schema) == (tools, json_schema)


def test_json_output(db: str) -> None:
    with OpenAIFake("full") as fake, OpenAIFake("text_only") as local:
        env = compatible(fake.base_url, HONCHO_LLM__DERIVER__BASE_URL=local.base_url)
        result = check(env, "--db", db, "--json", "--task", "deriver", "--task", "dialectic_low", "--task", "summary")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["saved"] is True and body["problems"] == []
    rows = {t["task"]: t for t in body["tasks"]}
    assert list(rows) == ["deriver", "dialectic_low", "summary"]
    assert rows["deriver"]["base_url"] == local.base_url and rows["deriver"]["mode"] == "prompted"
    assert rows["deriver"]["capabilities"]["json_schema"] == "ignored"
    assert rows["dialectic_low"]["mode"] == "tools" and rows["summary"]["mode"] == "text"
    assert rows["summary"]["capabilities"] == {"tools": "yes", "forced_tool_choice": "yes", "json_schema": "yes",
                                               "streaming": "yes", "stream_usage": "yes"}
    assert all(t["reachable"] and t["auth_ok"] and t["latency_ms"] > 0 for t in rows.values())
    # one probe per endpoint: the summary and chat share theirs
    assert sum(r["messages"][-1]["content"] == "Reply with the single word: ready" for r in fake.requests) == 1


@pytest.mark.parametrize("fake_type", [AnthropicFake, GeminiFake])
def test_hosted_provider_apis(db: str, fake_type: type) -> None:
    provider = "anthropic" if fake_type is AnthropicFake else "gemini"
    with fake_type() as fake:
        env = {"HONCHO_LLM__PROVIDER": provider, "HONCHO_LLM__MODEL": "test-model",
               "HONCHO_LLM__BASE_URL": fake.base_url, "HONCHO_LLM__API_KEY": "test-key"}
        result = check(env, "--db", db, "--task", "deriver", "--task", "dialectic_medium")
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert rows["deriver"]["provider/model"] == f"{provider}/test-model"
    assert (rows["deriver"]["reachable"], rows["deriver"]["auth ok"], rows["deriver"]["tools"]) == ("yes", "yes", "yes")
    assert rows["deriver"]["mode"] in ("native", "tool") and rows["dialectic_medium"]["mode"] == "tools"
    assert stored(db, endpoint_key(provider, fake.base_url, "test-model")) is not None


def test_an_unreachable_endpoint_fails_and_says_what_to_fix(db: str, closed_port: int) -> None:
    result = check(compatible(f"http://127.0.0.1:{closed_port}/v1"), "--db", db)
    assert result.exit_code == 1, result.output
    assert {r["reachable"] for r in table(result.stdout).values()} == {"no"}
    assert "unreachable" in result.stdout and "check HONCHO_LLM__BASE_URL" in result.stdout
    assert "Some tasks cannot work" in result.stdout and "not saved" in result.stdout


def _refusing(status: int, message: str) -> LoopbackServer:
    return LoopbackServer(lambda path, body: (status, {"error": {"message": message, "type": "error"}}, {}),
                          name="refusing-endpoint")


def test_a_refused_key_or_unknown_model_says_which_setting_to_fix(db: str) -> None:
    with _refusing(401, "Incorrect API key provided") as server:
        result = check(compatible(f"{server.url}/v1", HONCHO_LLM__API_KEY="wrong"), "--db", db, "--task", "deriver")
    assert result.exit_code == 1, result.output
    assert table(result.stdout)["deriver"]["auth ok"] == "no"
    assert "key was refused" in result.stdout and "set HONCHO_LLM__API_KEY" in result.stdout
    with _refusing(404, "model 'nope' not found") as server:
        result = check(compatible(f"{server.url}/v1", model="nope"), "--db", db, "--task", "summary", "--json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is False and "HTTP 404" in body["tasks"][0]["problem"]
    assert "check HONCHO_LLM__MODEL" in body["problems"][0]


def test_a_configuration_problem_fails_without_probing(db: str) -> None:
    result = check({"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__BASE_URL": "http://127.0.0.1:9/v1"},
                   "--db", db)
    assert result.exit_code == 1, result.output
    assert set(table(result.stdout)) == set(LLM_TASKS)
    assert "no model is set" in result.stdout and "HONCHO_LLM__MODEL" in result.stdout
    result = check({}, "--db", db, "--task", "summary")
    assert result.exit_code == 1 and "no LLM is configured" in result.stdout


def test_one_task_misconfigured_keeps_reasoning_off_for_all(db: str) -> None:
    with OpenAIFake("full") as fake:
        result = check(compatible(fake.base_url, HONCHO_LLM__DREAM__PROVIDER="none"), "--db", db, "--json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    rows = {t["task"]: t for t in body["tasks"]}
    assert "no LLM is configured" in rows["dream"]["problem"]
    assert rows["summary"]["ok"] is False and rows["summary"]["problem"].startswith("reasoning is off")
    assert rows["summary"]["capabilities"]["tools"] == "yes"  # probed all the same


def test_an_unavailable_database_does_not_stop_the_check(closed_port: int) -> None:
    with OpenAIFake("schema_only") as fake:
        result = check(compatible(fake.base_url), "--db", f"postgresql://u:p@127.0.0.1:{closed_port}/none",
                       "--task", "deriver")
    assert result.exit_code == 0, result.output
    assert table(result.stdout)["deriver"]["mode"] == "native"
    assert "Results were not saved: the database could not be opened" in result.stdout


def test_an_unknown_task_is_a_usage_error(db: str) -> None:
    result = check({}, "--db", db, "--task", "nap")
    assert result.exit_code == 2 and "Unknown task nap" in result.output
