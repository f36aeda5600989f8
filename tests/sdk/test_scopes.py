"""Scopes through the official SDK, on both databases: every scope call the SDK has (`honcho.scope`,
`get_scope`, `scopes`, `scope.add_sessions`, `sessions`, `status`, `remove_session`, `honcho.session(scopes=)`)
and the `scope` read option of search, representation, session context and chat, parsed by the SDK's own
models. With reasoning on, a scope derives from messages written after its sessions joined and backfills a
session that joins with history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from honcho import Honcho, Scope
from honcho.api_types import SessionPeerConfig
from honcho.http.exceptions import NotFoundError
from sdk_helpers import assert_recent, eventually, ids

from fake_openai import FakeOpenAI, ToolCalls

pytestmark = pytest.mark.sdk

LINE = re.compile(r"^\[(\d+)\] \S+ \S+ ([\w-]+): (.*)$", re.MULTILINE)
FACT = re.compile(r"^- id:[\w-]{21} \|.* \| ([^|\n]+?)(?: \(seen \d+ times\))?(?: \[messages: [^\]]*\])?$",
                  re.MULTILINE)


def test_scope_calls(honcho: Honcho) -> None:
    therapy = honcho.scope("therapy", metadata={"kind": "care"})
    assert isinstance(therapy, Scope) and therapy.id == "therapy" and therapy.metadata == {"kind": "care"}
    assert therapy.created_at is not None
    assert_recent(therapy.created_at)
    fetched = honcho.get_scope("therapy")
    assert fetched.metadata == {"kind": "care"} and fetched.created_at == therapy.created_at
    with pytest.raises(NotFoundError):
        honcho.get_scope("nope")
    honcho.scope("work")
    assert ids(honcho.scopes()) == ["therapy", "work"]
    assert ids(honcho.scopes(reverse=True)) == ["work", "therapy"]

    alice = honcho.peer("alice")
    s1 = honcho.session("s1", peers=[alice])
    s1.add_messages([alice.message("I feel anxious before exams")])
    s2 = honcho.session("s2", peers=[alice])
    s2.add_messages([alice.message("I bake bread at work")])
    honcho.session("s3", scopes=["work", "fresh"])  # joins (and creates) scopes at creation
    assert ids(honcho.scope("fresh").sessions()) == ["s3"]

    therapy.add_sessions([s1, "s3"])
    therapy.add_sessions(["s1"])  # already a member: a no-op
    assert ids(therapy.sessions()) == ["s1", "s3"]
    assert ids(therapy.sessions(reverse=True)) == ["s3", "s1"]
    with pytest.raises(NotFoundError):
        therapy.add_sessions(["missing"])
    # s1 held messages, so it is backfilled (nothing to copy without reasoning: completed, 0 copied).
    status = eventually(lambda: (st := therapy.status()) and st["s1"].state == "completed" and st)
    assert status["s1"].docs_copied == 0 and "s3" not in status

    # Reads through a scope.
    found = honcho.search("anxious", scope="therapy")
    assert [m.session_id for m in found] == ["s1"]
    assert {m.session_id for m in honcho.search("bread", scope=therapy)} <= {"s1"}  # never s2
    assert "s2" in {m.session_id for m in honcho.search("bread")}
    assert alice.representation(scope="therapy") == ""
    assert alice.representation(scope=["therapy", "work"]) == ""
    ctx = s1.context(peer_target="alice", scope="therapy")
    assert not ctx.peer_representation and ctx.peer_card is None  # the SDK reads "" as None
    with pytest.raises(NotFoundError):
        honcho.search("anxious", scope="nope")

    therapy.remove_session(s1)
    assert ids(therapy.sessions()) == ["s3"]
    assert therapy.status() == {}
    with pytest.raises(NotFoundError):
        therapy.remove_session("s1")
    # Scopes are not peers.
    assert "scope.therapy" not in ids(honcho.peers())


# ------------------------------------------------------------------------------------- with reasoning on


def _text(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"] if m["role"] == role)


def stand_in(body: dict[str, Any]) -> Any:
    """Deriver: one fact per message of the target. Chat: the first fact memory showed. Else a summary."""
    system, user = _text(body, "system"), _text(body, "user")
    if system.startswith("You read part of a conversation"):
        target = re.search(r"Target peer: (\S+)", user).group(1)  # type: ignore[union-attr]
        return {"conclusions": [{"content": f"{target} said: {text}", "sources": [int(n)]}
                                for n, peer, text in LINE.findall(user) if peer == target], "card": []}
    tools = {t["function"]["name"] for t in body.get("tools") or []}
    if "answer" in tools or "Question: " in user:
        facts = FACT.findall(_text(body, "tool") + "\n" + user)
        answer = f"From memory: {facts[0]}" if facts else "Nothing known."
        return ToolCalls([("answer", {"answer": answer})]) if "answer" in tools else answer
    return "Summary: " + user[:200]


def _drained(honcho: Honcho) -> bool:
    status = honcho.queue_status()
    return status.pending_work_units == 0 and status.in_progress_work_units == 0


@pytest.fixture
def memory(reasoning_server: Any, chat_model: FakeOpenAI, make_client) -> Honcho:
    chat_model.responder = stand_in
    honcho = make_client(reasoning_server)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    clinic = honcho.session("clinic", scopes=["care"])  # joined before any message: derived for the scope
    clinic.add_peers([alice, (bob, SessionPeerConfig(observe_others=True))])
    clinic.add_messages([alice.message("I sleep badly before exams")])
    office = honcho.session("office")
    office.add_peers([alice])
    office.add_messages([alice.message("I lead the Bluebird project")])
    eventually(lambda: _drained(honcho), timeout=60)
    return honcho


def test_a_scope_derives_backfills_and_answers(memory: Honcho) -> None:
    alice, care = memory.peer("alice"), memory.get_scope("care")
    view = alice.representation(scope="care")
    assert "sleep badly" in view and "Bluebird" not in view
    assert "Bluebird" in alice.representation()  # the peer's own view is whole
    answer = alice.chat("What troubles alice?", scope="care", reasoning_level="minimal")
    assert isinstance(answer, str) and "Bluebird" not in answer
    confined = memory.chat("What is alice working on?", scope=["care"], reasoning_level="minimal")
    assert isinstance(confined, str) and "Bluebird" not in confined

    care.add_sessions(["office"])  # joins with history: its conclusions are copied in
    done = eventually(lambda: (st := care.status()).get("office") and st["office"].state == "completed" and st,
                      timeout=30)
    assert done["office"].docs_copied == 1
    assert "Bluebird" in alice.representation(scope="care")
    ctx = memory.session("office").context(peer_target="alice", scope=care)
    assert "Bluebird" in (ctx.peer_representation or "")

    care.remove_session("office")
    assert "Bluebird" not in alice.representation(scope="care")
    # The removal job deletes the copies (it is internal work, not counted in queue status).
    eventually(lambda: memory.conclusions.list(filters={"observer_id": "scope.care", "session_id": "office"}).items
               == [], timeout=30)
    assert "sleep badly" in alice.representation(scope="care")
