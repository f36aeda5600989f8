"""The deriver end to end on both databases: messages created over the API, the worker running representation
jobs against a loopback OpenAI-compatible server with scripted answers, conclusions read back from the store.

Proves: conclusions with provenance for the right observers; dates resolved against the message time; batching
by tokens with an age flush; exact and semantic dedup reinforcing; a re-run counting nothing twice; a 429 and a
500 retried with nothing lost; malformed JSON re-asked, then the job parked with its error; usage recorded."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, msg, session_url, ws_url
from sqlalchemy import select

from fake_openai import FakeOpenAI, Reply
from honcho_server.domain import cards
from honcho_server.llm.client import LLMClient
from honcho_server.queue import jobs
from honcho_server.reasoning import deriver
from honcho_server.services.deps import Deps
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.tables import conclusions, llm_calls
from honcho_server.store.tables import jobs as jobs_table
from honcho_server.worker.runtime import Worker
from support import api_client

LINE = re.compile(r"^\[(\d+)\] (\d{4}-\d\d-\d\d) \d\d:\d\d ([\w-]+): (.*)$", re.MULTILINE)
SENT = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)


def user_prompt(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def facts_from(body: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for a model: one fact per message the target wrote, citing it; "yesterday" resolved against
    the date the prompt shows for that message."""
    prompt = user_prompt(body)
    target = re.search(r"Target peer: (\S+)", prompt).group(1)  # type: ignore[union-attr]
    out = []
    for number, day, peer, content in LINE.findall(prompt):
        if peer != target:
            continue
        about = None
        if "yesterday" in content:
            about = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
        out.append({"content": f"{target} said: {content}", "sources": [int(number)], "about": about})
    return {"conclusions": out}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _deps(deps: Deps, fake: FakeOpenAI, **deriver_settings: Any) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "llama3.2",
                                                "base_url": fake.base_url})
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0, **deriver_settings})
    settings.worker.max_attempts = 1

    async def no_wait(_seconds: float) -> None:
        return None

    llm_deps = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance,
                    vectors_ready=deps.vectors_ready)
    llm_deps.llm_instance = LLMClient(settings.llm, llm_deps.record_llm_call, sleep=no_wait)
    return llm_deps


@pytest.fixture
def llm_deps(deps: Deps, fake: FakeOpenAI) -> Deps:
    return _deps(deps, fake)


@pytest.fixture
async def api(llm_deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(llm_deps) as c:
        yield c


async def _rows(deps: Deps, ws: str) -> list[dict[str, Any]]:
    """Every conclusion of the workspace with observer and observed names."""
    async with deps.db.read() as conn:
        workspace = await workspace_repo.find(conn, ws)
        assert workspace is not None
        names = {r.id: r.name for r in (await conn.execute(
            select(peer_repo.t.c.id, peer_repo.t.c.name).where(peer_repo.t.c.workspace_id == workspace.pk)))}
        rows = await conn.execute(select(conclusions).where(conclusions.c.workspace_id == workspace.pk)
                                  .order_by(conclusions.c.id))
        return [{**r._mapping, "observer": names[r.observer_id], "observed": names[r.observed_id]} for r in rows]


async def _conversation(api: httpx.AsyncClient, ws: str) -> list[dict[str, Any]]:
    await create_session(api, ws, "s", peers={"alice": {}, "bob": {"observe_others": True}})
    return await add_messages(api, ws, "s", [
        msg("bob", "How was your weekend?", created_at=SENT.isoformat()),
        msg("alice", "I went hiking yesterday with my sister Joan", created_at=(SENT + timedelta(minutes=1))
            .isoformat()),
        msg("alice", "I live in Porto", created_at=(SENT + timedelta(minutes=2)).isoformat()),
        msg("bob", "I work as a nurse", created_at=(SENT + timedelta(minutes=3)).isoformat()),
    ])


async def test_conclusions_with_provenance_for_the_right_observers(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    created = await _conversation(api, ws)
    fake.script(facts_from, facts_from)
    await Worker(llm_deps).drain()
    assert fake.unused == 0 and len(fake.chat_requests) == 2  # one call per sender, not per message or observer
    rows = await _rows(llm_deps, ws)
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_pair.setdefault((row["observer"], row["observed"]), []).append(row)
    # alice is observed by herself and by bob (observe_others); bob only by himself.
    assert set(by_pair) == {("alice", "alice"), ("bob", "alice"), ("bob", "bob")}
    for pair in [("alice", "alice"), ("bob", "alice")]:
        hiking, porto = by_pair[pair]
        assert hiking["content"] == "alice said: I went hiking yesterday with my sister Joan"
        assert hiking["message_ids"] == [created[1]["id"]] and porto["message_ids"] == [created[2]["id"]]
        assert hiking["level"] == "explicit" and hiking["times_derived"] == 1 and hiking["embedding"]
        # Learned when the message was sent, about the day before it: not today.
        assert hiking["observed_at"] == SENT + timedelta(minutes=1)
        assert hiking["about_at"] == datetime(2024, 3, 9, tzinfo=UTC) and porto["about_at"] is None
    question, nurse = by_pair[("bob", "bob")]
    assert nurse["content"] == "bob said: I work as a nurse" and nurse["message_ids"] == [created[3]["id"]]
    assert question["message_ids"] == [created[0]["id"]]
    # The prompt gave the model each message's own time, and bob's question as context for alice's answer.
    alice_prompt = next(p for p in map(user_prompt, fake.chat_requests) if "Target peer: alice" in p)
    assert "2024-03-10 15:31 alice: I went hiking yesterday" in alice_prompt
    assert "bob: How was your weekend?" in alice_prompt and "nurse" not in alice_prompt
    assert datetime.now(UTC).strftime("%Y-%m-%d") not in alice_prompt


async def test_usage_is_recorded_and_retries_lose_nothing(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    await create_session(api, ws, "s", peers={"alice": {}})
    await add_messages(api, ws, "s", [msg("alice", "I adopted a cat called Miso")])
    fake.script(Reply(429, headers={"Retry-After": "0"}), Reply(500), facts_from)
    await Worker(llm_deps).drain()
    (row,) = await _rows(llm_deps, ws)
    assert row["content"] == "alice said: I adopted a cat called Miso"
    async with llm_deps.db.read() as conn:
        (call,) = list(await conn.execute(select(llm_calls).where(llm_calls.c.task == "deriver",
                                                                   llm_calls.c.workspace_id == row["workspace_id"])))
    assert call.ok and call.input_tokens > 0 and call.output_tokens > 0 and call.model == "llama3.2"
    usage = expect(await api.get(ws_url(ws, "usage")), 200)
    assert usage["totals"]["input_tokens"] == call.input_tokens


async def test_malformed_json_is_retried_then_parked_with_its_error(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    await create_session(api, ws, "s", peers={"alice": {}})
    await add_messages(api, ws, "s", [msg("alice", "I speak three languages")])
    retries = llm_deps.settings.llm.output_retries
    # Asked with a JSON schema, then for a tool call, then for JSON in the prompt; re-asked in each mode.
    fake.script(*["this is not json {"] * 3 * (retries + 1))
    await Worker(llm_deps).drain()
    assert fake.unused == 0 and len(fake.chat_requests) == 3 * (retries + 1)  # re-asked, then given up on
    assert await _rows(llm_deps, ws) == []  # nothing recorded as "no facts"
    async with llm_deps.db.read() as conn:
        (job,) = list(await conn.execute(select(jobs_table).where(jobs_table.c.kind == "representation",
                                                                   jobs_table.c.observed == "alice")
                                         .order_by(jobs_table.c.id.desc()).limit(1)))
    assert job.status == "failed" and "LLMOutputError" in job.last_error
    assert "JSON schema (response_format)" in job.last_error and "JSON asked for in the prompt" in job.last_error
    status = expect(await api.get(ws_url(ws, "queue/status")), 200)
    assert status["total_work_units"] >= 1
    # Re-driven once the model behaves, the same messages are derived.
    async with llm_deps.db.write() as conn:
        await jobs.redrive(conn, job.workspace_id, llm_deps.now())
    fake.script(facts_from)
    await Worker(llm_deps).drain()
    assert [r["content"] for r in await _rows(llm_deps, ws)] == ["alice said: I speak three languages"]


async def test_jobs_batch_by_tokens_with_an_age_flush(deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    llm_deps = _deps(deps, fake, flush_seconds=600, batch_tokens=40)
    async with api_client(llm_deps) as api:
        await create_session(api, ws, "s", peers={"alice": {}})
        for i in range(3):  # three small create calls: under the token target, they wait
            await add_messages(api, ws, "s", [msg("alice", f"Fact number {i} about my garden")])
        await Worker(llm_deps).drain()
        assert fake.chat_requests == []
        # The batch fills up: the whole unit is due (its create calls were merged into one queued job).
        await add_messages(api, ws, "s", [msg("alice", "I grow tomatoes, basil, peppers and far too many "
                                                       "courgettes every single summer in my allotment")])
        fake.script(facts_from)
        await Worker(llm_deps).drain()
    assert len(fake.chat_requests) == 1
    assert len(await _rows(llm_deps, ws)) == 4
    async with llm_deps.db.read() as conn:
        statuses = [r.status for r in await conn.execute(
            select(jobs_table.c.status).where(jobs_table.c.kind == "representation",
                                              jobs_table.c.workspace_id == (await _rows(llm_deps, ws))[0]
                                              ["workspace_id"]))]
    assert statuses == ["done"]


async def test_a_small_batch_runs_once_its_oldest_message_waited_long_enough(
        deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    llm_deps = _deps(deps, fake, flush_seconds=600, batch_tokens=10_000)
    async with api_client(llm_deps) as api:
        await create_session(api, ws, "s", peers={"alice": {}})
        await add_messages(api, ws, "s", [msg("alice", "I collect stamps")])
    await Worker(llm_deps).drain()
    assert fake.chat_requests == []
    later = datetime.now(UTC) + timedelta(seconds=601)
    llm_deps.now = lambda: later
    fake.script(facts_from)
    await Worker(llm_deps).drain()
    assert [r["content"] for r in await _rows(llm_deps, ws)] == ["alice said: I collect stamps"]


async def test_duplicates_reinforce_and_reruns_count_nothing_twice(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    await create_session(api, ws, "s", peers={"alice": {}})
    first = await add_messages(api, ws, "s", [msg("alice", "I have a dog")])
    same = {"conclusions": [{"content": "Alice has a dog named Rover.", "sources": [1]}]}
    fake.script(same)
    await Worker(llm_deps).drain()
    second = await add_messages(api, ws, "s", [msg("alice", "Rover is my dog")])
    # The same fact again (exact, up to case and the full stop), then a fuller wording of it.
    fake.script({"conclusions": [{"content": "alice has a dog named Rover", "sources": [1]}]})
    await Worker(llm_deps).drain()
    (row,) = await _rows(llm_deps, ws)
    assert row["times_derived"] == 2 and row["message_ids"] == [first[0]["id"], second[0]["id"]]
    # Re-running a finished job (a crash between writing and completing it) counts nothing again.
    async with llm_deps.db.read() as conn:
        done = list(await conn.execute(select(jobs_table).where(jobs_table.c.kind == "representation",
                                                                 jobs_table.c.workspace_id == row["workspace_id"])
                                       .order_by(jobs_table.c.id)))
    fake.script({"conclusions": [{"content": "alice has a dog named Rover", "sources": [1]}]})
    await deriver.derive(llm_deps, jobs.ClaimedJob(id=done[-1].id, kind="representation",
                                                   work_unit_key=done[-1].work_unit_key, payload=done[-1].payload,
                                                   attempts=1, workspace_pk=done[-1].workspace_id,
                                                   session_pk=done[-1].session_id))
    (row,) = await _rows(llm_deps, ws)
    assert row["times_derived"] == 2


async def test_semantic_dedup_keeps_different_facts_apart(deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    llm_deps = _deps(deps, fake, dedup_similarity=0.3)
    async with api_client(llm_deps) as api:
        await create_session(api, ws, "s", peers={"alice": {}})
        await add_messages(api, ws, "s", [msg("alice", "hello")])
        fake.script({"conclusions": [{"content": "alice drinks green tea every morning", "sources": [1]},
                                     {"content": "alice is 31 years old", "sources": [1]}]})
        await Worker(llm_deps).drain()
        await add_messages(api, ws, "s", [msg("alice", "hello again")])
        fake.script({"conclusions": [
            {"content": "alice drinks green tea every single morning at home", "sources": [1]},  # same, richer
            {"content": "alice drinks black coffee every morning", "sources": [1]},  # a different fact
            {"content": "alice is 32 years old", "sources": [1]},  # a different number: not the same fact
        ]})
        await Worker(llm_deps).drain()
    contents = {r["content"]: r["times_derived"] for r in await _rows(llm_deps, ws)}
    assert contents == {"alice drinks green tea every single morning at home": 2, "alice is 31 years old": 1,
                        "alice drinks black coffee every morning": 1, "alice is 32 years old": 1}


async def test_custom_instructions_reach_the_prompt(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    config = {"reasoning": {"custom_instructions": "Only record facts about food."}}
    expect(await api.post("/v3/workspaces", json={"id": ws, "configuration": config}), 201)
    await create_session(api, ws, "s", peers={"alice": {}})
    await add_messages(api, ws, "s", [msg("alice", "I love ramen"),
                                      msg("alice", "secret", configuration={"reasoning": {"enabled": False}})])
    fake.script(facts_from)
    await Worker(llm_deps).drain()
    (prompt,) = map(user_prompt, fake.chat_requests)
    assert "Only record facts about food." in prompt
    assert "secret" not in prompt  # the message-level configuration turned reasoning off for that one


async def test_a_session_deleted_meanwhile_derives_nothing(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    await create_session(api, ws, "s", peers={"alice": {}})
    await add_messages(api, ws, "s", [msg("alice", "I play chess")])
    expect(await api.delete(session_url(ws, "s")), 202)
    await Worker(llm_deps).drain()
    assert fake.chat_requests == [] and await _rows(llm_deps, ws) == []


def test_windows_carry_the_message_answered_and_split_by_tokens() -> None:
    def turn(seq: int, peer: str, tokens: int = 10) -> Any:
        return deriver.Turn(seq, f"u{seq}", peer, f"m{seq}", tokens, SENT)

    turns = {t.seq: t for t in [turn(1, "bob"), turn(2, "ann"), turn(3, "ann"), turn(4, "bob"), turn(5, "ann"),
                                turn(6, "bob", 500), turn(7, "ann")]}
    assert [t.seq for t in deriver.window(turns, [2, 3, 5], "ann")] == [1, 2, 3, 4, 5]
    assert [[t.seq for t in w] for w in deriver.split(turns, [2, 3, 5, 7], "ann", 60)] == [[1, 2, 3, 4, 5], [6, 7]]


def test_model_answers_become_candidates() -> None:
    turns = [deriver.Turn(1, "q", "bob", "When?", 2, SENT), deriver.Turn(2, "a", "ann", "Yesterday", 2, SENT)]
    answer = deriver.Extraction.model_validate({"conclusions": [
        {"content": "  ann   went out ", "sources": [1, 2, 2, 9], "about": "2024-03-09"},
        {"content": "ann is tired", "sources": [42], "about": "someday"},
        {"content": "   ", "sources": [2]}]})
    first, second = deriver.candidates(answer, turns, "ann")
    assert first.content == "ann went out" and first.message_ids == ["q", "a"]
    assert first.about_at == datetime(2024, 3, 9, tzinfo=UTC)
    assert second.message_ids == ["a"] and second.about_at is None  # nothing valid cited: the sender's messages
    assert deriver.parse_about("2023") == datetime(2023, 1, 1, tzinfo=UTC)
    assert deriver.parse_about("2023-02-30") is None


def test_same_claim_needs_shared_words_and_numbers() -> None:
    assert deriver.same_claim("ann has a dog named Rover", "ann has a dog called Rover")
    assert not deriver.same_claim("ann likes tea", "ann likes coffee")
    assert not deriver.same_claim("ann is 30", "ann is 31")
    assert deriver.richer("ann has a brown dog named Rover", "ann has a dog named Rover")
    assert not deriver.richer("ann has a dog", "ann has a dog")


def test_the_extraction_schema_is_small() -> None:
    schema = json.dumps(deriver.Extraction.model_json_schema())
    assert len(schema) < 1200  # it travels in every prompted-JSON call


async def test_durable_identity_facts_go_to_the_peer_card(
        api: httpx.AsyncClient, llm_deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    await create_session(api, ws, "s", peers={"alice": {}, "bob": {"observe_others": True}})
    await add_messages(api, ws, "s", [msg("alice", "I'm Alice, a nurse in Porto")])
    fake.script({"conclusions": [{"content": "alice is a nurse in Porto", "sources": [1]}],
                 "card": ["identity: Alice", "ATTRIBUTE: works as a nurse", "she seems tired", "ATTRIBUTE: "]})
    await Worker(llm_deps).drain()
    for observer in ("alice", "bob"):
        card = expect(await api.get(ws_url(ws, f"peers/{observer}/card"), params={"target": "alice"}), 200)
        assert card["peer_card"] == ["IDENTITY: Alice", "ATTRIBUTE: works as a nurse"]
    # A session whose configuration keeps reasoning away from cards leaves them alone.
    await create_session(api, ws, "t", peers={"alice": {}}, configuration={"peer_card": {"create": False}})
    await add_messages(api, ws, "t", [msg("alice", "I also live with my cat")])
    fake.script({"conclusions": [], "card": ["RELATIONSHIP: lives with a cat"]})
    await Worker(llm_deps).drain()
    card = expect(await api.get(ws_url(ws, "peers/alice/card")), 200)
    assert card["peer_card"] == ["IDENTITY: Alice", "ATTRIBUTE: works as a nurse"]


def test_card_merge_dedups_and_keeps_identity_lines_when_full() -> None:
    card = cards.merge(["IDENTITY: Ann"], ["identity: ann", "ATTRIBUTE: tall", "x" * 300, "RELATIONSHIP: x" * 30])
    assert card == ["IDENTITY: Ann", "ATTRIBUTE: tall"]
    full = cards.merge(["IDENTITY: Ann"], [f"ATTRIBUTE: fact {i}" for i in range(45)])
    assert len(full) == cards.MAX_ENTRIES and full[0] == "IDENTITY: Ann" and full[-1] == "ATTRIBUTE: fact 44"


async def test_one_stored_conclusion_matched_twice_in_a_batch_keeps_every_source(
        deps: Deps, fake: FakeOpenAI, ws: str) -> None:
    llm_deps = _deps(deps, fake, dedup_similarity=0.3)
    async with api_client(llm_deps) as api:
        await create_session(api, ws, "s", peers={"alice": {}})
        first = await add_messages(api, ws, "s", [msg("alice", "I have a dog")])
        fake.script({"conclusions": [{"content": "alice has a dog named Rover", "sources": [1]}]})
        await Worker(llm_deps).drain()
        later = await add_messages(api, ws, "s", [msg("alice", "Rover is my dog"), msg("alice", "Rover again")])
        # The same row matched exactly by one fact and by meaning and words by another.
        fake.script({"conclusions": [{"content": "alice has a dog named Rover", "sources": [1]},
                                     {"content": "alice has a dog called Rover", "sources": [2]}]})
        await Worker(llm_deps).drain()
    (row,) = await _rows(llm_deps, ws)
    assert row["times_derived"] == 3
    assert row["message_ids"] == [first[0]["id"], later[0]["id"], later[1]["id"]]
