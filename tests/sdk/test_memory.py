"""The SDK's memory calls against a server without an LLM, on both databases: conclusions written through the
API (create / list / query / get / get_many / derived / delete), representation, peer card, peer context and
session context with a peer target. Every response must parse as SDK 2.7.0 expects (spec §12)."""

from __future__ import annotations

import pytest
from honcho import Honcho
from honcho.http.exceptions import NotFoundError, UnprocessableEntityError
from sdk_helpers import assert_recent, ids, unique


def test_conclusions_through_the_sdk(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session(unique("s"))
    session.add_peers([alice, bob])
    session.add_messages([alice.message("I drink green tea every morning"), bob.message("Nice")])

    created = alice.conclusions.create([
        {"content": "alice drinks green tea every morning", "session_id": session.id},
        {"content": "alice plays chess on weekends"},
    ])
    assert [c.content for c in created] == ["alice drinks green tea every morning", "alice plays chess on weekends"]
    tea, chess = created
    assert (tea.observer_id, tea.observed_id, tea.session_id, tea.level) == ("alice", "alice", session.id, "explicit")
    assert (tea.source_ids, tea.times_derived, chess.session_id) == (None, 1, None)
    assert_recent(tea.created_at)
    about_bob = alice.conclusions_of(bob).create([{"content": "bob says nice a lot"}])

    assert ids(alice.conclusions.list()) == [chess.id, tea.id]  # newest first
    assert ids(alice.conclusions.list(reverse=True)) == [tea.id, chess.id]
    assert ids(alice.conclusions.list(session=session.id)) == [tea.id]
    assert ids(alice.conclusions_of("bob").list()) == [about_bob[0].id]
    assert ids(honcho.conclusions.list(filters={"observed_id": "bob"})) == [about_bob[0].id]
    assert sorted(ids(alice.conclusions.get_many([tea.id, chess.id, about_bob[0].id]))) == sorted([tea.id, chess.id])
    assert ids(alice.conclusions.derived(tea.id)) == []

    found = alice.conclusions.query("chess on weekends", top_k=1)
    assert [c.id for c in found] == [chess.id]
    assert len(alice.conclusions.query("green tea", distance=1.0)) == 2

    got = honcho.conclusions.get(tea.id)
    assert (got.id, got.content, got.session_id, got.times_derived) == (tea.id, tea.content, session.id, 1)
    assert alice.conclusions.get(chess.id).content == chess.content
    with pytest.raises(NotFoundError):
        alice.conclusions_of("bob").get(chess.id)  # another collection: the SDK checks client-side

    alice.conclusions.delete(chess.id)
    with pytest.raises(NotFoundError):
        honcho.conclusions.get(chess.id)
    with pytest.raises(NotFoundError):
        alice.conclusions.delete(chess.id)
    assert ids(alice.conclusions.list()) == [tea.id]
    with pytest.raises(NotFoundError):
        honcho.peer("carol").conclusions_of("nobody").create([{"content": "x"}])
    with pytest.raises(UnprocessableEntityError):
        alice.conclusions.create([{"content": ""}])


def test_representation_card_and_context_through_the_sdk(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    trip, other = honcho.session(unique("trip")), honcho.session(unique("other"))
    for s in (trip, other):
        s.add_peers([alice, bob])
    trip.add_messages([alice.message("Hi bob, I live in Lisbon"), bob.message("I cook for a living")])
    alice.conclusions.create([{"content": "alice lives in Lisbon", "session_id": trip.id},
                              {"content": "alice likes hiking", "session_id": other.id}])
    alice.conclusions_of(bob).create([{"content": "bob is a cook", "session_id": trip.id}])

    rep = alice.representation()
    assert rep.startswith("## Explicit Observations") and "alice lives in Lisbon" in rep and "hiking" in rep
    assert "hiking" not in alice.representation(session=trip)
    assert "hiking" not in alice.representation(sessions=[trip.id])
    assert "bob is a cook" in alice.representation(target=bob, max_conclusions=5)
    assert "bob is a cook" in alice.conclusions_of(bob).representation(search_query="cook")
    assert honcho.peer("newcomer").representation() == ""

    assert alice.get_card() is None
    assert alice.set_card(["Name: Alice", "Lives in Lisbon"]) == ["Name: Alice", "Lives in Lisbon"]
    assert alice.get_card() == ["Name: Alice", "Lives in Lisbon"]
    assert alice.set_card(["Bob: a cook"], target=bob) == ["Bob: a cook"]
    assert alice.get_card(target="bob") == ["Bob: a cook"]

    ctx = alice.context()
    assert (ctx.peer_id, ctx.target_id, ctx.peer_card) == ("alice", "alice", ["Name: Alice", "Lives in Lisbon"])
    assert "alice lives in Lisbon" in (ctx.representation or "")
    of_bob = alice.context(target=bob, search_query="cook", search_top_k=1, include_most_frequent=True)
    assert (of_bob.target_id, of_bob.peer_card) == ("bob", ["Bob: a cook"])
    with pytest.raises(NotFoundError):
        _context_of_missing(honcho)

    context = trip.context(peer_target="alice", tokens=2000)
    assert [m.content for m in context.messages] == ["Hi bob, I live in Lisbon", "I cook for a living"]
    assert context.summary is None
    assert "alice lives in Lisbon" in (context.peer_representation or "")
    assert context.peer_card == ["Name: Alice", "Lives in Lisbon"]
    seen = trip.context(peer_target="bob", peer_perspective="alice", limit_to_session=True)
    assert "bob is a cook" in (seen.peer_representation or "") and seen.peer_card is None
    confined = trip.context(peer_target="alice", sessions=[trip.id, other.id], search_query="Lisbon")
    assert "hiking" in (confined.peer_representation or "") and confined.peer_card is None
    assert trip.summaries().short_summary is None

    status = honcho.queue_status()
    assert status.pending_work_units >= 0  # parses; the server also says whether reasoning runs


def _context_of_missing(honcho: Honcho) -> None:
    """Peer context of a peer that does not exist (the SDK's peer() would create it, so ask over HTTP)."""
    honcho._http.get(f"/v3/workspaces/{honcho.workspace_id}/peers/ghost/context")
