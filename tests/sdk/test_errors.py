"""Error classes raised by the SDK, and that rejected requests leave the database unchanged."""

from __future__ import annotations

import pytest
from honcho import Peer, Session
from honcho.api_types import SessionPeerConfig
from honcho.http.exceptions import BadRequestError, NotFoundError
from sdk_helpers import CLIENT_ERRORS, contents, ids, unique

pytestmark = pytest.mark.sdk

BAD_IDS = ["bad id!", "slash/inside", "dot.ted", "x" * 513]


def _meta(n: int) -> dict[str, int]:
    return {f"k{i}": i for i in range(n)}


def _nested(depth: int) -> dict:
    """A metadata object whose nesting depth is ``depth`` (the top-level object is depth 1)."""
    d: dict = {"leaf": 1}
    for _ in range(depth - 1):
        d = {"n": d}
    return d


@pytest.mark.parametrize("bad", BAD_IDS, ids=["space-bang", "slash", "dot", "too-long"])
def test_invalid_ids_are_rejected(honcho, make_client, server, bad):
    with pytest.raises(CLIENT_ERRORS):
        honcho.peer(bad)
    with pytest.raises(CLIENT_ERRORS):
        honcho.session(bad)
    assert ids(honcho.peers()) == []
    assert ids(honcho.sessions()) == []

    bad_ws = make_client(server, workspace_id=bad)
    with pytest.raises(CLIENT_ERRORS):
        bad_ws.get_metadata()
    assert bad not in list(honcho.workspaces(filters={"id": bad}))


def test_invalid_peer_names_elsewhere_are_rejected(honcho):
    s = honcho.session(unique("s"))
    good = honcho.peer("alice")
    with pytest.raises(CLIENT_ERRORS):  # invalid author, together with a valid message: all or nothing
        s.add_messages([good.message("fine"), Peer("bad id!", honcho).message("not fine")])
    with pytest.raises(CLIENT_ERRORS):
        s.add_peers(["bob", "bad id!"])
    with pytest.raises(CLIENT_ERRORS):
        honcho.session(unique("s2"), peers=["carol", "bad id!"])
    assert list(s.messages()) == []
    assert ids(honcho.peers()) == ["alice"]
    assert ids(honcho.sessions()) == [s.id]
    assert s.peers() == []


def test_oversize_metadata_rejected_everywhere(honcho):
    big = _meta(101)
    # creates
    with pytest.raises(CLIENT_ERRORS):
        honcho.peer("p-big", metadata=big)
    with pytest.raises(CLIENT_ERRORS):
        honcho.session("s-big", metadata=big)
    assert ids(honcho.peers()) == [] and ids(honcho.sessions()) == []

    # updates leave the stored value alone
    honcho.set_metadata({"ws": 1})
    with pytest.raises(CLIENT_ERRORS):
        honcho.set_metadata(big)
    assert honcho.get_metadata() == {"ws": 1}

    alice = honcho.peer("alice", metadata={"p": 1})
    with pytest.raises(CLIENT_ERRORS):
        alice.set_metadata(big)
    assert alice.get_metadata() == {"p": 1}
    with pytest.raises(CLIENT_ERRORS):
        honcho.peer("alice", metadata=big)
    assert alice.get_metadata() == {"p": 1}

    s = honcho.session(unique("s"), metadata={"s": 1})
    with pytest.raises(CLIENT_ERRORS):
        s.set_metadata(big)
    assert s.get_metadata() == {"s": 1}

    with pytest.raises(CLIENT_ERRORS):
        s.add_messages([alice.message("ok"), alice.message("too much", metadata=big)])
    assert list(s.messages()) == []

    [m] = s.add_messages(alice.message("kept", metadata={"m": 1}))
    with pytest.raises(CLIENT_ERRORS):
        s.update_message(m, metadata=big)
    assert s.get_message(m.id).metadata == {"m": 1}

    # the limits themselves are accepted
    assert honcho.peer("p100", metadata=_meta(100)).metadata == _meta(100)
    s.set_metadata(_nested(5))
    assert s.get_metadata() == _nested(5)


def test_too_deep_metadata_rejected(honcho):
    with pytest.raises(CLIENT_ERRORS):
        honcho.peer("deep", metadata=_nested(6))
    s = honcho.session(unique("s"))
    with pytest.raises(CLIENT_ERRORS):
        s.set_metadata(_nested(6))
    assert s.get_metadata() == {}
    assert ids(honcho.peers()) == []


@pytest.mark.parametrize("filters", [
    {"id": {"regex": "a.*"}},                 # unknown operator
    {"id": {"gte": "a", "bogus": 1}},         # one unknown operator among known ones
    {"peer_id": "alice"},                     # not a peer column (filter peers by id)
    {"nonexistent": 1},
    {"AND": {"id": "alice"}},                 # logical operators take arrays
    {"NOT": None},
    {"created_at": {"gte": "not-a-date"}},
    {"id": {"in": "alice"}},                  # `in` needs an array
    {"id": {"contains": None}},               # only ne may take null
    {"metadata": {"gt": 1}},                  # comparison on the whole JSON column
    {"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"id": "a"}]}]}]}]}]}]},  # nesting > 5
], ids=["unknown-op", "mixed-ops", "peer_id-on-peers", "unknown-field", "and-not-list", "not-null",
        "bad-datetime", "in-not-list", "contains-null", "json-gt", "too-deep"])
def test_invalid_peer_filters_rejected(honcho, filters):
    honcho.peer("alice")
    with pytest.raises(CLIENT_ERRORS):
        list(honcho.peers(filters=filters))


@pytest.mark.parametrize("filters", [
    {"content": "hello"},                     # messages cannot be filtered by content
    {"id": "x"},                              # ... nor by id
    {"token_count": {"gt": "many"}},
    {"peer_id": {"contains": 3}},
], ids=["content", "id", "int-field-text", "text-op-number"])
def test_invalid_message_filters_rejected(honcho, filters):
    s = honcho.session(unique("s"))
    s.add_messages(honcho.peer("alice").message("hello"))
    with pytest.raises(CLIENT_ERRORS):
        list(s.messages(filters=filters))


def test_invalid_session_and_workspace_filters_rejected(honcho):
    honcho.session(unique("s"))
    with pytest.raises(CLIENT_ERRORS):
        list(honcho.sessions(filters={"is_active": "true"}))  # bool field needs a JSON bool
    with pytest.raises(CLIENT_ERRORS):
        list(honcho.sessions(filters={"id": {"between": [1, 2]}}))
    with pytest.raises(CLIENT_ERRORS):
        list(honcho.workspaces(filters={"name": honcho.workspace_id}))  # workspaces filter by id


def test_not_found_errors(honcho):
    s = honcho.session(unique("s"))
    with pytest.raises(NotFoundError):
        s.get_message("AAAAAAAAAAAAAAAAAAAAA")
    ghost = Session("ghost-session", honcho)
    honcho.peer("alice")
    with pytest.raises(NotFoundError):
        ghost.get_peer_configuration("alice")
    with pytest.raises(NotFoundError):
        ghost.set_peer_configuration("alice", SessionPeerConfig(observe_me=False))
    with pytest.raises(NotFoundError):
        s.set_peer_configuration("nobody", SessionPeerConfig(observe_me=False))
    with pytest.raises(NotFoundError):
        ghost.set_peers(["alice"])  # PUT peers requires the session
    with pytest.raises(NotFoundError):
        ghost.remove_peers(["alice"])
    assert ids(honcho.sessions()) == [s.id]  # nothing was created on the way
    assert ids(honcho.peers()) == ["alice"]


def test_observer_limit_is_400_and_atomic(honcho):
    observers = [(f"obs{i}", SessionPeerConfig(observe_others=True)) for i in range(11)]
    with pytest.raises(BadRequestError):
        honcho.session("too-many", peers=observers)
    assert ids(honcho.sessions()) == []

    s = honcho.session(unique("s"), peers=[*observers[:10], "quiet"])
    assert len(s.peers()) == 11
    with pytest.raises(BadRequestError):
        s.add_peers([observers[10]])
    assert len(s.peers()) == 11
    with pytest.raises(BadRequestError):
        s.set_peer_configuration("quiet", SessionPeerConfig(observe_others=True))
    assert s.get_peer_configuration("quiet").observe_others in (None, False)
    # non-observers are not limited
    s.add_peers(["watcher-free-1", "watcher-free-2"])
    assert len(s.peers()) == 13


def test_message_batch_rejected_as_a_whole(honcho):
    s = honcho.session(unique("s"))
    alice = honcho.peer("alice")
    with pytest.raises(CLIENT_ERRORS):
        s.add_messages([alice.message("ok")] * 50 + [alice.message("x" * 25_001)])
    assert list(s.messages()) == []
    [m] = s.add_messages(alice.message("y" * 25_000))  # the limit itself is fine
    assert len(m.content) == 25_000
    assert contents(s.messages()) == ["y" * 25_000]


def test_observer_limit_counts_active_members_only(honcho):
    observers = [(f"obs{i}", SessionPeerConfig(observe_others=True)) for i in range(10)]
    s = honcho.session(unique("s"), peers=observers)
    s.remove_peers("obs0")
    s.add_peers([("late", SessionPeerConfig(observe_others=True))])  # obs0 left: room for one more
    assert "late" in ids(s.peers()) and "obs0" not in ids(s.peers())


def test_context_token_cap(honcho):
    s = honcho.session(unique("s"))
    s.add_messages(honcho.peer("alice").message("hello"))
    assert len(s.context(tokens=100_000).messages) == 1
    with pytest.raises(CLIENT_ERRORS):
        s.context(tokens=100_001)  # above GET_CONTEXT_MAX_TOKENS (spec 7.12)


def test_custom_instructions_token_budget(honcho):
    too_long = "remember " * 3000  # well over 2000 o200k tokens
    with pytest.raises(CLIENT_ERRORS):
        honcho.set_configuration({"reasoning": {"custom_instructions": too_long}})
    s = honcho.session(unique("s"))
    with pytest.raises(CLIENT_ERRORS):
        s.set_configuration({"reasoning": {"custom_instructions": too_long}})
    assert honcho.get_configuration().model_dump(exclude_none=True) == {}
    assert s.get_configuration().model_dump(exclude_none=True) == {}
    honcho.set_configuration({"reasoning": {"custom_instructions": "remember " * 100}})
