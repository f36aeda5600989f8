"""Dialectic chat through the official SDK, on both databases: a live server whose LLM is the loopback
OpenAI-compatible fake (tool calls, and answers streamed as chunks). Memory is derived by the server's own worker
from messages sent through the SDK; `peer.chat`, `peer.chat_stream`, `honcho.chat` and `honcho.chat_stream` then
answer from it, with evidence the SDK parses, structured answers it validates, and its own SSE parser reading the
stream."""

from __future__ import annotations

from typing import Any

import pytest
from honcho import Honcho
from honcho.api_types import SessionPeerConfig
from honcho.http.exceptions import NotFoundError
from pydantic import BaseModel
from sdk_helpers import eventually

from fake_openai import FakeOpenAI
from stand_in_model import stand_in_model, tools_of


class Where(BaseModel):
    summary: str
    mentions_lisbon: bool


@pytest.fixture
def model(chat_model: FakeOpenAI) -> FakeOpenAI:
    chat_model.responder = stand_in_model
    chat_model.stream_delay = 0.002
    return chat_model


def _drained(honcho: Honcho) -> bool:
    status = honcho.queue_status()
    return status.pending_work_units == 0 and status.in_progress_work_units == 0


@pytest.fixture
def memory(reasoning_server: Any, model: FakeOpenAI, make_client) -> Honcho:
    honcho = make_client(reasoning_server)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    trip = honcho.session("trip")
    trip.add_peers([alice, (bob, SessionPeerConfig(observe_others=True))])
    trip.add_messages([alice.message("I moved to Lisbon last spring"), bob.message("How do you like it there?"),
                       alice.message("I love the pasteis de nata")])
    work = honcho.session("work")
    work.add_peers([alice])
    work.add_messages([alice.message("My secret project is called Bluebird")])
    eventually(lambda: _drained(honcho), timeout=60)
    return honcho


def test_peer_chat_answers_from_derived_memory_with_evidence(memory: Honcho, model: FakeOpenAI) -> None:
    alice = memory.peer("alice")
    answer = alice.chat("Where does alice live, Lisbon?")
    assert isinstance(answer, str) and answer.startswith("From memory: alice said:")
    reply = alice.chat("Where does alice live, Lisbon?", include_evidence=True, reasoning_level="minimal")
    assert reply.content and reply.evidence is not None
    assert [t.tool_name for t in reply.evidence.tool_calls] == ["search_conclusions", "search_messages"]
    cited = reply.evidence.conclusions[0]
    assert cited.observer_id == "alice" and cited.observed_id == "alice" and cited.level == "explicit"
    assert alice.conclusions.get(cited.id).content == cited.content
    assert {m.peer_id for m in reply.evidence.messages} <= {"alice", "bob"}
    chat_requests = [b for b in model.chat_requests if "answer" in tools_of(b)]
    assert chat_requests[-1]["messages"][0]["role"] == "system"


def test_peer_chat_stream_is_parsed_by_the_sdk(memory: Honcho) -> None:
    alice = memory.peer("alice")
    stream = alice.chat_stream("Where does alice live, Lisbon?", include_evidence=True)
    chunks = list(stream)
    assert len(chunks) > 2
    assert "".join(chunks) == stream.get_final_response()["content"]
    assert "".join(chunks).startswith("From memory: alice said:")
    assert stream.is_complete and stream.evidence is not None and stream.evidence.conclusions


def test_a_directional_chat_with_a_session_allowlist(memory: Honcho) -> None:
    bob = memory.peer("bob")
    answer = bob.chat("Does alice have a secret project?", target="alice", sessions=["trip"])
    assert answer and "Bluebird" not in answer
    reply = memory.peer("alice").chat("What is the secret project?", session="work", include_evidence=True)
    assert reply.evidence is not None and {c.session_id for c in reply.evidence.conclusions} <= {"work"}


def test_structured_answers_are_validated_by_the_sdk(memory: Honcho) -> None:
    alice = memory.peer("alice")
    found = alice.chat("Where does alice live, Lisbon?", response_format=Where)
    assert isinstance(found, Where) and found.mentions_lisbon and "Lisbon" in found.summary
    streamed = "".join(alice.chat_stream("Where does alice live, Lisbon?", response_format=Where))
    assert Where.model_validate_json(streamed).mentions_lisbon


def test_workspace_chat_and_its_stream(memory: Honcho) -> None:
    answer = memory.chat("Who moved to Lisbon?")
    assert isinstance(answer, str) and "Lisbon" in answer
    stream = memory.chat_stream("Who moved to Lisbon?", include_evidence=True)
    assert "Lisbon" in "".join(stream) and stream.evidence is not None


def test_an_unknown_target_is_a_not_found_error(memory: Honcho) -> None:
    with pytest.raises(NotFoundError):
        memory.peer("alice").chat("Who?", target="nobody")
    with pytest.raises(NotFoundError):
        list(memory.peer("alice").chat_stream("Who?", target="nobody"))
