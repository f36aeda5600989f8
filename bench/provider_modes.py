"""Which mode each endpoint behaviour needs (issue 11): `honcho-server llm check` run against every behaviour real
OpenAI-compatible servers show, played by the tests' loopback fakes (tests/provider_fakes.py), against the bench's
plain OpenAI-compatible model (../shared/bench/fake_openai.py, as a subprocess) and against the Anthropic and Gemini
wire fakes, each on a fresh SQLite database.

    .venv/bin/python bench/provider_modes.py

Prints one row per behaviour: what the probe found (tools, forced tool choice, JSON schema, streaming and its
usage) and the mode each kind of task then uses (deriver and dream: structured answers; summary: text; chat).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from honcho_server.cli.llm_check import run_check  # noqa: E402
from honcho_server.config import load_settings  # noqa: E402
from provider_fakes import BENCH_FAKE_OPENAI, AnthropicFake, GeminiFake, OpenAIFake, bench_openai  # noqa: E402

OPENAI_BEHAVIOURS = ("full", "schema_only", "text_only", "refuses_tools", "refuses_response_format", "messy",
                     "stream_quirks")
TASKS = ["deriver", "summary", "dream", "dialectic_low"]


async def check(label: str, provider: str, base_url: str, model: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(db={"url": f"sqlite:///{tmp}/check.db"},
                                 llm={"provider": provider, "model": model, "base_url": base_url, "api_key": "k"})
        started = time.perf_counter()
        outcome = await run_check(settings, TASKS)
        took = (time.perf_counter() - started) * 1000
    rows = {t.task: t for t in outcome.tasks}
    caps = rows["deriver"].capabilities or {}
    streaming = f"{caps.get('streaming')} (usage {caps.get('stream_usage')})"
    return [label, caps.get("tools", "?"), caps.get("forced_tool_choice", "?"), caps.get("json_schema", "?"),
            streaming, rows["deriver"].mode or "-", rows["summary"].mode or "-", rows["dream"].mode or "-",
            rows["dialectic_low"].mode or "-", "yes" if outcome.ok else "NO", f"{took:.0f}"]


async def main() -> None:
    table = Table(title="What each endpoint behaviour needs (honcho-server llm check, one probe each)")
    for column in ("endpoint behaviour", "tools", "forced tool choice", "json_schema", "streaming", "deriver",
                   "summary", "dream", "chat", "all tasks work", "check ms"):
        table.add_column(column)
    for behaviour in OPENAI_BEHAVIOURS:
        with OpenAIFake(behaviour) as fake:
            table.add_row(*await check(f"openai-compatible: {behaviour}", "openai-compatible", fake.base_url,
                                       "local"))
    if BENCH_FAKE_OPENAI.is_file():
        with bench_openai() as url:
            table.add_row(*await check("openai-compatible: ../shared/bench/fake_openai.py", "openai-compatible",
                                       url, "fake"))
    with AnthropicFake() as fake:
        table.add_row(*await check("anthropic (Messages API fake)", "anthropic", fake.base_url,
                                   "claude-sonnet-5-5"))
    with GeminiFake() as fake:
        table.add_row(*await check("gemini (generateContent fake)", "gemini", fake.base_url,
                                   "gemini-3.5-flash-lite"))
    Console(width=200).print(table)


if __name__ == "__main__":
    asyncio.run(main())
