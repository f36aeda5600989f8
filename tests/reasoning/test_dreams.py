"""Dreams on both databases, with the model faked at its interface (pydantic-ai FunctionModel): duplicates merged
into one that counts them, outdated facts superseded but kept as history, deductions and patterns linked to their
premises, contradictions recorded as their own level, the card refreshed with identity facts only; scheduling that
is durable (jobs), deduplicated, pushed back by new activity, and resumed by a fresh worker after a restart."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, msg, workspace_pk, ws_url
from memory_helpers import store_conclusion
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, SystemPromptPart, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import select

from honcho_server.llm.client import LLMClient
from honcho_server.reasoning import dreams
from honcho_server.services.deps import Deps
from honcho_server.store.tables import conclusions, jobs
from honcho_server.worker.runtime import Worker
from support import api_client

JAN = datetime(2024, 1, 10, tzinfo=UTC)


class FakeModel:
    """Answers deriver calls with one fact per message of the target, and dream calls with `self.dream`."""

    def __init__(self) -> None:
        self.dream: dict[str, Any] = {}
        self.dream_prompts: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        request = next(m for m in messages if isinstance(m, ModelRequest))
        user = "\n".join(str(p.content) for p in request.parts if not isinstance(p, SystemPromptPart))
        if "You consolidate" in (info.instructions or "") or "peer card" in (info.instructions or ""):
            self.dream_prompts.append(user)
            payload: Any = self.dream
        else:
            target = re.search(r"Target peer: (\S+)", user).group(1)  # type: ignore[union-attr]
            payload = {"conclusions": [{"content": f"{target} said: {text}", "sources": [int(n)]}
                                       for n, peer, text in re.findall(r"^\[(\d+)\] \S+ \S+ (\S+): (.*)$", user, re.M)
                                       if peer == target]}
        if info.output_tools:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
        return ModelResponse(parts=[TextPart(json.dumps(payload))])


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


def _deps(deps: Deps, model: FakeModel, **dream: Any) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key"})
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    settings.dream = settings.dream.model_validate(dream)
    out = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance)
    out.llm_instance = LLMClient(settings.llm, out.record_llm_call,
                                 model_for=lambda *_: FunctionModel(model.__call__))
    return out


@pytest.fixture
async def api(deps: Deps, model: FakeModel) -> AsyncIterator[tuple[httpx.AsyncClient, Deps]]:
    llm_deps = _deps(deps, model)
    async with api_client(llm_deps) as client:
        yield client, llm_deps


async def _rows(deps: Deps, ws: str) -> dict[str, Any]:
    async with deps.db.read() as conn:
        rows = await conn.execute(select(conclusions).where(conclusions.c.workspace_id == await workspace_pk(deps, ws))
                                  .order_by(conclusions.c.id))
        return {r.content: r for r in rows}


async def test_a_dream_consolidates_without_losing_history(
        api: tuple[httpx.AsyncClient, Deps], model: FakeModel, ws: str) -> None:
    client, deps = api
    await create_session(client, ws, "s", peers={"alice": {}})
    facts = ["alice lives in Porto", "alice lives in Porto, Portugal", "alice moved to Lisbon",
             "alice drinks green tea every morning", "alice orders green tea at cafes",
             "alice's birthday is 3 May", "alice's birthday is 5 June", "alice is a nurse"]
    for i, fact in enumerate(facts):
        await store_conclusion(deps, ws, "alice", "alice", fact, session="s", observed_at=JAN + timedelta(days=i))
    model.dream = {
        "merges": [{"keep": 2, "duplicates": [1]}],
        "updates": [{"current": 3, "outdated": [2]}],
        "deductions": [{"content": "alice lives in Portugal", "premises": [3]}],
        "patterns": [{"content": "alice habitually drinks green tea", "premises": [4, 5],
                      "pattern_type": "preference"}],
        "contradictions": [{"content": "alice's birthday is given as both 3 May and 5 June", "statements": [6, 7]}],
        "card": ["IDENTITY: alice", "ATTRIBUTE: works as a nurse", "she seems cheerful", "IDENTITY: alice"],
    }
    expect(await client.post(ws_url(ws, "schedule_dream"), json={"observer": "alice", "dream_type": "omni"}), 204)
    await Worker(deps).drain()
    assert "[1] explicit, 2024-01-10, x1: alice lives in Porto" in model.dream_prompts[0]
    rows = await _rows(deps, ws)
    porto, porto_pt, lisbon = rows[facts[0]], rows[facts[1]], rows[facts[2]]
    assert porto.superseded_by == porto_pt.uid and porto_pt.superseded_by == lisbon.uid  # history, not deleted
    assert porto_pt.times_derived == 2 and lisbon.superseded_by is None
    deduced = rows["alice lives in Portugal"]
    assert deduced.level == "deductive" and deduced.source_ids == [lisbon.uid]
    assert deduced.observed_at == lisbon.observed_at  # dated by its evidence, not by the dream
    pattern = rows["alice habitually drinks green tea"]
    assert pattern.level == "inductive" and pattern.metadata == {"pattern_type": "preference", "confidence": "low"}
    contradiction = rows["alice's birthday is given as both 3 May and 5 June"]
    assert contradiction.level == "contradiction"
    assert contradiction.source_ids == [rows[facts[5]].uid, rows[facts[6]].uid]
    assert rows[facts[5]].superseded_by is None and rows[facts[6]].superseded_by is None  # no side taken
    card = expect(await client.get(ws_url(ws, "peers/alice/card")), 200)["peer_card"]
    assert card == ["IDENTITY: alice", "ATTRIBUTE: works as a nurse"]

    # Current reads leave the history out; a filter on superseded_by reads it.
    listed = expect(await client.post(ws_url(ws, "conclusions/list"), json={"filters": {"observer_id": "alice"}}),
                    200)["items"]
    assert {c["content"] for c in listed} == set(rows) - {facts[0], facts[1]}
    history = expect(await client.post(ws_url(ws, "conclusions/list"),
                                       json={"filters": {"superseded_by": {"ne": None}}}), 200)["items"]
    assert {c["content"] for c in history} == {facts[0], facts[1]}
    representation = expect(await client.post(ws_url(ws, "peers/alice/representation"), json={}), 200)
    text = representation["representation"]
    assert "## Deductive Observations" in text and "Premises:" in text and "## Contradictions" in text
    assert "alice lives in Porto\n" not in text

    # The same answer again changes nothing: retired ones stay retired, derived ones are not duplicated.
    expect(await client.post(ws_url(ws, "schedule_dream"), json={"observer": "alice", "dream_type": "omni"}), 204)
    await Worker(deps).drain()
    again = await _rows(deps, ws)
    assert len(again) == len(rows)


async def test_card_refresh_rebuilds_the_card_only(
        api: tuple[httpx.AsyncClient, Deps], model: FakeModel, ws: str) -> None:
    client, deps = api
    await create_session(client, ws, "s", peers={"alice": {}})
    await store_conclusion(deps, ws, "alice", "alice", "alice is a nurse", session="s")
    expect(await client.put(ws_url(ws, "peers/alice/card"), json={"peer_card": ["IDENTITY: old line"]}), 200)
    model.dream = {"card": ["ATTRIBUTE: works as a nurse"]}
    body = {"observer": "alice", "dream_type": "card_refresh", "rebuild": True}
    expect(await client.post(ws_url(ws, "schedule_dream"), json=body), 204)
    await Worker(deps).drain()
    assert "old line" not in model.dream_prompts[-1]  # rebuilt from conclusions, without the old card
    card = expect(await client.get(ws_url(ws, "peers/alice/card")), 200)["peer_card"]
    assert card == ["ATTRIBUTE: works as a nurse"]


async def test_a_rebuild_of_an_emptied_collection_clears_the_card(
        api: tuple[httpx.AsyncClient, Deps], model: FakeModel, ws: str) -> None:
    client, deps = api
    await create_session(client, ws, "s", peers={"alice": {}})
    expect(await client.put(ws_url(ws, "peers/alice/card"), json={"peer_card": ["IDENTITY: stale"]}), 200)
    body = {"observer": "alice", "dream_type": "card_refresh", "rebuild": True}
    expect(await client.post(ws_url(ws, "schedule_dream"), json=body), 204)
    await Worker(deps).drain()
    assert model.dream_prompts == []
    assert expect(await client.get(ws_url(ws, "peers/alice/card")), 200)["peer_card"] is None


async def test_dreams_are_scheduled_durably_once_and_pushed_back_by_activity(
        deps: Deps, model: FakeModel, ws: str) -> None:
    moment = [datetime(2031, 5, 1, 9, tzinfo=UTC)]
    llm_deps = _deps(deps, model, threshold=3, idle_minutes=60, min_hours_between=8)
    llm_deps.now = lambda: moment[0]
    async with api_client(llm_deps) as client:
        await create_session(client, ws, "s", peers={"alice": {}})
        await add_messages(client, ws, "s", [msg("alice", f"I like hobby number {i}") for i in range(3)])
        await Worker(llm_deps).drain()
        pending = await _dream_jobs(llm_deps, ws)
        assert [(j.status, j.run_after) for j in pending] == [("pending", moment[0] + timedelta(minutes=60))]
        # Alice talks again 30 minutes later: the dream waits for another quiet hour, and stays one job.
        moment[0] += timedelta(minutes=30)
        await add_messages(client, ws, "s", [msg("alice", "I also like chess")])
        await Worker(llm_deps).drain()
        pending = await _dream_jobs(llm_deps, ws)
        assert [(j.status, j.run_after) for j in pending] == [("pending", moment[0] + timedelta(minutes=60))]
    # A restart: a brand-new worker (and deps) picks the job up once it is due.
    model.dream = {"card": ["IDENTITY: alice"]}
    restarted = _deps(deps, model, threshold=3)
    restarted.now = lambda: moment[0] + timedelta(minutes=61)
    await Worker(restarted).drain()
    (done,) = await _dream_jobs(llm_deps, ws)
    assert done.status == "done" and len(model.dream_prompts) == 1
    # The next one needs `threshold` new conclusions and waits at least min_hours_between after this one.
    moment[0] += timedelta(minutes=62)
    llm_deps.now = lambda: moment[0]
    async with api_client(llm_deps) as client:
        await add_messages(client, ws, "s", [msg("alice", f"Another hobby {i}") for i in range(3)])
        await Worker(llm_deps).drain()
    jobs_now = await _dream_jobs(llm_deps, ws)
    assert jobs_now[-1].status == "pending" and jobs_now[-1].run_after >= done.updated_at + timedelta(hours=8)


async def test_dreams_skip_when_disabled_or_the_peer_is_gone(
        api: tuple[httpx.AsyncClient, Deps], model: FakeModel, ws: str) -> None:
    client, deps = api
    config = {"dream": {"enabled": False}}
    expect(await client.post("/v3/workspaces", json={"id": ws, "configuration": config}), 201)
    await create_session(client, ws, "s", peers={"alice": {}})
    await store_conclusion(deps, ws, "alice", "alice", "alice is a nurse", session="s")
    expect(await client.post(ws_url(ws, "schedule_dream"), json={"observer": "alice", "dream_type": "omni"}), 204)
    expect(await client.post(ws_url(ws, "schedule_dream"),
                             json={"observer": "nobody", "observed": "alice", "dream_type": "omni"}), 204)
    await Worker(deps).drain()
    assert model.dream_prompts == []
    assert {j.status for j in await _dream_jobs(deps, ws)} == {"done"}


async def _dream_jobs(deps: Deps, ws: str) -> list[Any]:
    async with deps.db.read() as conn:
        return list(await conn.execute(select(jobs).where(jobs.c.kind == "dream",
                                                          jobs.c.workspace_id == await workspace_pk(deps, ws))
                                       .order_by(jobs.c.id)))


def test_the_plan_drops_bad_numbers_and_retires_once() -> None:
    def c(pk: int) -> Any:
        return dreams.Conclusion(pk=pk, uid=f"u{pk}", workspace_name="w", observer="a", observed="a",
                                 session_name="s", level="explicit", content=f"fact {pk}", times_derived=1,
                                 message_ids=None, source_ids=None, observed_at=JAN, about_at=None, created_at=JAN)

    listed = [c(1), c(2), c(3)]
    answer = dreams.Consolidation.model_validate({
        "merges": [{"keep": 1, "duplicates": [2, 9, 1]}, {"keep": 2, "duplicates": [3]}],
        "updates": [{"current": 3, "outdated": [2, 1]}],
        "patterns": [{"content": "a pattern", "premises": [1]}],
        "deductions": [{"content": " ", "premises": [1]}, {"content": "follows", "premises": [7]}],
        "contradictions": [{"content": "conflict", "statements": [1, 3, 3]}]})
    out = dreams.plan(answer, listed)
    assert [(f.keep.pk, [d.pk for d in f.duplicates]) for f in out.folds] == [(1, [2])]
    assert [(old.pk, new.pk) for old, new in out.superseded] == [(1, 3)]
    assert [(d.level, [p.pk for p in d.premises]) for d in out.derived] == [("contradiction", [1, 3])]
    assert dreams.confidence(2) == "low" and dreams.confidence(4) == "medium" and dreams.confidence(5) == "high"
