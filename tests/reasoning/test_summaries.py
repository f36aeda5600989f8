"""Session summaries on both databases, with the LLM faked at its interface (pydantic-ai FunctionModel):
cadence from the configuration, each summary covering everything since the previous one (no gap after a
failure), idempotence, and the summaries route."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from api_helpers import add_messages, expect, msg, session_keys, session_url, ws_url
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import func, select

from honcho_server.llm.base import LLMOutputError, LLMProviderError
from honcho_server.llm.client import LLMClient
from honcho_server.reasoning import summaries
from honcho_server.services.deps import Deps
from honcho_server.store.tables import summaries as summaries_table
from honcho_server.worker import handlers
from honcho_server.worker.runtime import Worker


class FakeSummarizer:
    """Answers each summary call with the numbers of the messages it saw (from its prompt), so a test can tell
    exactly what a summary covers; fails while `failing` is set."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.failing = False
        self.forced: list[str] = []  # answers given instead of the real one, first first

    def __call__(self, messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        prompt = next(p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
                      if isinstance(p, UserPromptPart))
        assert isinstance(prompt, str)
        self.prompts.append(prompt)
        if self.failing:
            raise ModelHTTPError(400, "fake", {"error": "bad request"})
        if self.forced:
            return ModelResponse(parts=[TextPart(self.forced.pop(0))])
        seen = sorted({int(n) for n in re.findall(r"note (\d+)\b", prompt)})
        return ModelResponse(parts=[TextPart(f"covers {seen[0]}-{seen[-1]}" if seen else "empty")])


@pytest.fixture
def fake() -> FakeSummarizer:
    return FakeSummarizer()


@pytest.fixture
def llm_deps(deps: Deps, fake: FakeSummarizer) -> Iterator[Deps]:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key"})
    client = LLMClient(settings.llm, deps.record_llm_call, model_for=lambda *_: FunctionModel(fake.__call__))
    yield Deps(db=deps.db, settings=settings, llm_instance=client, embedder_instance=deps.embedder_instance,
               vectors_ready=deps.vectors_ready)


async def _session(client: httpx.AsyncClient, ws: str, count: int, start: int = 1) -> None:
    if start == 1:
        config = {"summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
        expect(await client.post(ws_url(ws, "sessions"), json={"id": "s", "configuration": config}), 201)
    await add_messages(client, ws, "s", [msg("ann" if i % 2 else "bob", f"note {i} about the garden")
                                         for i in range(start, count + 1)])


async def test_summaries_follow_the_cadence(client: httpx.AsyncClient, llm_deps: Deps, ws: str) -> None:
    await _session(client, ws, 10)
    await Worker(llm_deps).drain()  # the first short summary is written before the next messages arrive
    await _session(client, ws, 25, start=11)
    await Worker(llm_deps).drain()
    body = expect(await client.get(session_url(ws, "s", "summaries")), 200)
    short, long = body["short_summary"], body["long_summary"]
    assert set(short) == {"content", "message_id", "summary_type", "created_at", "token_count"}
    assert short["summary_type"] == "honcho_chat_summary_short" and long["summary_type"] == "honcho_chat_summary_long"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", short["created_at"]) and short["token_count"] > 0
    messages = expect(await client.post(session_url(ws, "s", "messages/list"), params={"size": 50}), 200)["items"]
    uid_of = {m["content"].split()[1]: m["id"] for m in messages}
    assert short["message_id"] == uid_of["20"] and long["message_id"] == uid_of["20"]
    # The second short summary folded the first in and read only messages 11-20.
    assert long["content"] == "covers 1-20" and short["content"] == "covers 11-20"
    assert expect(await client.get(session_url(ws, "nope", "summaries")), 200) == {
        "id": "nope", "short_summary": None, "long_summary": None}


async def test_a_failed_summary_leaves_no_gap(client: httpx.AsyncClient, llm_deps: Deps, fake: FakeSummarizer,
                                              ws: str) -> None:
    await _session(client, ws, 20)
    workspace_pk, session_pk = await session_keys(llm_deps, ws)
    fake.failing = True
    with pytest.raises(LLMProviderError):
        await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 10, ["short"], llm_deps.now)
    fake.failing = False
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 20, ["short"], llm_deps.now)
    assert fake.prompts[-1].startswith("There is no previous summary")
    body = expect(await client.get(session_url(ws, "s", "summaries")), 200)
    assert body["short_summary"]["content"] == "covers 1-20"  # messages 1-10 were not lost with the failure
    # Running it again changes nothing (a job may run twice).
    calls = len(fake.prompts)
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 20, ["short"], llm_deps.now)
    assert len(fake.prompts) == calls
    async with llm_deps.db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(summaries_table)
                                    .where(summaries_table.c.session_id == session_pk))).scalar_one()
    assert count == 1


BAD_SUMMARIES = {
    "a JSON fragment": "{not json at all",
    "empty": "   ",
    "only a reasoning block": "<think>The user wants a summary...</think>",
    "an error passed on": "Error: upstream request timed out",
    "an HTML error page": "<html><body>502 Bad Gateway</body></html>",
    "far too long": "word " * 2000,
}


@pytest.mark.parametrize("bad", BAD_SUMMARIES.values(), ids=BAD_SUMMARIES.keys())
async def test_a_malformed_summary_is_reasked_then_the_job_fails_without_storing_it(
        client: httpx.AsyncClient, llm_deps: Deps, fake: FakeSummarizer, ws: str, bad: str) -> None:
    await _session(client, ws, 10)
    workspace_pk, session_pk = await session_keys(llm_deps, ws)
    retries = llm_deps.settings.llm.output_retries
    fake.forced = [bad] * (retries + 1)
    with pytest.raises(LLMOutputError, match="no valid answer for summary"):
        await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 10, ["short"], llm_deps.now)
    assert not fake.forced and len(fake.prompts) == retries + 1  # re-asked, then given up on
    assert expect(await client.get(session_url(ws, "s", "summaries")), 200)["short_summary"] is None
    # One bad answer, then a good one: the re-ask is what gets stored.
    fake.forced = [bad]
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 10, ["short"], llm_deps.now)
    body = expect(await client.get(session_url(ws, "s", "summaries")), 200)
    assert body["short_summary"]["content"] == "covers 1-10"


async def test_a_think_block_before_the_summary_is_not_stored(client: httpx.AsyncClient, llm_deps: Deps,
                                                              fake: FakeSummarizer, ws: str) -> None:
    await _session(client, ws, 10)
    workspace_pk, session_pk = await session_keys(llm_deps, ws)
    fake.forced = ["<think>Let me see who said what.</think>\n\nAnn and Bob talked about the garden."]
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 10, ["short"], llm_deps.now)
    body = expect(await client.get(session_url(ws, "s", "summaries")), 200)
    assert body["short_summary"]["content"] == "Ann and Bob talked about the garden."


async def test_without_an_llm_summary_jobs_wait(deps: Deps) -> None:
    assert "summary" not in handlers.registry(deps.settings)  # the test settings configure no LLM
    assert "summary" not in Worker(deps).registry


def test_long_windows_are_folded_in_chunks() -> None:
    from datetime import UTC, datetime

    turns = [summaries.Turn(i, f"u{i}", "ann", "x", 400, datetime(2024, 1, 1, tzinfo=UTC)) for i in range(10)]
    groups = summaries.chunks(turns, limit=1000)
    assert [len(g) for g in groups] == [2, 2, 2, 2, 2]
    assert [t.seq for g in groups for t in g] == list(range(10))
    big = [summaries.Turn(0, "u", "ann", "x", 5000, datetime(2024, 1, 1, tzinfo=UTC))]
    assert summaries.chunks(big, limit=1000) == [big]
