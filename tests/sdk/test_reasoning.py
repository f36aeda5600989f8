"""Derived knowledge through the official SDK, on both databases: a live server whose LLM is a loopback
OpenAI-compatible fake. Messages go in through the SDK; the server's own worker derives conclusions, peer cards
and summaries; the SDK's conclusions, representation, card, peer context, session context and summaries calls
return them (and every response parses)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from honcho import Honcho
from honcho.api_types import SessionPeerConfig
from sdk_helpers import eventually

from fake_openai import FakeOpenAI

LINE = re.compile(r"^\[(\d+)\] \S+ \S+ ([\w-]+): (.*)$", re.MULTILINE)


def _prompt(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m["content"]) for m in body["messages"] if m["role"] == role)


def stand_in_model(body: dict[str, Any]) -> Any:
    """Deriver: one fact per message of the target, and a card line when a name is given. Summaries: the
    conversation's contents, briefly."""
    system, user = _prompt(body, "system"), _prompt(body, "user")
    if system.startswith("You consolidate"):
        lisbon = [int(n) for n, text in re.findall(r"^\[(\d+)\] [^:]*: (.*)$", user, re.M) if "Lisbon" in text]
        return {"deductions": [{"content": "alice lives in Portugal", "premises": lisbon[:1]}],
                "card": ["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]}
    if system.startswith("You read part of a conversation"):
        target = re.search(r"Target peer: (\S+)", user).group(1)  # type: ignore[union-attr]
        facts = [{"content": f"{target} said: {text}", "sources": [int(n)]}
                 for n, peer, text in LINE.findall(user) if peer == target]
        card = [f"IDENTITY: {target} is called {m}" for m in re.findall(r"my name is (\w+)", user, re.I)]
        return {"conclusions": facts, "card": card}
    said = re.findall(r"\] \S+: (.*)", user) or re.findall(r": (.*)", user)
    return "Summary: " + "; ".join(said)[:400]


@pytest.fixture
def model(chat_model: FakeOpenAI) -> FakeOpenAI:
    chat_model.responder = stand_in_model
    return chat_model


def _drained(honcho: Honcho) -> bool:
    status = honcho.queue_status()
    return status.pending_work_units == 0 and status.in_progress_work_units == 0


def test_the_sdk_reads_back_derived_knowledge(reasoning_server: Any, model: FakeOpenAI,
                                              make_client) -> None:
    honcho = make_client(reasoning_server)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session("trip", configuration={"summary": {"messages_per_short_summary": 10,
                                                                "messages_per_long_summary": 20}})
    session.add_peers([alice, (bob, SessionPeerConfig(observe_others=True))])
    lines = ["Hi, my name is Alice and I live in Lisbon", "I am planning a trip to Kyoto in April",
             "My sister Joan is coming with me", "I am allergic to peanuts", "I work as a pharmacist"]
    messages = []
    for i in range(20):
        messages.append(alice.message(lines[i % len(lines)] + f" (note {i})") if i % 2 == 0
                        else bob.message(f"That sounds great, tell me more (reply {i})"))
    session.add_messages(messages)
    eventually(lambda: _drained(honcho), timeout=60)

    own = alice.conclusions.list()
    assert any("alice said: I live in Lisbon" in c.content or "Lisbon" in c.content for c in own)
    assert all(c.observer_id == "alice" and c.observed_id == "alice" and c.times_derived >= 1 for c in own)
    seen_by_bob = bob.conclusions_of("alice").list()
    assert {c.content for c in seen_by_bob} == {c.content for c in own}  # bob observes others
    hit = alice.conclusions.query("Lisbon", top_k=3)
    assert hit and "Lisbon" in hit[0].content
    assert alice.conclusions.get(hit[0].id).id == hit[0].id

    representation = alice.representation()
    assert "## Explicit Observations" in representation and "Lisbon" in representation
    assert re.search(r"messages: [\w-]{21}", representation)  # conclusions cite their source messages
    assert any("Alice" in line for line in alice.get_card() or [])

    context = alice.context()
    assert context.representation and "Kyoto" in context.representation

    summaries = session.summaries()
    assert summaries.short_summary is not None and summaries.long_summary is not None
    assert summaries.short_summary.content.startswith("Summary:")

    ctx = session.context(peer_target="alice", summary=True, tokens=4000)
    assert ctx.summary is not None and ctx.peer_representation and "Lisbon" in ctx.peer_representation
    assert ctx.peer_card and ctx.messages
    from_bob = session.context(peer_target="alice", peer_perspective="bob", tokens=4000)
    assert from_bob.peer_representation and "Lisbon" in from_bob.peer_representation


def test_schedule_dream_consolidates_through_the_sdk(reasoning_server: Any, model: FakeOpenAI, make_client) -> None:
    honcho = make_client(reasoning_server)
    alice = honcho.peer("alice")
    session = honcho.session("home")
    session.add_messages([alice.message("Hi, my name is Alice and I live in Lisbon")])
    eventually(lambda: _drained(honcho), timeout=60)
    honcho.schedule_dream(alice)
    eventually(lambda: _drained(honcho), timeout=60)
    deduced = [c for c in alice.conclusions.list() if c.level == "deductive"]
    assert [c.content for c in deduced] == ["alice lives in Portugal"]
    (premise,) = deduced[0].source_ids or []
    assert "Lisbon" in alice.conclusions.get(premise).content
    assert alice.get_card() == ["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]
