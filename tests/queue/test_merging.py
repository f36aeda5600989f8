"""Queued work of a unit is merged into one pending row (queue/jobs.py, services/ingest_jobs.py), on both
databases: with no LLM configured, 50 create calls from two senders leave a bounded number of job rows, and once a
model is configured every message is derived exactly once; messages merged into a queued job while the job ahead
of it was deriving it (and them not) are kept for the next run, not lost."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from fake_openai import FakeOpenAI
from honcho_server.domain.configuration import MessageConfiguration
from honcho_server.llm.client import LLMClient
from honcho_server.reasoning import deriver
from honcho_server.services import messages
from honcho_server.services.deps import Deps
from honcho_server.services.ingest_jobs import MERGE_LIMIT
from honcho_server.store.engine import Database
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import jobs, summaries
from honcho_server.worker.runtime import Worker
from support import fresh_database_url, make_settings

LINE = re.compile(r"^\[(\d+)\] \S+ \S+ ([\w-]+): (.*)$", re.MULTILINE)


def _answer(body: dict[str, Any]) -> Any:
    """A stand-in model: for the deriver, one fact per message of the target; for summaries, a line of text."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    target = re.search(r"Target peer: (\S+)", prompt)
    if target is None:
        return "A short summary of the conversation."
    return {"conclusions": [{"content": f"{peer} said: {content}", "sources": [int(n)], "about": None}
                            for n, peer, content in LINE.findall(prompt) if peer == target.group(1)]}


def _derived(fake: FakeOpenAI) -> Counter[str]:
    """How many times each message was shown to the deriver as one of the target's own."""
    shown: Counter[str] = Counter()
    for body in fake.chat_requests:
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        target = re.search(r"Target peer: (\S+)", prompt)
        if target is not None:
            shown.update(content for _, peer, content in LINE.findall(prompt) if peer == target.group(1))
    return shown


def _deps(url: str, fake: FakeOpenAI | None) -> Deps:
    llm = {"provider": "openai-compatible", "model": "llama3.2", "base_url": fake.base_url} if fake else {}
    settings = make_settings(url, llm=llm, deriver={"flush_seconds": 0},
                             embedding={"provider": "hash", "dimensions": 64}, worker={"max_attempts": 1})
    deps = Deps(db=Database(url, settings.db), settings=settings)
    if fake is not None:
        async def no_wait(_seconds: float) -> None:
            return None

        deps.llm_instance = LLMClient(settings.llm, deps.record_llm_call, sleep=no_wait)
    return deps


async def _counts(deps: Deps) -> dict[tuple[str, str], int]:
    async with deps.db.read() as conn:
        rows = await conn.execute(select(jobs.c.kind, jobs.c.status, func.count()).group_by(jobs.c.kind,
                                                                                             jobs.c.status))
        return {(kind, status): n for kind, status, n in rows}


@pytest.fixture
def fake() -> Any:
    with FakeOpenAI() as server:
        server.responder = _answer
        yield server


async def test_fifty_batches_without_a_model_stay_a_few_rows_then_are_derived_once(
        backend: str, tmp_path: Path, fake: FakeOpenAI) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    plain, with_llm = _deps(url, None), _deps(url, fake)
    try:
        for i in range(50):
            await messages.create(plain, "w", "s", [
                messages.NewMessage(content=f"alice fact {i}", peer_name="alice", metadata={}),
                messages.NewMessage(content=f"bob fact {i}", peer_name="bob", metadata={})])
            if i % 10 == 9:
                await Worker(plain).drain()  # no model: embeddings run, reasoning stays queued
        counts = await _counts(plain)
        assert counts[("representation", "pending")] == 2  # one per sender, not one per batch
        assert counts[("summary", "pending")] == 2  # short and long: the latest boundary of each
        assert sum(n for (kind, _), n in counts.items() if kind == "representation") == 2
        assert sum(n for (kind, _), n in counts.items() if kind == "summary") == 2
        assert sum(n for (kind, _), n in counts.items() if kind == "embed") <= 5 + 1  # a run per drain at most

        await Worker(with_llm).drain()  # a model is configured: everything queued is derived
        shown = _derived(fake)
        expected = {f"{who} fact {i}" for who in ("alice", "bob") for i in range(50)}
        assert set(shown) == expected and set(shown.values()) == {1}  # every message, exactly once
        counts = await _counts(with_llm)
        assert not [key for key in counts if key[1] in ("pending", "running", "failed") and key[0] != "dream"]
        async with with_llm.db.read() as conn:
            written = sorted((await conn.execute(select(summaries.c.kind, summaries.c.last_seq))).all())
        assert written == [("long", 60), ("short", 100)]  # one call each, up to the latest boundary of its kind
    finally:
        await with_llm.aclose()
        await plain.aclose()


async def test_messages_merged_into_a_job_while_it_was_taken_in_are_kept(
        backend: str, tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    deps = _deps(url, fake)

    async def say(text: str) -> None:
        await messages.create(deps, "w", "s", [messages.NewMessage(content=text, peer_name="alice", metadata={})])

    try:
        await say("alice one")
        async with deps.db.write() as conn:  # the head gives up its merge key (as a full or retried job does)
            await conn.execute(update(jobs).where(jobs.c.kind == "representation").values(merge_key=None))
        await say("alice two")  # a second queued job, which the head takes in
        extract, calls = deriver.extract, []

        async def extract_while_more_arrive(*args: Any, **kwargs: Any) -> Any:
            found = await extract(*args, **kwargs)
            if not calls:
                calls.append(1)
                await say("alice three")  # merged into the job being taken in, after it was read
            return found

        monkeypatch.setattr(deriver, "extract", extract_while_more_arrive)
        await Worker(deps).drain()
        shown = _derived(fake)
        assert shown == Counter({"alice one": 1, "alice two": 1, "alice three": 1})
        async with deps.db.read() as conn:
            statuses = [r.status for r in await conn.execute(
                select(jobs.c.status).where(jobs.c.kind == "representation"))]
        assert statuses == ["done", "done"]
    finally:
        await deps.aclose()


async def test_messages_with_their_own_configuration_are_merged_apart(
        backend: str, tmp_path: Path, fake: FakeOpenAI) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    plain, with_llm = _deps(url, None), _deps(url, fake)
    special = MessageConfiguration.model_validate({"reasoning": {"custom_instructions": "Mind the garden."}})
    silent = MessageConfiguration.model_validate({"reasoning": {"enabled": False}})
    try:
        for i in range(10):
            await messages.create(plain, "w", "s", [
                messages.NewMessage(content=f"plain {i}", peer_name="alice", metadata={}),
                messages.NewMessage(content=f"special {i}", peer_name="alice", metadata={}, configuration=special),
                messages.NewMessage(content=f"silent {i}", peer_name="alice", metadata={}, configuration=silent)])
        counts = await _counts(plain)
        assert counts[("representation", "pending")] == 2  # one per configuration; none for reasoning off
        await Worker(with_llm).drain()
        for body in fake.chat_requests:
            prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
            if "Target peer:" in prompt:
                own = [content for _, peer, content in LINE.findall(prompt) if peer == "alice"]
                assert {c.split()[0] for c in own} == ({"special"} if "Mind the garden." in prompt else {"plain"})
        shown = _derived(fake)
        assert set(shown) == {f"{k} {i}" for k in ("plain", "special") for i in range(10)}
        assert set(shown.values()) == {1}
    finally:
        await with_llm.aclose()
        await plain.aclose()


async def test_a_full_row_keeps_its_work_and_the_units_rows_stay_due_together(backend: str, tmp_path: Path) -> None:
    """A unit's full row gives up its merge key and the next batch starts a row of its own; each later batch
    merges into that row and moves the unit's every pending row to the same due time (one locked read, one
    write of all the rows)."""
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    settings = make_settings(url, deriver={"flush_seconds": 600, "quiet_seconds": 30, "batch_tokens": 10**9},
                             embedding={"provider": "hash", "dimensions": 64})
    deps = Deps(db=Database(url, settings.db), settings=settings)
    try:
        await messages.create(deps, "w", "s", [messages.NewMessage(content=f"fact {i}", peer_name="alice",
                                                                   metadata={}) for i in range(MERGE_LIMIT)])
        for i in range(2):
            await messages.create(deps, "w", "s", [messages.NewMessage(content=f"more {i}", peer_name="alice",
                                                                       metadata={})])
        async with deps.db.read() as conn:
            rows = (await conn.execute(
                select(jobs.c.payload, jobs.c.merge_key, jobs.c.run_after)
                .where(jobs.c.kind == "representation", jobs.c.status == "pending").order_by(jobs.c.id))).all()
        assert [r.payload["seqs"] for r in rows] == [list(range(1, MERGE_LIMIT + 1)),
                                                     [MERGE_LIMIT + 1, MERGE_LIMIT + 2]]
        assert rows[0].merge_key is None and rows[1].merge_key is not None  # the full row stays as it is
        assert rows[0].run_after == rows[1].run_after  # the unit is derived together
        assert sum(r.payload["tokens"] for r in rows) > 0
    finally:
        await deps.aclose()
