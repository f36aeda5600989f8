"""A rederive's estimate (services/generation_estimate.py): calls and tokens per task from the message log, before
any model call, for the whole workspace and each kind of scope; the workspace's observed output ratio; prices."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, msg
from sqlalchemy import insert, select, update

from honcho_server.domain.generations import Estimate, PromptOverhead, TaskEstimate
from honcho_server.domain.tokens import count_tokens
from honcho_server.reasoning import deriver, dreams, summaries
from honcho_server.reasoning.prompts import overhead
from honcho_server.services import generation_estimate as estimation
from honcho_server.services.deps import Deps
from honcho_server.services.generation_estimate import deriver_line, estimate, summary_line
from honcho_server.store import tables
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import workspaces as workspace_repo
from support import make_settings

OH = PromptOverhead(deriver=1000, summary=100, dream=500)  # round numbers: the arithmetic below stays readable
LIMIT = 300  # deriver.max_input_tokens
PRICED = {"tasks": {t: {"provider": "openai", "model": "gpt-4o-mini"} for t in ("deriver", "summary", "dream")}}
UNPRICED = {"tasks": {t: {"provider": "openai-compatible", "model": "local-llama"}
                      for t in ("deriver", "summary", "dream")}}


class NoModel:
    """An LLM client that fails the test if anything asks it for a call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the estimate used the model ({name})")


def est_deps(deps: Deps, **overrides: Any) -> Deps:
    overrides.setdefault("deriver", {"max_input_tokens": LIMIT})
    settings = make_settings(deps.settings.db.url, **overrides)
    return Deps(db=deps.db, settings=settings, llm_instance=NoModel())  # type: ignore[arg-type]


def at(day: int, minute: int) -> str:
    return f"2024-01-{day:02d}T10:{minute:02d}:00Z"


# (sender, tokens) per session, in seq order; created at minute = seq of day 1, 2 and 3.
WORLD = {
    "s1": [("alice", 100), ("bob", 50), ("alice", 100), ("alice", 100), ("bob", 80), ("alice", 100)],
    "s2": [("alice", 200), ("dave", 40), ("carol", 60), ("alice", 1000)],
    "s3": [("alice", 8000), ("bob", 8000)],
}
MEMBERS = {"s1": {"alice": {}, "bob": {}},
           "s2": {"alice": {}, "carol": {"observe_others": True}, "dave": {"observe_me": False}},
           "s3": {"alice": {}, "bob": {}}}


async def seed(client: httpx.AsyncClient, deps: Deps, ws: str, **workspace: Any) -> None:
    """The world above, with the token counts set exactly (contents are placeholders)."""
    assert (await client.post("/v3/workspaces", json={"id": ws, **workspace})).status_code in (200, 201)
    for day, (session, sent) in enumerate(WORLD.items(), 1):
        await create_session(client, ws, session, peers=MEMBERS[session])
        await add_messages(client, ws, session, [msg(p, f"m{i}", created_at=at(day, i))
                                                 for i, (p, _) in enumerate(sent, 1)])
    m, s, w = tables.messages, tables.sessions, tables.workspaces
    async with deps.db.write() as conn:
        for session, sent in WORLD.items():
            pk = (await conn.execute(select(s.c.id).join(w, w.c.id == s.c.workspace_id)
                                     .where(w.c.name == ws, s.c.name == session))).scalar_one()
            for seq, (_, tokens) in enumerate(sent, 1):
                await conn.execute(update(m).where(m.c.session_id == pk, m.c.seq == seq).values(token_count=tokens))


async def run(deps: Deps, ws: str, scope: dict[str, Any], recipe: dict[str, Any] | None = None,
              oh: PromptOverhead = OH) -> Estimate:
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
        assert found is not None
        return await estimate(conn, deps, found, scope, PRICED if recipe is None else recipe, oh)


def task(result: Estimate, name: str) -> TaskEstimate:
    return next(t for t in result.tasks if t.task == name)


def D(*peers: str) -> int:
    """Line prefixes of a deriver window holding these senders' lines."""
    return sum(deriver_line(p) for p in peers)


def S(*peers: str) -> int:
    return sum(summary_line(p) for p in peers)


def dream_totals(conclusions: list[int]) -> tuple[int, int, int]:
    inputs = [OH.dream + 40 * n for n in conclusions]
    return len(inputs), sum(inputs), sum(round(i * 0.25) for i in inputs)


def summary_totals(chunks: list[int], sessions_with_two_chunks: int = 0) -> tuple[int, int, int]:
    """(calls, input, output) over both kinds for these chunk prompts."""
    calls = 2 * len(chunks)
    inp = 2 * sum(chunks) + calls * OH.summary + (600 + 1800) * sessions_with_two_chunks
    return calls, inp, (600 + 1800) * len(chunks)


def check(result: Estimate, name: str, calls: int, inp: int, out: int) -> None:
    got = task(result, name)
    assert (got.calls, got.input_tokens, got.output_tokens) == (calls, inp, out), name


# ------------------------------------------------------------------------------------------------ scopes


async def test_whole_workspace(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    result = await run(est_deps(deps), ws, {})
    assert (result.sessions, result.messages, result.output_ratio) == (3, 12, 0.25)
    # s1 alice: [1, 3 (+ bob's 2 as context)] = 250, then [4, 6 (+ bob's 5)] = 280; bob: [2 (+1)] = 150,
    # [5 (+4)] = 180 (together 330 > 300). s2 alice: [1] = 200, [4 (+ carol's 3)] = 1060 alone; carol: [3 (+ dave's
    # 2)] = 100; dave is not observed. s3: alice [1] = 8000, bob [2 (+1)] = 16000.
    windows = [250 + D("alice", "bob", "alice"), 280 + D("alice", "bob", "alice"), 150 + D("alice", "bob"),
               180 + D("alice", "bob"), 200 + D("alice"), 1060 + D("carol", "alice"), 100 + D("dave", "carol"),
               8000 + D("alice"), 16000 + D("alice", "bob")]
    inp = sum(windows) + len(windows) * OH.deriver
    check(result, "deriver", len(windows), inp, round(inp * 0.25))
    chunks = [530 + S(*["alice"] * 4, "bob", "bob"), 1300 + S("alice", "dave", "carol", "alice"),
              8000 + S("alice"), 8000 + S("bob")]  # s3's two messages cannot share a 12,000-token chunk
    check(result, "summary", *summary_totals(chunks, sessions_with_two_chunks=1))
    # Collections: alice (7 messages -> 4 conclusions), bob (3 -> 2), carol about alice in s2 (2 -> 1), carol (1 -> 1)
    check(result, "dream", *dream_totals([4, 2, 1, 1]))


async def test_session_scope(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    result = await run(est_deps(deps), ws, {"sessions": ["s2"]})
    assert (result.sessions, result.messages) == (1, 4)
    windows = [200 + D("alice"), 1060 + D("carol", "alice"), 100 + D("dave", "carol")]
    inp = sum(windows) + 3 * OH.deriver
    check(result, "deriver", 3, inp, round(inp * 0.25))
    check(result, "summary", *summary_totals([1300 + S("alice", "dave", "carol", "alice")]))
    check(result, "dream", *dream_totals([1, 1, 1]))


async def test_peer_scope(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """Only the peer's messages are derived (others' stay context), summaries are kept, only its collections dream."""
    await seed(client, deps, ws)
    result = await run(est_deps(deps), ws, {"peer": "bob"})
    assert (result.sessions, result.messages) == (2, 3)
    windows = [150 + D("alice", "bob"), 180 + D("alice", "bob"), 16000 + D("alice", "bob")]
    inp = sum(windows) + 3 * OH.deriver
    check(result, "deriver", 3, inp, round(inp * 0.25))
    check(result, "summary", 0, 0, 0)
    check(result, "dream", *dream_totals([2]))


async def test_since_scope(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """From s1's 4th message on. A message's context may lie before `since`: alice's 4 shows none (the message
    before it is her own), bob's 5 shows alice's 4."""
    await seed(client, deps, ws)
    result = await run(est_deps(deps), ws, {"since": at(1, 4)})
    assert (result.sessions, result.messages) == (3, 9)
    windows = [280 + D("alice", "bob", "alice"), 180 + D("alice", "bob"), 200 + D("alice"),
               1060 + D("carol", "alice"), 100 + D("dave", "carol"), 8000 + D("alice"), 16000 + D("alice", "bob")]
    inp = sum(windows) + len(windows) * OH.deriver
    check(result, "deriver", 7, inp, round(inp * 0.25))
    chunks = [280 + S("alice", "bob", "alice"), 1300 + S("alice", "dave", "carol", "alice"), 8000 + S("alice"),
              8000 + S("bob")]
    check(result, "summary", *summary_totals(chunks, sessions_with_two_chunks=1))
    check(result, "dream", *dream_totals([3, 1, 1, 1]))  # alice 2+2+1 messages, bob 1+1


async def test_recall_scopes_observe_their_sessions(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """A recall scope holding s2 observes everyone observed there (a silent member): two more collections dream; the
    deriver's calls stay the same (one call serves every observer)."""
    await seed(client, deps, ws)
    plain = await run(est_deps(deps), ws, {})
    assert (await client.post(f"/v3/workspaces/{ws}/scopes", json={"id": "t"})).status_code == 201
    assert (await client.post(f"/v3/workspaces/{ws}/scopes/t/sessions",
                              json={"session_ids": ["s2"]})).status_code == 204
    result = await run(est_deps(deps), ws, {})
    assert task(result, "deriver") == task(plain, "deriver")
    check(result, "dream", *dream_totals([4, 2, 1, 1, 1, 1]))  # scope.t about alice (2 -> 1) and carol (1 -> 1)


async def test_scopes_naming_nothing_estimate_nothing(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    for scope in ({"peer": "nobody"}, {"sessions": ["missing"]}, {"since": "2030-01-01T00:00:00+00:00"}):
        result = await run(est_deps(deps), ws, scope)
        assert (result.sessions, result.messages, result.input_tokens, result.output_tokens) == (0, 0, 0, 0), scope
        assert all(t.calls == 0 for t in result.tasks)


async def test_configuration_turns_tasks_off(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """reasoning.enabled off derives nothing (and so nothing dreams); summary.enabled off writes no summary."""
    await seed(client, deps, ws, configuration={"reasoning": {"enabled": False}, "summary": {"enabled": False}})
    result = await run(est_deps(deps), ws, {})
    assert result.messages == 12
    assert [t.calls for t in result.tasks] == [0, 0, 0]
    # The server's defaults are the first layer: off there, the workspace may turn reasoning back on.
    off = est_deps(deps, defaults={"reasoning_enabled": False})
    w = tables.workspaces
    for configuration, calls in (({"reasoning": {"enabled": True}}, 9), ({}, 0)):
        async with deps.db.write() as conn:
            await conn.execute(update(w).where(w.c.name == ws).values(configuration=configuration))
        assert task(await run(off, ws, {}), "deriver").calls == calls


async def test_a_dream_reads_at_most_max_conclusions(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code in (200, 201)
    await add_messages(client, ws, "s", [msg("alice", f"m{i}") for i in range(30)])
    capped = est_deps(deps, dream={"max_conclusions": 10})
    check(await run(capped, ws, {}), "dream", 1, OH.dream + 10 * 40, round((OH.dream + 400) * 0.25))
    check(await run(est_deps(deps), ws, {}), "dream", 1, OH.dream + 15 * 40, round((OH.dream + 600) * 0.25))


async def test_jobs_of_at_most_500_messages(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """A window never spans two jobs: 501 one-token messages are two calls, though they would fit one window."""
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code in (200, 201)
    await add_messages(client, ws, "s", [msg("alice", "x") for _ in range(501)])
    result = await run(est_deps(deps, deriver={"max_input_tokens": 4096}), ws, {})
    assert task(result, "deriver").calls == 2


# --------------------------------------------------------------------------------------- ratio and prices


async def _calls(deps: Deps, ws: str, rows: list[tuple[str, int, int, bool]]) -> None:
    async with deps.db.write() as conn:
        found = await workspace_repo.find(conn, ws)
        assert found is not None
        await conn.execute(insert(tables.llm_calls), [
            dict(workspace_id=found.pk, task=name, provider="openai", model="m", input_tokens=i, output_tokens=o,
                 requests=1, latency_ms=1.0, cost_usd=None, ok=ok, created_at=datetime.now(UTC))
            for name, i, o, ok in rows])


async def test_observed_output_ratio_once_five_deriver_calls(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    # Failed calls and other tasks do not count.
    await _calls(deps, ws, [("deriver", 1000, 100, True)] * 4 + [("deriver", 1000, 900, False),
                                                                 ("summary", 1000, 900, True)])
    assert (await run(est_deps(deps), ws, {})).output_ratio == 0.25
    await _calls(deps, ws, [("deriver", 1000, 600, True)])
    result = await run(est_deps(deps), ws, {})
    assert result.output_ratio == pytest.approx(1000 / 5000)
    derive = task(result, "deriver")
    assert derive.output_tokens == round(derive.input_tokens * 0.2)
    assert task(result, "dream").output_tokens == round(task(result, "dream").input_tokens * 0.25)


async def test_prices(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    priced = await run(est_deps(deps), ws, {}, PRICED)
    for t in priced.tasks:
        assert (t.provider, t.model) == ("openai", "gpt-4o-mini")
        assert t.cost_usd is not None and t.cost_usd > 0
    assert priced.cost_usd == pytest.approx(sum(t.cost_usd or 0 for t in priced.tasks))
    unknown = await run(est_deps(deps), ws, {}, UNPRICED)
    assert [t.cost_usd for t in unknown.tasks] == [None, None, None] and unknown.cost_usd is None
    # The settings' prices apply to every model, known or not.
    fixed = est_deps(deps, llm={"input_price_per_mtok": 2.0, "output_price_per_mtok": 8.0})
    result = await run(fixed, ws, {}, UNPRICED)
    for t in result.tasks:
        assert t.cost_usd == pytest.approx((2.0 * t.input_tokens + 8.0 * t.output_tokens) / 1e6)
    # Each task's model comes from the recipe.
    mixed = {"tasks": {**PRICED["tasks"], "dream": {"provider": "openai-compatible", "model": "local"}}}
    result = await run(est_deps(deps), ws, {}, mixed)
    assert [t.cost_usd is None for t in result.tasks] == [False, False, True] and result.cost_usd is None


async def test_a_recipe_without_tasks_prices_the_servers_models(client: httpx.AsyncClient, deps: Deps,
                                                                ws: str) -> None:
    await seed(client, deps, ws)
    configured = est_deps(deps, llm={"provider": "openai", "model": "gpt-4o-mini", "api_key": "k",
                                     "dream": {"model": "gpt-4o"}})
    result = await run(configured, ws, {}, {})
    assert [(t.provider, t.model) for t in result.tasks] == [("openai", "gpt-4o-mini"), ("openai", "gpt-4o-mini"),
                                                             ("openai", "gpt-4o")]


async def test_custom_instructions_are_sent_with_every_deriver_call(client: httpx.AsyncClient, deps: Deps,
                                                                    ws: str) -> None:
    await seed(client, deps, ws)
    plain = task(await run(est_deps(deps), ws, {}), "deriver")
    said = "Write every fact in French."
    block = count_tokens(f"Additional instructions from the application:\n{said}\n\n")
    told = task(await run(est_deps(deps), ws, {}, {**PRICED, "custom_instructions": said}), "deriver")
    assert told.input_tokens == plain.input_tokens + plain.calls * block


async def test_nothing_calls_a_model_or_writes(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await seed(client, deps, ws)
    counts = {}
    for table in (tables.llm_calls, tables.jobs, tables.conclusions, tables.summaries):
        async with deps.db.read() as conn:
            counts[table.name] = len(list(await conn.execute(select(table))))
    await run(est_deps(deps), ws, {})  # NoModel fails the test on any use
    for table in (tables.llm_calls, tables.jobs, tables.conclusions, tables.summaries):
        async with deps.db.read() as conn:
            assert len(list(await conn.execute(select(table)))) == counts[table.name]


# --------------------------------------------------------------------------- the estimate against the prompts


def test_mirrored_constants_equal_the_summarizers() -> None:
    assert estimation.CHUNK_TOKENS == summaries.CHUNK_TOKENS
    assert estimation.SUMMARY_MAX_OUTPUT == summaries.MAX_OUTPUT_TOKENS


def test_prompt_overhead_counts_the_fixed_text() -> None:
    found = overhead()
    assert found is overhead()  # cached
    assert found.deriver == count_tokens(deriver.INSTRUCTIONS) + count_tokens(deriver.render_prompt("", [], None))
    assert found.summary == (count_tokens(summaries.INSTRUCTIONS["long"].format(words=summaries.WORDS["long"]))
                             + count_tokens(summaries.render_prompt(None, [])))
    assert found.dream == (count_tokens(dreams.INSTRUCTIONS) + count_tokens(dreams.CARD_INSTRUCTIONS)
                           + count_tokens(dreams.render_prompt([], None)))
    assert found.deriver > count_tokens(deriver.INSTRUCTIONS) > 200


async def test_the_deriver_estimate_matches_its_real_prompts(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """Real messages (token counts as the server measures them): the windows are the ones reasoning/deriver.split
    cuts, and the estimated input is within 3% of the rendered prompts' tokens."""
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code in (200, 201)
    lines = [("alice" if i % 3 else "bob", f"message {i}: " + "I went hiking near the lake and saw herons. " * (i % 7))
             for i in range(1, 60)]
    await add_messages(client, ws, "s", [msg(p, c, created_at=at(5, i % 60)) for i, (p, c) in enumerate(lines, 1)])
    result = await run(est_deps(deps), ws, {}, PRICED, overhead())
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
        session = (await conn.execute(select(tables.sessions.c.id).where(
            tables.sessions.c.workspace_id == found.pk))).scalar_one()  # type: ignore[union-attr]
        turns = {t.seq: t for t in await message_repo.turns(conn, session, 0, 10_000)}
    real_calls, real_tokens = 0, 0
    for sender in ("alice", "bob"):
        seqs = [s for s, t in turns.items() if t.peer_name == sender]
        for part in deriver.split(turns, seqs, sender, LIMIT):
            real_calls += 1
            real_tokens += count_tokens(deriver.INSTRUCTIONS) + count_tokens(deriver.render_prompt(sender, part, None))
    derive = task(result, "deriver")
    assert derive.calls == real_calls > 2
    assert math.isclose(derive.input_tokens, real_tokens, rel_tol=0.03), (derive.input_tokens, real_tokens)
    everything = summaries.render_prompt(None, [turns[s] for s in sorted(turns)])
    real = sum(count_tokens(summaries.INSTRUCTIONS[k].format(words=summaries.WORDS[k])) + count_tokens(everything)
               for k in ("short", "long"))
    summary = task(result, "summary")
    assert summary.calls == 2
    # The long kind's instructions stand for both: a little over, never under.
    assert real <= summary.input_tokens <= real * 1.05, (summary.input_tokens, real)
