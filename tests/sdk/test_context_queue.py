"""Queue status, session summaries and session context without an LLM (no peer_target)."""

from __future__ import annotations

import pytest
from honcho import Session
from honcho.api_types import QueueStatusResponse
from sdk_helpers import contents, unique

pytestmark = pytest.mark.sdk

COUNTERS = ("total_work_units", "completed_work_units", "in_progress_work_units", "pending_work_units")


def _assert_counters(status: QueueStatusResponse) -> None:
    values = [getattr(status, c) for c in COUNTERS]
    assert all(type(v) is int and v >= 0 for v in values), values
    assert status.total_work_units == (
        status.completed_work_units + status.in_progress_work_units + status.pending_work_units)


def test_queue_status_after_messages(honcho):
    s = honcho.session(unique("s"))
    idle = honcho.session(unique("idle"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    s.add_messages([alice.message("I love hiking in the Alps."), bob.message("Which trail is your favourite?")])

    ws_status = honcho.queue_status()
    _assert_counters(ws_status)
    assert ws_status.total_work_units >= 1  # jobs are enqueued with the messages
    if ws_status.sessions is not None:
        for entry in ws_status.sessions.values():
            assert all(type(getattr(entry, c)) is int for c in COUNTERS)

    sess_status = s.queue_status()
    _assert_counters(sess_status)
    assert sess_status.total_work_units >= 1
    assert sess_status.sessions is None  # filtered by session

    by_session = honcho.queue_status(session=s.id)
    _assert_counters(by_session)
    assert by_session.total_work_units >= 1 and by_session.sessions is None

    empty = idle.queue_status()
    _assert_counters(empty)
    assert empty.total_work_units == 0

    _assert_counters(honcho.queue_status(sender="alice"))
    _assert_counters(honcho.queue_status(observer="alice"))
    _assert_counters(s.queue_status(observer=alice, sender=alice))


def test_queue_status_of_fresh_workspace_is_zero(honcho):
    status = honcho.queue_status()
    _assert_counters(status)
    assert status.total_work_units == 0


def test_no_background_work_when_reasoning_and_summaries_disabled(honcho):
    """Representation work only when reasoning is enabled; summaries only every N messages (spec 15.1);
    embedding work is always queued and counted (it makes messages searchable)."""
    honcho.set_configuration({"reasoning": {"enabled": False}, "summary": {"enabled": False}})
    s = honcho.session(unique("s"))
    s.add_messages([honcho.peer("alice").message(f"note {i}") for i in range(3)])
    status = s.queue_status()
    _assert_counters(status)
    # Only the batch's embedding job remains: no representation work, no summary at 3 messages.
    assert status.total_work_units == 1, f"expected just the embedding job: {status}"
    assert honcho.queue_status().total_work_units == 1


def test_summaries_without_llm_are_null(honcho):
    s = honcho.session(unique("s"))
    s.add_messages([honcho.peer("alice").message(f"line {i}") for i in range(5)])
    summaries = s.summaries()
    assert summaries.id == s.id
    assert summaries.short_summary is None and summaries.long_summary is None

    unknown = Session("never-created", honcho).summaries()
    assert unknown.id == "never-created"
    assert unknown.short_summary is None and unknown.long_summary is None


def test_context_returns_messages_within_token_budget(honcho):
    s = honcho.session(unique("s"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    texts = ["Hi there!", "I just adopted a dog named Biscuit, he is a golden retriever.", "Cool, how old?",
             "Two years old, and full of energy every single morning.", "Nice.",
             "We go running by the river at seven."]
    sent = s.add_messages([(alice if i % 2 == 0 else bob).message(t) for i, t in enumerate(texts)])
    counts = [m.token_count for m in sent]
    assert all(c > 0 for c in counts)

    ctx = s.context()
    assert ctx.session_id == s.id
    assert contents(ctx.messages) == texts
    assert [m.id for m in ctx.messages] == [m.id for m in sent]
    assert ctx.summary is None
    assert ctx.peer_representation is None and ctx.peer_card is None

    assert contents(s.context(summary=False).messages) == texts

    budget = sum(counts[-3:])
    assert contents(s.context(tokens=budget).messages) == texts[-3:]
    assert contents(s.context(tokens=budget - 1).messages) == texts[-2:]
    assert contents(s.context(tokens=sum(counts)).messages) == texts
    assert contents(s.context(tokens=counts[-1]).messages) == texts[-1:]
    if counts[-1] > 1:
        assert s.context(tokens=counts[-1] - 1).messages == []

    # the SDK converts context to chat formats client-side; the data must support it
    openai = ctx.to_openai(assistant=bob)
    assert [m["role"] for m in openai] == ["user", "assistant"] * 3


def test_context_of_unknown_session_is_empty(honcho):
    ctx = Session("never-created", honcho).context()
    assert ctx.messages == [] and ctx.summary is None
