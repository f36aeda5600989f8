"""Deletions that land while a model works (issue 5, cascade): on both databases, a message deleted during a
summary call is not summarised (the summary is written again without it, and not folded onto a summary the
deletion removed), and one deleted during a deriver call is not cited (a fact read only from it is dropped, and
so are the card entries of that batch)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, msg, session_keys, session_url, ws_url
from cascade_helpers import assert_no_orphans, conclusion_rows
from memory_helpers import store_summary
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.llm.client import LLMClient
from honcho_server.reasoning import deriver, summaries
from honcho_server.services import cascade
from honcho_server.services.deps import Deps
from honcho_server.worker.runtime import Worker
from support import api_client

Hook = Callable[[int, str], Awaitable[None]]


def _llm_deps(deps: Deps, on_call: Hook) -> tuple[Deps, list[str]]:
    """Deps whose model answers a summary call with the note numbers it saw, calling `on_call(n, prompt)` first."""
    prompts: list[str] = []

    async def model(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        prompt = next(p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
                      if isinstance(p, UserPromptPart))
        assert isinstance(prompt, str)
        prompts.append(prompt)
        await on_call(len(prompts), prompt)
        seen = sorted({int(n) for n in re.findall(r"note (\d+)\b", prompt)})
        return ModelResponse(parts=[TextPart("saw " + ",".join(map(str, seen)))])

    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key"})
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    llm_deps = Deps(db=deps.db, settings=settings, embedder_instance=HashEmbedder(64))
    llm_deps.llm_instance = LLMClient(settings.llm, llm_deps.record_llm_call, model_for=lambda *_: FunctionModel(model))
    return llm_deps, prompts


async def _session(client: httpx.AsyncClient, ws: str, count: int) -> dict[int, str]:
    """Session `s` of `count` notes; note number -> message id."""
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "s", "configuration": {
        "summary": {"enabled": False}, "reasoning": {"enabled": False}}}), 201)
    made = await add_messages(client, ws, "s", [msg("ann", f"note {i} about the garden") for i in range(1, count + 1)])
    return {i: m["id"] for i, m in enumerate(made, 1)}


async def test_a_message_deleted_while_summarizing_is_summarized_away(client: httpx.AsyncClient, deps: Deps,
                                                                      ws: str) -> None:
    notes = await _session(client, ws, 10)

    async def delete_note_5_first(n: int, _prompt: str) -> None:
        if n == 1:
            await cascade.delete_message(deps, ws, "s", notes[5])

    llm_deps, prompts = _llm_deps(deps, delete_note_5_first)
    workspace_pk, session_pk = await session_keys(deps, ws)
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 10, ["short"], llm_deps.now)
    assert len(prompts) == 2 and "note 5 " in prompts[0] and "note 5 " not in prompts[1]
    short = expect(await client.get(session_url(ws, "s", "summaries")), 200)["short_summary"]
    assert (short["content"], short["message_id"]) == ("saw 1,2,3,4,6,7,8,9,10", notes[10])
    await assert_no_orphans(deps, ws)


async def test_a_summary_is_not_folded_onto_one_a_deletion_removed(client: httpx.AsyncClient, deps: Deps,
                                                                   ws: str) -> None:
    notes = await _session(client, ws, 8)
    await store_summary(deps, ws, "s", "short", last_seq=4, message_id=notes[4], token_count=5,
                        content="saw 1,2,3,4")

    async def delete_note_3_first(n: int, _prompt: str) -> None:
        if n == 1:  # the model is folding notes 5-8 onto the summary of 1-4, which covers note 3
            await cascade.delete_message(deps, ws, "s", notes[3])

    llm_deps, prompts = _llm_deps(deps, delete_note_3_first)
    workspace_pk, session_pk = await session_keys(deps, ws)
    await summaries.summarize(llm_deps.db, llm_deps.llm, workspace_pk, session_pk, 8, ["short"], llm_deps.now)
    assert prompts[0].startswith("Previous summary:\nsaw 1,2,3,4")
    assert prompts[1].startswith("There is no previous summary")
    short = expect(await client.get(session_url(ws, "s", "summaries")), 200)["short_summary"]
    assert short["content"] == "saw 1,2,4,5,6,7,8"
    await assert_no_orphans(deps, ws)


async def test_a_message_deleted_while_deriving_is_not_cited(client: httpx.AsyncClient, deps: Deps, ws: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async def nothing(_n: int, _prompt: str) -> None:
        return None

    llm_deps, _ = _llm_deps(deps, nothing)
    async with api_client(llm_deps) as api:  # batches are due at once (deriver.flush_seconds 0)
        await create_session(api, ws, "s", peers={"alice": {}, "bob": {"observe_others": True}})
        made = await add_messages(api, ws, "s", [msg("alice", "I live in Porto"), msg("alice", "I hike a lot")])
    porto, hike = made[0]["id"], made[1]["id"]

    async def extract(*_args: object) -> tuple[list[deriver.Candidate], list[str]]:
        await cascade.delete_message(llm_deps, ws, "s", hike)  # while "the model" reads the batch
        now = datetime.now(UTC)
        return ([deriver.Candidate("alice lives in Porto and hikes", [porto, hike], now, None),
                 deriver.Candidate("alice hikes a lot", [hike], now, None)], ["ATTRIBUTE: hikes"])

    monkeypatch.setattr(deriver, "extract", extract)
    await Worker(llm_deps).drain()
    rows = await conclusion_rows(deps, ws)
    assert list(rows) == ["alice lives in Porto and hikes"]  # (one row per observer: alice and bob)
    assert rows["alice lives in Porto and hikes"].message_ids == [porto]
    for observer in ("alice", "bob"):
        card = expect(await client.get(ws_url(ws, "peers", observer, "card"), params={"target": "alice"}), 200)
        assert card["peer_card"] is None
    await assert_no_orphans(deps, ws)
