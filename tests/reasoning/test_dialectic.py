"""The dialectic agent on both databases, with a scripted model at pydantic-ai's model interface (FunctionModel):
the agent calls the retrieval tools and its answer rests on what they returned (ids and all); the session
allowlist holds inside every tool (nothing of another session ever reaches the model); the read-ahead, the levels'
tool budgets, the session history, peer cards and workspace chat; structured answers validated against their
schema; streamed answers generated once; evidence collated from what the tools showed."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, expect, msg, ws_url
from pydantic_ai.messages import TextPart

from agent_fakes import ScriptedModel, Turn, answer, call, with_model
from honcho_server.domain.conclusions import NewConclusion
from honcho_server.errors import LLMFailed, NotFound
from honcho_server.reasoning import dialectic
from honcho_server.reasoning.dialectic import ChatRequest
from honcho_server.reasoning.response_format import output_model
from honcho_server.services import peer_cards
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.worker.runtime import Worker

ID = re.compile(r"id:([\w-]{21})")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@dataclass
class Memory:
    ws: str
    messages: dict[str, dict[str, Any]]  # by content
    conclusions: dict[str, str]  # content -> id


async def _store(deps: Deps, ws: str, observer: str, observed: str, content: str, *, session: str | None,
                 level: str = "explicit", message_ids: list[str] | None = None,
                 source_ids: list[str] | None = None) -> str:
    blob = (await conclusion_blobs(deps.embedder, [content]))[0]
    async with deps.db.write() as conn:
        w = await workspace_repo.find(conn, ws)
        rows = await peer_repo.find_many(conn, w.pk, [observer, observed])
        session_pk = (await session_repo.active_pks(conn, w.pk, [session]))[session] if session else None
        row = NewConclusion(observer_pk=rows[observer].id, observed_pk=rows[observed].id, session_pk=session_pk,
                            content=content, observed_at=deps.now(), level=level,
                            message_ids=tuple(message_ids) if message_ids else None,
                            source_ids=tuple(source_ids) if source_ids else None, embedding=blob)
        return (await conclusion_repo.insert(conn, w.pk, w.generation_pk, [row], deps.now()))[0]


async def _seed(client: httpx.AsyncClient, deps: Deps, ws: str) -> Memory:
    """alice talks with bob in `trip` (bob observes others) and with carol in `work`, which holds a secret."""
    await create_session(client, ws, "trip", peers={"alice": {}, "bob": {"observe_others": True}})
    await create_session(client, ws, "work", peers={"alice": {}, "carol": {}})
    trip = await add_messages(client, ws, "trip", [
        msg("alice", "I moved to Lisbon last spring", created_at=T0.isoformat()),
        msg("bob", "Nice! Do you like the food there?", created_at=(T0 + timedelta(minutes=1)).isoformat()),
        msg("alice", "I love pasteis de nata with coffee", created_at=(T0 + timedelta(minutes=2)).isoformat())])
    work = await add_messages(client, ws, "work", [
        msg("alice", "My secret project is called Bluebird", created_at=(T0 + timedelta(days=1)).isoformat()),
        msg("carol", "Bluebird stays between us", created_at=(T0 + timedelta(days=1, minutes=1)).isoformat())])
    await Worker(deps).drain()  # message vectors (no LLM here: reasoning jobs wait)
    by_text = {m["content"]: m for m in trip + work}
    lisbon = await _store(deps, ws, "alice", "alice", "alice lives in Lisbon", session="trip",
                          message_ids=[trip[0]["id"]])
    pastry = await _store(deps, ws, "alice", "alice", "alice loves pasteis de nata", session="trip",
                          message_ids=[trip[2]["id"]])
    secret = await _store(deps, ws, "alice", "alice", "alice's secret project is Bluebird", session="work",
                          message_ids=[work[0]["id"]])
    derived = await _store(deps, ws, "alice", "alice", "alice enjoys Portuguese food in Lisbon and Bluebird work",
                           session="trip", level="deductive", source_ids=[pastry, secret])
    bob_view = await _store(deps, ws, "bob", "alice", "alice lives in Lisbon (told bob)", session="trip",
                            message_ids=[trip[0]["id"]])
    await peer_cards.put(deps, ws, "alice", None, ["IDENTITY: alice", "ATTRIBUTE: works on Bluebird"])
    return Memory(ws, by_text, {"lisbon": lisbon, "pastry": pastry, "secret": secret, "derived": derived,
                                "bob_view": bob_view})


@pytest.fixture(scope="module")
async def memory(client: httpx.AsyncClient, deps: Deps) -> Memory:
    return await _seed(client, deps, f"ws-{uuid.uuid4().hex[:10]}")


def ids_in(text: str) -> set[str]:
    return set(ID.findall(text))


def search_then_cite(turn: Turn) -> list[Any]:
    """Turn 1 searches conclusions and messages at once; turn 2 answers citing every id they returned."""
    if not turn.results():
        return [call("search_conclusions", query="where does alice live"),
                call("search_messages", query="Lisbon")]
    cited = sorted(ids_in("\n".join(turn.results())))
    return [answer("alice lives in Lisbon [" + ", ".join(cited) + "]")]


async def test_the_agent_calls_tools_and_its_answer_cites_what_they_returned(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([search_then_cite])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where does alice live?",
                                                                      peer="alice", evidence=True))
    reply = await chat.answer()
    first, second = model.turns
    assert set(first.tools) >= {"search_conclusions", "search_messages", "messages_by_date", "read_messages",
                                "reasoning_chain", "peer_card"} and first.output_tools == ["answer"]
    lisbon_message = memory.messages["I moved to Lisbon last spring"]["id"]
    conclusion_ids = ids_in("\n".join(second.results("search_conclusions")))
    message_ids = ids_in("\n".join(second.results("search_messages")))
    assert memory.conclusions["lisbon"] in conclusion_ids and lisbon_message in message_ids
    assert reply.content is not None
    assert memory.conclusions["lisbon"] in reply.content and lisbon_message in reply.content
    # results name each message's session and time, and each conclusion's source messages
    assert f"id:{lisbon_message} | session trip | 2024-05-01 09:00 | alice: I moved to Lisbon" in second.seen
    assert f"[messages: {lisbon_message}]" in second.seen
    assert reply.tool_rounds == 1
    evidence = reply.evidence
    assert evidence is not None
    assert [c["tool_name"] for c in evidence["tool_calls"]] == ["search_conclusions", "search_messages"]
    assert evidence["tool_calls"][0]["tool_input"] == {"query": "where does alice live", "top_k": 10}
    assert memory.conclusions["lisbon"] in {c["id"] for c in evidence["conclusions"]}
    assert lisbon_message in {m["id"] for m in evidence["messages"]}
    assert set(evidence["conclusions"][0]) == {"id", "level", "content", "created_at", "session_id", "observer_id",
                                               "observed_id", "source_ids"}
    assert set(evidence["messages"][0]) == {"id", "session_id", "peer_id", "created_at"}


async def test_tool_calls_of_one_turn_run_concurrently(deps: Deps, memory: Memory) -> None:
    """Both searches of turn 1 are answered in the same turn (pydantic-ai runs them as concurrent tasks; the
    LLM layer's own test times them)."""
    model = ScriptedModel([search_then_cite])
    await (await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where?", peer="alice"))).answer()
    assert len(model.turns) == 2 and len(model.turns[1].results()) == 2


def every_tool(memory: Memory) -> Any:
    """Turn 1: every tool, each aimed at what lies outside the allowlist; turn 2: answer."""
    secret_message = memory.messages["My secret project is called Bluebird"]["id"]

    def step(turn: Turn) -> list[Any]:
        if turn.results():
            return [answer("done")]
        return [call("search_conclusions", query="secret project", top_k=40),
                call("search_messages", query="secret project called", limit=40),
                call("messages_by_date", limit=40),
                call("messages_by_date", after="2024-05-02", newest_first=True),
                call("read_messages", message_ids=[secret_message], context=3),
                call("reasoning_chain", conclusion_id=memory.conclusions["secret"]),
                call("reasoning_chain", conclusion_id=memory.conclusions["derived"]),
                call("reasoning_chain", conclusion_id=memory.conclusions["lisbon"])]
    return step


@pytest.mark.parametrize("allowlist", [{"sessions": ["trip"]}, {"session": "trip", "sessions": ["trip"]}])
async def test_the_session_allowlist_holds_inside_every_tool(deps: Deps, memory: Memory,
                                                           allowlist: dict[str, Any]) -> None:
    model = ScriptedModel([every_tool(memory)])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "What is alice's secret project?",
                                                                      peer="alice", evidence=True, **allowlist))
    reply = await chat.answer()
    seen = model.turns[-1].seen
    assert "peer_card" not in model.turns[0].tools  # cards carry no session provenance
    assert "Bluebird" not in seen and "works on Bluebird" not in seen
    outside = {memory.conclusions["secret"], memory.conclusions["derived"],
               memory.messages["My secret project is called Bluebird"]["id"],
               memory.messages["Bluebird stays between us"]["id"]}
    assert not outside & ids_in(seen)
    # what the allowlist does allow is still found
    assert memory.conclusions["lisbon"] in ids_in(seen)
    assert memory.messages["I moved to Lisbon last spring"]["id"] in ids_in(seen)
    assert reply.evidence is not None
    assert {c["session_id"] for c in reply.evidence["conclusions"]} == {"trip"}
    assert {c["level"] for c in reply.evidence["conclusions"]} == {"explicit"}
    assert {m["session_id"] for m in reply.evidence["messages"]} == {"trip"}
    # the failed chain lookups (outside the allowlist) are not evidence
    chains = [c["tool_input"]["conclusion_id"] for c in reply.evidence["tool_calls"]
              if c["tool_name"] == "reasoning_chain"]
    assert chains == [memory.conclusions["lisbon"]]


async def test_an_empty_allowlist_recalls_nothing(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([every_tool(memory)])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where does alice live?",
                                                                      peer="alice", sessions=[]))
    await chat.answer()
    assert not ids_in(model.turns[-1].seen)


async def test_a_directional_chat_reads_the_observers_view_only(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([every_tool(memory)])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where does alice live?",
                                                                      peer="bob", target="alice"))
    await chat.answer()
    seen = model.turns[-1].seen
    assert memory.conclusions["bob_view"] in ids_in(seen)
    assert not {memory.conclusions["lisbon"], memory.conclusions["secret"]} & ids_in(seen)
    assert "Bluebird" not in seen  # bob never saw the work session
    assert "Memory is bob's view of alice" in model.turns[0].instructions


async def test_read_ahead_lets_minimal_answer_in_one_call(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([lambda turn: [answer("alice lives in Lisbon")]])
    llm_deps = with_model(deps, model)
    chat = await dialectic.prepare(llm_deps, ChatRequest(memory.ws, "Where does alice live?", level="minimal",
                                                         peer="alice", evidence=True))
    reply = await chat.answer()
    (turn,) = model.turns
    assert "Peer card of alice:\n- IDENTITY: alice" in turn.prompt
    assert memory.conclusions["lisbon"] in ids_in(turn.prompt)
    assert turn.prompt.endswith("Question: Where does alice live?")
    assert reply.content == "alice lives in Lisbon" and reply.tool_rounds == 0
    assert reply.evidence is not None and reply.evidence["tool_calls"] == []
    assert memory.conclusions["lisbon"] in {c["id"] for c in reply.evidence["conclusions"]}


async def test_tool_turns_are_capped_per_level_then_the_model_must_answer(deps: Deps, memory: Memory) -> None:
    def keep_searching(turn: Turn) -> list[Any]:
        return [call("search_conclusions", query="Lisbon")] if turn.tools else [answer("Lisbon")]

    for level in ("minimal", "low", "medium"):
        model = ScriptedModel([keep_searching])
        reply = await (await dialectic.prepare(with_model(deps, model), ChatRequest(
            memory.ws, "Where?", level=level, peer="alice"))).answer()
        rounds = deps.settings.dialectic.level(level).tool_rounds
        assert reply.tool_rounds == rounds and len(model.turns) == rounds + 1
        assert model.turns[-1].tools == [] and model.turns[-1].output_tools == ["answer"]
        assert f"at most {rounds} turn" in model.turns[0].instructions


async def test_text_next_to_tool_calls_is_not_taken_for_the_answer(deps: Deps, memory: Memory) -> None:
    def chatty(turn: Turn) -> list[Any]:
        if turn.results():
            return [answer("alice lives in Lisbon")]
        return [TextPart("Let me look that up."), call("search_conclusions", query="Lisbon")]

    for stream in (False, True):
        model = ScriptedModel([chatty])
        chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where?", peer="alice"))
        text = "".join([d async for d in chat.stream()]) if stream else (await chat.answer()).content
        assert text == "alice lives in Lisbon"


async def test_a_streamed_answer_arrives_in_pieces_and_is_generated_once(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([search_then_cite], chunk=5)
    llm_deps = with_model(deps, model)
    chat = await dialectic.prepare(llm_deps, ChatRequest(memory.ws, "Where does alice live?", peer="alice",
                                                         evidence=True))
    deltas = [d async for d in chat.stream()]
    assert len(deltas) > 3
    text = "".join(deltas)
    assert text.startswith("alice lives in Lisbon [") and memory.conclusions["lisbon"] in text
    assert len(model.turns) == 2  # one search turn, one answer turn: the answer was not asked for twice
    assert chat.reply is not None and chat.reply.content == text and chat.reply.evidence is not None
    assert [c["tool_name"] for c in chat.reply.evidence["tool_calls"]] == ["search_conclusions", "search_messages"]


async def test_the_question_is_never_cut_the_memory_is(deps: Deps, memory: Memory) -> None:
    question = "Where does alice live? " + " ".join(f"detail{i}" for i in range(2400))
    settings = deps.settings.model_copy(deep=True)
    settings.dialectic.context_tokens = 500
    small = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder, vectors_ready=deps.vectors_ready)
    model = ScriptedModel([lambda turn: [answer("Lisbon")]])
    chat = await dialectic.prepare(with_model(small, model), ChatRequest(memory.ws, question, peer="alice",
                                                                       session="trip", sessions=["trip"]))
    await chat.answer()
    prompt = model.turns[0].prompt
    assert prompt.endswith(f"Question: {question}")


async def test_a_session_brings_its_latest_messages_and_confines_recall(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([every_tool(memory)])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "What do they eat?",
                                                                      peer="alice", session="trip",
                                                                      sessions=["trip"], evidence=True))
    reply = await chat.answer()
    prompt = model.turns[0].prompt
    assert "Latest messages of this session (oldest first):" in prompt
    assert prompt.index("I moved to Lisbon") < prompt.index("pasteis de nata with coffee")
    assert "Bluebird" not in model.turns[-1].seen
    assert reply.evidence is not None
    assert memory.messages["I love pasteis de nata with coffee"]["id"] in {m["id"] for m in reply.evidence["messages"]}


async def test_peer_card_use_false_keeps_cards_out(client: httpx.AsyncClient, deps: Deps) -> None:
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    memory = await _seed(client, deps, ws)
    expect(await client.put(ws_url(ws), json={"configuration": {"peer_card": {"use": False}}}), 200)
    model = ScriptedModel([lambda turn: [call("search_conclusions", query="identity")],
                           lambda turn: [answer("?")]])
    await (await dialectic.prepare(with_model(deps, model), ChatRequest(ws, "Who is alice?", peer="alice"))).answer()
    assert "peer_card" not in model.turns[0].tools and "IDENTITY" not in model.turns[-1].seen
    assert memory.ws == ws


async def test_custom_instructions_of_the_dialectic_reach_the_model(client: httpx.AsyncClient, deps: Deps) -> None:
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    await _seed(client, deps, ws)
    config = {"dialectic": {"custom_instructions": "Answer in French."}}
    expect(await client.put(ws_url(ws), json={"configuration": config}), 200)
    model = ScriptedModel([lambda turn: [answer("Lisbonne")]])
    await (await dialectic.prepare(with_model(deps, model), ChatRequest(ws, "Where?", peer="alice"))).answer()
    assert "Instructions from the application:\nAnswer in French." in model.turns[0].instructions


async def test_workspace_chat_reads_every_peers_own_view(deps: Deps, memory: Memory) -> None:
    def step(turn: Turn) -> list[Any]:
        if turn.results():
            return [answer("done")]
        return [call("search_conclusions", query="Lisbon Bluebird", top_k=40), call("peer_card", peer_id="alice"),
                call("search_messages", query="Bluebird")]

    model = ScriptedModel([step])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Who works on Bluebird?"))
    await chat.answer()
    seen = model.turns[-1].seen
    assert {memory.conclusions["lisbon"], memory.conclusions["secret"]} <= ids_in(seen)
    assert memory.conclusions["bob_view"] not in ids_in(seen)  # bob's copy: the same fact seen by another peer
    assert "about alice" in seen and "Card about alice:\n- IDENTITY: alice" in seen
    assert "any peer of the workspace" in model.turns[0].instructions


async def test_structured_answers_validate_against_the_schema(deps: Deps, memory: Memory) -> None:
    schema = {"type": "object", "properties": {
        "city": {"type": "string", "description": "where the peer lives"},
        "confidence": {"enum": ["low", "high"]},
        "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
        "required": ["city", "confidence"]}
    answers = iter([{"city": "Lisbon"}, {"city": "Lisbon", "confidence": "certain"},
                    {"city": "Lisbon", "confidence": "high", "sources": ["x"]}])
    model = ScriptedModel([lambda turn: [answer(**next(answers))]])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(
        memory.ws, "Where does alice live?", peer="alice", output=output_model(schema)))
    reply = await chat.answer()
    assert json.loads(reply.content or "") == {"city": "Lisbon", "confidence": "high", "sources": ["x"]}
    assert len(model.turns) == 3  # two answers out of schema were re-asked
    offered = model.turns[0].info.output_tools[0].parameters_json_schema
    assert offered["properties"]["sources"]["minItems"] == 1  # a hint passed on, not enforced
    assert offered["properties"]["city"]["description"] == "where the peer lives"

    streamed = ScriptedModel([lambda turn: [answer(city="Lisbon", confidence="low")]])
    chat = await dialectic.prepare(with_model(deps, streamed), ChatRequest(
        memory.ws, "Where?", peer="alice", output=output_model(schema)))
    assert [d async for d in chat.stream()] == ['{"city": "Lisbon", "confidence": "low"}']


async def test_a_model_that_never_answers_well_is_a_502(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([lambda turn: [answer(wrong="shape")]])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "Where?", peer="alice"))
    with pytest.raises(LLMFailed):
        await chat.answer()


async def test_missing_target_or_session_is_404_after_the_peer_is_created(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([lambda turn: [answer("?")]])
    llm_deps = with_model(deps, model)
    with pytest.raises(NotFound, match="Peer nobody"):
        await dialectic.prepare(llm_deps, ChatRequest(memory.ws, "Q?", peer="newcomer", target="nobody"))
    async with deps.db.read() as conn:
        w = await workspace_repo.find(conn, memory.ws)
        assert "newcomer" in await peer_repo.find_many(conn, w.pk, ["newcomer"])
    with pytest.raises(NotFound, match="Session gone"):
        await dialectic.prepare(llm_deps, ChatRequest(memory.ws, "Q?", peer="alice", session="gone",
                                                      sessions=["gone"]))
    with pytest.raises(NotFound, match="Workspace"):
        await dialectic.prepare(llm_deps, ChatRequest("no-such-ws-" + uuid.uuid4().hex[:6], "Q?"))
    assert model.turns == []


async def test_with_nothing_in_memory_the_model_is_told_so_and_how_to_abstain(deps: Deps, memory: Memory) -> None:
    model = ScriptedModel([lambda turn: [answer("I don't have any information about that.")]])
    chat = await dialectic.prepare(with_model(deps, model), ChatRequest(memory.ws, "What is carol's favourite film?",
                                                                      peer="carol", evidence=True))
    reply = await chat.answer()
    (turn,) = model.turns
    assert "No conclusions were found close to the question." in turn.prompt
    assert "If memory holds nothing relevant, say so plainly" in turn.instructions
    assert reply.content == "I don't have any information about that."
    assert reply.evidence == {"conclusions": [], "messages": [], "tool_calls": [], "reasoning_trace_id": None}
