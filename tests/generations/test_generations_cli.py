"""`honcho-server rederive` and `honcho-server generations ...` against a database file (both databases): the
estimate printed before anything is queued, the cap, the confirmation, following a build to its end, and the
commands that mirror the routes. The rederive jobs, the estimate and the copy are faked (generation_helpers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from generation_helpers import (
    Fakes,
    add_generation,
    command_database,
    keys,
    make_world,
    new_ws,
    priced,
    put_card,
    put_conclusion,
    states,
)
from generation_helpers import with_deps as _with
from sqlalchemy import update
from typer.testing import CliRunner

from honcho_server.cli.main import app
from honcho_server.domain.generations import Generation
from honcho_server.store import tables
from support import api_client

runner = CliRunner()


@pytest.fixture
def url(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database of its own, and the settings a command reads from the environment: an OpenAI model
    (never called) and the hashing embedder (no model to load)."""
    return command_database(backend, tmp_path, monkeypatch, {
        "EMBEDDING__PROVIDER": "hash", "EMBEDDING__DIMENSIONS": "64", "LLM__PROVIDER": "openai",
        "LLM__MODEL": "gpt-4o-mini", "LLM__API_KEY": "test-key"})




def _world(url: str) -> str:
    ws = new_ws()

    async def build(deps: Any) -> None:
        async with api_client(deps) as c:
            await make_world(c, ws)

    _with(url, build)
    return ws


def _states(url: str, ws: str) -> dict[str, str]:
    async def read(deps: Any) -> dict[str, str]:
        return await states(deps, (await keys(deps, ws)).ws)

    return _with(url, read)


def _finish(state: str, error: str | None = None) -> Callable[[Any, Generation], Awaitable[None]]:
    """What the worker would do, done at once: the generation ends `state`."""
    async def finish(conn: Any, generation: Generation) -> None:
        await conn.execute(update(tables.generations).where(tables.generations.c.id == generation.pk)
                           .values(state=state, error=error))

    return finish


def _rederive(url: str, ws: str, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["rederive", "--db", url, "--workspace", ws, *args], input=input)


def test_the_estimate_comes_first_and_a_cap_below_it_stops_there(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    result = _rederive(url, ws, "--max-cost", "0.01", "--yes")
    assert result.exit_code == 1, result.output
    assert "above max_cost_usd $0.01" in result.output and "nothing was started" in result.output
    estimate_at = result.output.index("Estimate: 40 messages in 2 sessions")
    assert estimate_at < result.output.index("above max_cost_usd")
    for shown in ("deriver", "summary", "dream", "10,000", "$0.0500", "$0.0650"):
        assert shown in result.output, shown
    assert fakes.enqueued == [] and _states(url, ws) == {"g1": "active"}


def test_a_dry_run_prints_the_estimate_with_the_models_asked_for(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    fakes.estimate = priced(deriver=None)
    result = _rederive(url, ws, "--dry-run", "--model", "gpt-4.1-mini", "--task-model", "deriver=o4-mini")
    assert result.exit_code == 0, result.output
    assert "unknown price" in result.output and "Dry run: nothing was started." in result.output
    tasks = fakes.estimated[0]["recipe"]["tasks"]
    assert (tasks["deriver"]["model"], tasks["summary"]["model"], tasks["dream"]["model"]) == (
        "o4-mini", "gpt-4.1-mini", "gpt-4.1-mini")
    assert fakes.enqueued == [] and _states(url, ws) == {"g1": "active"}
    # an unknown price with a cap: refused, the estimate shown first
    capped = _rederive(url, ws, "--max-cost", "5", "--yes")
    assert capped.exit_code == 1 and "unknown price" in capped.output and "is unknown" in capped.output


def test_it_asks_before_starting(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    declined = _rederive(url, ws, input="n\n")
    assert declined.exit_code == 1 and "Start re-deriving" in declined.output
    assert "Nothing was started." in declined.output
    assert fakes.enqueued == [] and _states(url, ws) == {"g1": "active"}


def test_no_wait_returns_once_queued(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    result = _rederive(url, ws, "--no-wait", "--peer", "alice", "--session", "s1", "--since", "2026-01-31",
                       "--name", "alice-redo", input="y\n")
    assert result.exit_code == 0, result.output
    assert "g2 is building: 3 jobs queued" in result.output
    assert f"generations show --workspace {ws} g2" in result.output
    scope = {"peer": "alice", "since": "2026-01-31T00:00:00+00:00", "sessions": ["s1"]}
    assert [g.scope for _, g in fakes.enqueued] == [scope] and fakes.copied[0][3] == scope
    assert fakes.enqueued[0][1].started_by == "cli" and fakes.enqueued[0][1].name == "alice-redo"
    assert _states(url, ws) == {"g1": "active", "g2": "building"}
    again = _rederive(url, ws, "--yes", "--no-wait")
    assert again.exit_code == 1 and "still building" in again.output


def test_it_follows_the_build_to_ready(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    fakes.on_enqueue = _finish("ready")
    result = _rederive(url, ws, "--yes")
    assert result.exit_code == 0, result.output
    assert "g2 is ready" in result.output and f"generations compare --workspace {ws} g1 g2" in result.output


def test_a_failed_build_exits_with_its_error(url: str, fakes: Fakes) -> None:
    ws = _world(url)
    fakes.on_enqueue = _finish("failed", "cost cap reached")
    result = _rederive(url, ws, "--yes")
    assert result.exit_code == 1 and "g2 failed: cost cap reached" in result.output


def test_rederive_refusals(url: str, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _world(url)
    unknown = _rederive(url, "nowhere", "--yes")
    assert unknown.exit_code == 2 and "nowhere" in unknown.output
    for args, word in ((["--task-model", "deriver"], "task=model"), (["--since", "soon"], "ISO"),
                       (["--max-cost", "-1"], "max-cost")):
        bad = _rederive(url, ws, "--yes", *args)
        assert bad.exit_code == 2 and word in bad.output, bad.output
    missing = _rederive(url, ws, "--yes", "--peer", "mallory")
    assert missing.exit_code == 2 and "mallory" in missing.output
    monkeypatch.setenv("HONCHO_LLM__PROVIDER", "none")
    off = _rederive(url, ws, "--yes")
    assert off.exit_code == 1 and "HONCHO_LLM__PROVIDER" in off.output
    assert fakes.estimated == [] and _states(url, ws) == {"g1": "active"}


def test_the_generations_commands(url: str, fakes: Fakes) -> None:
    ws = _world(url)

    async def seed(deps: Any) -> None:
        k = await keys(deps, ws)
        g2 = await add_generation(deps, k.ws, name="candidate")
        await put_conclusion(deps, k, k.active, "alice", "bob", "Bob likes tea")
        await put_conclusion(deps, k, g2.pk, "alice", "bob", "Bob likes coffee")
        await put_card(deps, k, g2.pk, "bob", "bob", ["Teacher"])

    _with(url, seed)

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, ["generations", args[0], "--db", url, "--workspace", ws, *args[1:]], input=input)

    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert "g1" in listed.output and "active" in listed.output and "candidate" in listed.output
    shown = run("show", "candidate")
    assert shown.exit_code == 0 and "Generation g2 (candidate)" in shown.output and "ready" in shown.output
    compared = run("compare", "g1", "g2")
    assert compared.exit_code == 0, compared.output
    assert "only in g1 (alice → bob): Bob likes tea" in compared.output
    assert "only in g2 (alice → bob): Bob likes coffee" in compared.output
    assert "card (bob → bob) + Teacher" in compared.output
    activated = run("activate", "g2")
    assert activated.exit_code == 0 and "g2 is active" in activated.output and "returns to g1" in activated.output
    assert _states(url, ws) == {"g1": "ready", "g2": "active"}
    refused = run("delete", "g2", "--yes")
    assert refused.exit_code == 1 and "active" in refused.output
    rolled = run("rollback")
    assert rolled.exit_code == 0 and "g1 is active again" in rolled.output
    assert run("retire", "g2").exit_code == 0 and _states(url, ws) == {"g1": "active", "g2": "retired"}
    kept = run("delete", "g2", input="n\n")
    assert kept.exit_code == 1 and _states(url, ws) == {"g1": "active", "g2": "retired"}
    deleted = run("delete", "g2", "--yes")
    assert deleted.exit_code == 0 and "deleted g2: 1 conclusions, 0 summaries, 1 peer cards" in deleted.output
    assert _states(url, ws) == {"g1": "active"}
    missing = run("show", "g2")
    assert missing.exit_code == 2 and "g2" in missing.output
