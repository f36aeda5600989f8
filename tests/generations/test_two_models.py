"""Memory generations end to end on both databases (issue 16), with one loopback OpenAI-compatible server playing
two models that answer the same conversation differently ("model-a" and "model-b", chosen by each request's
`model`): a workspace derived by A; a rederive with B builds generation g2 while every read keeps serving A;
messages written meanwhile are derived into both; `?generation=g2` reads B; activation switches every read at
once and rollback restores A; a job whose worker died after its writes resumes without duplicates; the cost cap
stops a rederive; deleting a message, a session and a peer cascades through both generations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, msg, session_url, ws_url
from sqlalchemy import func, select
from two_models import VOICE

from fake_openai import FakeOpenAI
from honcho_server.domain.generations import Estimate, Generation
from honcho_server.llm.client import LLMClient
from honcho_server.queue import jobs
from honcho_server.services import generation_estimate
from honcho_server.services.deps import Deps
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.tables import conclusions, generations, llm_calls, peer_cards, summaries
from honcho_server.store.tables import jobs as jobs_table
from honcho_server.worker.runtime import Worker
from support import api_client

SENT = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)

@pytest.fixture
def llm_deps(deps: Deps, fake: FakeOpenAI) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "model-a",
                                                "base_url": fake.base_url, "input_price_per_mtok": 1000.0,
                                                "output_price_per_mtok": 1000.0})
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    settings.defaults.messages_per_short_summary = 10
    settings.worker.max_attempts = 1

    async def no_wait(_seconds: float) -> None:
        return None

    out = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance,
               vectors_ready=deps.vectors_ready)
    out.llm_instance = LLMClient(settings.llm, out.record_llm_call, sleep=no_wait)
    return out


@pytest.fixture
async def api(llm_deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(llm_deps) as c:
        yield c


async def _drain(deps: Deps) -> None:
    await Worker(deps).drain()


async def _conversation(api: httpx.AsyncClient, ws: str, session: str = "s", start: int = 0) -> list[dict[str, Any]]:
    await create_session(api, ws, session, peers={"alice": {}, "bob": {}})
    return await add_messages(api, ws, session, [
        msg("alice" if i % 2 == 0 else "bob", f"fact number {start + i}",
            created_at=(SENT + timedelta(minutes=start + i)).isoformat()) for i in range(10)])


async def _start(api: httpx.AsyncClient, deps: Deps, ws: str, model: str, max_cost_usd: float | None = None
                 ) -> Generation:
    """A rederive of the whole workspace with `model`, through the API."""
    body = {"model": model, **({"max_cost_usd": max_cost_usd} if max_cost_usd is not None else {})}
    made = expect(await api.post(ws_url(ws, "generations"), json=body), 201)
    assert made["state"] == "building" and made["estimate"]["tasks"]
    async with deps.db.read() as conn:
        workspace = await workspace_repo.find(conn, ws)
        assert workspace is not None
        found = await generation_repo.find(conn, workspace.pk, made["id"])
    assert found is not None
    return found


async def _listed(api: httpx.AsyncClient, ws: str, generation: str | None = None) -> list[str]:
    params = {"generation": generation} if generation else {}
    body = expect(await api.post(ws_url(ws, "conclusions", "list"), params={**params, "size": 100}), 200)
    return sorted(c["content"] for c in body["items"])


async def _reads(api: httpx.AsyncClient, ws: str, generation: str | None = None) -> dict[str, Any]:
    """What every derived read shows of alice as alice sees her."""
    params = {"generation": generation} if generation else {}
    return {
        "conclusions": await _listed(api, ws, generation),
        "representation": expect(await api.post(ws_url(ws, "peers", "alice", "representation"), params=params,
                                                json={}), 200)["representation"],
        "card": expect(await api.get(ws_url(ws, "peers", "alice", "card"), params=params), 200)["peer_card"],
        "context": expect(await api.get(ws_url(ws, "peers", "alice", "context"), params=params), 200),
        "summary": expect(await api.get(session_url(ws, "s", "summaries"), params=params), 200),
    }


def _voices(read: dict[str, Any]) -> set[str]:
    text = json.dumps(read)
    return {voice for voice in VOICE.values() if voice in text}


async def _state(deps: Deps, pk: int) -> Generation:
    async with deps.db.read() as conn:
        found = await generation_repo.by_pk(conn, pk)
    assert found is not None
    return found


async def test_a_rederive_builds_beside_the_active_one_and_switching_switches_every_read(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI) -> None:
    ws = "gen-two-models"
    await _conversation(api, ws)
    await _drain(llm_deps)
    before = await _reads(api, ws)
    assert _voices(before) == {"A heard"} and before["card"] and before["summary"]["short_summary"]

    g2 = await _start(api, llm_deps, ws, "model-b")
    assert g2.state == "building"
    # Messages written while g2 builds are derived into both.
    await add_messages(api, ws, "s", [msg("alice", "late fact", created_at=(SENT + timedelta(hours=1)).isoformat())])
    assert await _reads(api, ws) == before  # nothing of g2 is served before anything runs
    await _drain(llm_deps)

    assert (await _state(llm_deps, g2.pk)).state == "ready"
    served = await _reads(api, ws)
    assert _voices(served) == {"A heard"}, "the active generation still serves every read"
    assert "A heard alice: late fact" in served["conclusions"]
    b = await _reads(api, ws, "g2")
    assert _voices(b) == {"B heard"}, "?generation=g2 reads B's memory only"
    assert "B heard alice: late fact" in b["conclusions"], "a message written while g2 built reached it"
    assert [c.replace("B heard", "A heard") for c in b["conclusions"]] == served["conclusions"]
    assert b["summary"]["short_summary"] and b["card"]
    calls = [r["model"] for r in fake.chat_requests]
    assert {"model-a", "model-b"} <= set(calls)

    compared = expect(await api.get(ws_url(ws, "generations", "compare"), params={"a": "g1", "b": "g2"}), 200)
    alice = next(p for p in compared["pairs"] if (p["observer"], p["observed"]) == ("alice", "alice"))
    assert "A heard alice: late fact" in json.dumps(alice) and "B heard alice: late fact" in json.dumps(alice), \
        "compare lists what each generation concluded that the other did not"

    expect(await api.post(ws_url(ws, "generations", "g2", "activate")), 200)
    assert _voices(await _reads(api, ws)) == {"B heard"}, "activation switches every read at once"
    assert _voices(await _reads(api, ws, "g1")) == {"A heard"}
    assert expect(await api.post(ws_url(ws, "generations", "rollback")), 200)["id"] == "g1"
    assert await _reads(api, ws) == served, "rolling back restores exactly what was served"

    async with llm_deps.db.read() as conn:
        per_generation = dict((await conn.execute(
            select(llm_calls.c.generation_id, func.count()).where(llm_calls.c.generation_id.is_not(None))
            .group_by(llm_calls.c.generation_id))).all())
    assert per_generation.get(g2.pk), "g2's model calls are recorded as g2's"


async def test_a_worker_dying_after_its_writes_resumes_without_duplicates(
        api: httpx.AsyncClient, llm_deps: Deps) -> None:
    ws = "gen-resume"
    await _conversation(api, ws)
    await _drain(llm_deps)
    g2 = await _start(api, llm_deps, ws, "model-b")
    now = llm_deps.now()
    async with llm_deps.db.write() as conn:
        claimed = await jobs.claim(conn, "dead-worker", ["rederive"], 1, timedelta(seconds=30), now)
    assert claimed and claimed[0].payload["task"] == "representation"
    worker = Worker(llm_deps)
    await worker.registry["rederive"](llm_deps, claimed[0])  # its writes commit; the worker dies before completing
    written = await _conclusion_count(llm_deps, g2.pk)
    assert written > 0
    later = Deps(db=llm_deps.db, settings=llm_deps.settings, now=lambda: now + timedelta(minutes=5),
                 embedder_instance=llm_deps.embedder_instance, vectors_ready=llm_deps.vectors_ready,
                 llm_instance=llm_deps.llm)
    await Worker(later).drain()  # the lease ran out: the job runs again, with the rest
    async with llm_deps.db.read() as conn:
        rows = (await conn.execute(select(conclusions.c.observer_id, conclusions.c.observed_id,
                                          conclusions.c.fingerprint, conclusions.c.times_derived)
                                   .where(conclusions.c.generation_id == g2.pk))).all()
    assert len(rows) == len({(r[0], r[1], r[2]) for r in rows}), "no conclusion twice"
    assert all(r.times_derived == 1 for r in rows), "the re-run counted nothing twice"
    assert (await _state(llm_deps, g2.pk)).state == "ready"
    a_rows = await _conclusion_count(llm_deps, (await _active_pk(llm_deps, ws)))
    assert len(rows) == a_rows


async def test_an_estimate_above_the_cap_starts_nothing(api: httpx.AsyncClient, llm_deps: Deps,
                                                        fake: FakeOpenAI) -> None:
    ws = "gen-cap-refused"
    await _conversation(api, ws)
    await _drain(llm_deps)
    asked = len(fake.chat_requests)
    refused = expect(await api.post(ws_url(ws, "generations"), json={"model": "model-b", "max_cost_usd": 0.01}), 422)
    assert refused["estimate"]["cost_usd"] > 0.01 and "nothing was started" in refused["detail"]
    assert [g["id"] for g in expect(await api.get(ws_url(ws, "generations")), 200)["items"]] == ["g1"]
    await _drain(llm_deps)
    assert len(fake.chat_requests) == asked, "no model was called for it"


async def test_the_cost_cap_stops_a_rederive_and_drops_its_queue(api: httpx.AsyncClient, llm_deps: Deps,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """An estimate that proves too low: the real spend reaches the cap midway."""
    ws = "gen-cap"
    await _conversation(api, ws)
    await _conversation(api, ws, "t", start=10)
    await _drain(llm_deps)
    served = await _reads(api, ws)
    real = generation_estimate.estimate

    async def too_low(*args: Any) -> Estimate:
        found = await real(*args)
        return replace(found, tasks=[replace(t, cost_usd=0.0) for t in found.tasks])

    monkeypatch.setattr(generation_estimate, "estimate", too_low)
    g2 = await _start(api, llm_deps, ws, "model-b", max_cost_usd=0.000001)  # any one call costs more
    await _drain(llm_deps)
    stopped = await _state(llm_deps, g2.pk)
    assert stopped.state == "failed" and stopped.error and "cost cap reached" in stopped.error
    async with llm_deps.db.read() as conn:
        open_jobs = (await conn.execute(select(func.count()).select_from(jobs_table).where(
            jobs_table.c.kind == "rederive", jobs_table.c.status.in_(["pending", "running"])))).scalar_one()
        b_calls = (await conn.execute(select(func.count()).select_from(llm_calls)
                                      .where(llm_calls.c.generation_id == g2.pk))).scalar_one()
    assert open_jobs == 0
    assert b_calls == 1, "it stopped after the call that reached the cap"
    assert await _reads(api, ws) == served


async def test_deleting_a_message_a_session_and_a_workspace_cascades_through_both_generations(
        api: httpx.AsyncClient, llm_deps: Deps) -> None:
    """(The v3 API deletes messages, conclusions, sessions and workspaces; peers are never deleted.)"""
    ws = "gen-cascade"
    made = await _conversation(api, ws)
    await _conversation(api, ws, "t", start=10)
    await _drain(llm_deps)
    g2 = await _start(api, llm_deps, ws, "model-b")
    await _drain(llm_deps)
    g1 = await _active_pk(llm_deps, ws)
    assert len(await _contents(llm_deps, g1)) == len(await _contents(llm_deps, g2.pk)) == 20

    receipt = expect(await api.delete(session_url(ws, "s", "messages", made[0]["id"]), params={"receipt": "true"}),
                     200)
    assert len(receipt["conclusions_removed"]) == 2, "the message's conclusion in each generation, one receipt"
    assert len(receipt["summaries_removed"]) == 1, "one entry for the summary removed from both generations"
    for pk in (g1, g2.pk):
        assert not [c for c in await _contents(llm_deps, pk) if c.endswith(": fact number 0")]
        assert len(await _contents(llm_deps, pk)) == 19
    await _drain(llm_deps)  # each generation summarises the session again, with its own model
    assert _voices(await _reads(api, ws, "g2")) == {"B heard"} and _voices(await _reads(api, ws)) == {"A heard"}

    expect(await api.delete(session_url(ws, "t")), 202)
    await _drain(llm_deps)
    for pk in (g1, g2.pk):
        assert not [c for c in await _contents(llm_deps, pk) if int(c.rsplit(" ", 1)[-1]) >= 10], \
            "the deleted session's conclusions are gone from every generation"
        assert len(await _contents(llm_deps, pk)) == 9

    workspace = await _workspace_pk(llm_deps, ws)
    expect(await api.delete(session_url(ws, "s")), 202)
    await _drain(llm_deps)
    expect(await api.delete(ws_url(ws)), 202)
    await _drain(llm_deps)
    async with llm_deps.db.read() as conn:
        for table in (conclusions, summaries, peer_cards, generations):
            left = (await conn.execute(select(func.count()).select_from(table)
                                       .where(table.c.workspace_id == workspace))).scalar_one()
            assert left == 0, table.name


async def _workspace_pk(deps: Deps, ws: str) -> int:
    async with deps.db.read() as conn:
        workspace = await workspace_repo.find(conn, ws)
    assert workspace is not None
    return workspace.pk


async def _contents(deps: Deps, generation_pk: int) -> list[str]:
    async with deps.db.read() as conn:
        return list((await conn.execute(select(conclusions.c.content)
                                        .where(conclusions.c.generation_id == generation_pk))).scalars())


async def _conclusion_count(deps: Deps, generation_pk: int) -> int:
    return len(await _contents(deps, generation_pk))


async def _active_pk(deps: Deps, ws: str) -> int:
    async with deps.db.read() as conn:
        workspace = await workspace_repo.find(conn, ws)
    assert workspace is not None
    return workspace.generation_pk


async def test_an_apps_own_conclusion_is_in_every_generation_and_goes_from_every_one(
        api: httpx.AsyncClient, llm_deps: Deps) -> None:
    ws = "gen-app-written"
    await _conversation(api, ws)
    await _drain(llm_deps)
    expect(await api.post(ws_url(ws, "conclusions"), json={"conclusions": [
        {"content": "alice wrote this before", "observer_id": "alice", "observed_id": "alice"}]}), 201)
    g2 = await _start(api, llm_deps, ws, "model-b")
    assert "alice wrote this before" in await _contents(llm_deps, g2.pk), "carried into the new generation"
    made = expect(await api.post(ws_url(ws, "conclusions"), json={"conclusions": [
        {"content": "alice prefers tea", "observer_id": "alice", "observed_id": "alice"}]}), 201)
    await _drain(llm_deps)
    g1 = await _active_pk(llm_deps, ws)
    for pk in (g1, g2.pk):
        assert "alice prefers tea" in await _contents(llm_deps, pk), "written while g2 built: in both"
    assert "alice prefers tea" in await _listed(api, ws, "g2")
    receipt = expect(await api.delete(ws_url(ws, "conclusions", made[0]["id"]), params={"receipt": "true"}), 200)
    assert len(receipt["conclusions_removed"]) == 2
    for pk in (g1, g2.pk):
        assert "alice prefers tea" not in await _contents(llm_deps, pk)
        assert len(await _contents(llm_deps, pk)) == 11, "the derived ones stay, and the one written before"


async def test_a_rederive_with_nothing_to_derive_is_ready_at_once(api: httpx.AsyncClient, llm_deps: Deps) -> None:
    ws = "gen-empty"
    await create_session(api, ws, "s", peers={"alice": {}})
    made = expect(await api.post(ws_url(ws, "generations"), json={"model": "model-b"}), 201)
    assert (made["state"], made["progress"]["total"]) == ("ready", 0)
    assert made["ready_at"] is not None


async def test_every_read_and_chat_can_name_a_generation(api: httpx.AsyncClient, llm_deps: Deps,
                                                         fake: FakeOpenAI) -> None:
    ws = "gen-ab-reads"
    await _conversation(api, ws)
    await _drain(llm_deps)
    await _start(api, llm_deps, ws, "model-b")
    await _drain(llm_deps)
    for generation, voice in ((None, "A heard"), ("g1", "A heard"), ("g2", "B heard")):
        params = {"generation": generation} if generation else {}
        found = expect(await api.post(ws_url(ws, "conclusions", "query"), params=params, json={
            "query": "fact number 2", "top_k": 3, "filters": {"observer_id": "alice", "observed_id": "alice"}}), 200)
        assert found and all(c["content"].startswith(voice) for c in found)
        one = expect(await api.get(ws_url(ws, "conclusions", found[0]["id"]), params=params), 200)
        assert one["content"] == found[0]["content"]
        context = expect(await api.get(session_url(ws, "s", "context"), params={
            **params, "peer_target": "alice", "summary": "true"}), 200)
        assert _voices(context) == {voice}, "session context: representation, card and summary of that generation"
        asked = len(fake.chat_requests)
        body = {"query": "what does alice say?", **({"generation": generation} if generation else {})}
        expect(await api.post(ws_url(ws, "peers", "alice", "chat"), json=body), 200)
        shown = json.dumps(fake.chat_requests[asked:])
        assert voice in shown and ({"A heard", "B heard"} - {voice}).pop() not in shown, \
            "the chat read the memory of the generation it was asked about"
    other = expect(await api.get(ws_url(ws, "conclusions", found[0]["id"])), 404)  # g2's conclusion, read in g1
    assert "not found" in other["detail"].lower()
    assert "Generation g9 not found" in expect(await api.get(ws_url(ws, "peers", "alice", "card"),
                                                             params={"generation": "g9"}), 404)["detail"]
    assert "Generation g9 not found" in expect(await api.post(ws_url(ws, "peers", "alice", "chat"), json={
        "query": "x", "generation": "g9"}), 404)["detail"]


async def test_a_rederive_scoped_to_a_peer_derives_only_what_that_peer_said(api: httpx.AsyncClient,
                                                                           llm_deps: Deps) -> None:
    ws = "gen-peer-scope"
    await _conversation(api, ws)
    await _drain(llm_deps)
    made = expect(await api.post(ws_url(ws, "generations"), json={"model": "model-b", "peer": "alice"}), 201)
    assert made["estimate"]["messages"] == 5, "alice's five messages, as the planner counts them"
    await _drain(llm_deps)
    b = await _listed(api, ws, "g2")
    assert sorted(c for c in b if c.startswith("B heard")) == \
        [f"B heard alice: fact number {n}" for n in (0, 2, 4, 6, 8)]
    assert sorted(c for c in b if not c.startswith("B heard")) == \
        [f"A heard bob: fact number {n}" for n in (1, 3, 5, 7, 9)], "what bob said is carried over from g1"
