"""Sessions through the SDK: create, metadata/configuration, listing, membership, peer config, clone, delete."""

from __future__ import annotations

import pytest
from honcho import Session
from honcho.api_types import SessionConfiguration, SessionPeerConfig
from honcho.http.exceptions import NotFoundError
from sdk_helpers import assert_recent, contents, eventually, ids, unique

pytestmark = pytest.mark.sdk


def _peer_ids(session) -> set[str]:
    return set(ids(session.peers()))


def test_session_create_with_peers_metadata_and_configuration(honcho):
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    cfg = {"reasoning": {"enabled": False}, "summary": {"messages_per_short_summary": 15}}
    s = honcho.session("chat-1", metadata={"channel": "web"}, configuration=cfg,
                       peers=[alice, (bob, SessionPeerConfig(observe_others=True, observe_me=False))])
    assert s.id == "chat-1" and s.is_active is True
    assert s.metadata == {"channel": "web"}
    assert isinstance(s.configuration, SessionConfiguration)
    assert s.configuration.model_dump(exclude_none=True) == cfg
    assert_recent(s.created_at)
    assert isinstance(s.uid, str) and s.uid

    assert _peer_ids(s) == {"alice", "bob"}
    bob_cfg = s.get_peer_configuration(bob)
    assert bob_cfg.observe_others is True and bob_cfg.observe_me is False
    assert s.get_peer_configuration("alice").observe_others in (None, False)

    # a second get-or-create without fields returns the stored state
    again = honcho.session("chat-1")
    assert again.metadata == {"channel": "web"}
    assert again.configuration.model_dump(exclude_none=True) == cfg
    assert again.uid == s.uid and again.created_at == s.created_at
    # get-or-create with peers adds them; existing members keep their configuration
    honcho.session("chat-1", peers=["carol", ("bob", SessionPeerConfig(observe_others=False))])
    assert _peer_ids(s) == {"alice", "bob", "carol"}
    assert s.get_peer_configuration(bob).observe_others is True


def test_session_metadata_and_configuration_round_trip(honcho):
    s = honcho.session(unique("s"))
    assert s.get_metadata() == {}
    assert s.get_configuration().model_dump(exclude_none=True) == {}

    s.set_metadata({"topic": "travel", "nested": {"a": [1, 2]}})
    assert s.get_metadata() == {"topic": "travel", "nested": {"a": [1, 2]}}
    s.set_metadata({"topic": "food"})
    assert s.get_metadata() == {"topic": "food"}

    s.set_configuration({"reasoning": {"enabled": False}, "summary": {"messages_per_short_summary": 15}})
    s.set_configuration({"peer_card": {"use": False}})  # shallow merge keeps the other sections
    assert s.get_configuration().model_dump(exclude_none=True) == {
        "reasoning": {"enabled": False}, "summary": {"messages_per_short_summary": 15},
        "peer_card": {"use": False}}
    s.set_configuration({"reasoning": {"custom_instructions": "Be terse."}})  # section replaced wholesale
    assert s.get_configuration().model_dump(exclude_none=True) == {
        "reasoning": {"custom_instructions": "Be terse."}, "summary": {"messages_per_short_summary": 15},
        "peer_card": {"use": False}}
    assert s.get_metadata() == {"topic": "food"}

    # get-or-create with metadata replaces it, with configuration merges it (top-level keys)
    assert honcho.session(s.id, metadata={"v": 1}).metadata == {"v": 1}
    merged = honcho.session(s.id, configuration={"dream": {"enabled": False}})
    assert merged.metadata == {"v": 1}
    assert merged.configuration.model_dump(exclude_none=True) == {
        "reasoning": {"custom_instructions": "Be terse."}, "summary": {"messages_per_short_summary": 15},
        "peer_card": {"use": False}, "dream": {"enabled": False}}


def test_set_metadata_creates_missing_session(honcho):
    """PUT /sessions/{id} is an upsert (spec 7.3)."""
    s = Session("made-by-put", honcho)
    s.set_metadata({"x": 1})
    assert ids(honcho.sessions()) == ["made-by-put"]
    assert s.get_metadata() == {"x": 1}


def test_list_sessions_with_filters(honcho):
    a = honcho.session("sa", metadata={"topic": "travel", "prio": 1})
    b = honcho.session("sb", metadata={"topic": "food", "prio": 2})
    c = honcho.session("sc", metadata={"topic": "travel", "prio": 3})

    assert ids(honcho.sessions()) == [a.id, b.id, c.id]
    assert ids(honcho.sessions(reverse=True)) == [c.id, b.id, a.id]
    assert ids(honcho.sessions(filters={"metadata": {"topic": "travel"}})) == [a.id, c.id]
    assert ids(honcho.sessions(filters={"metadata": {"prio": {"gt": 1}}})) == [b.id, c.id]
    assert ids(honcho.sessions(filters={"id": "sb"})) == [b.id]
    assert ids(honcho.sessions(filters={"is_active": True})) == [a.id, b.id, c.id]
    page = honcho.sessions(size=2)
    assert page.total == 3 and page.pages == 2 and ids(page) == [a.id, b.id, c.id]
    listed = honcho.sessions(filters={"id": "sc"}).items[0]
    assert listed.metadata == {"topic": "travel", "prio": 3} and listed.is_active is True


def test_add_set_remove_peers(honcho):
    s = honcho.session(unique("s"))
    assert s.peers() == []
    s.add_peers(["alice", "bob"])
    assert _peer_ids(s) == {"alice", "bob"}
    s.add_peers(honcho.peer("carol"))
    assert _peer_ids(s) == {"alice", "bob", "carol"}
    s.remove_peers(["bob"])
    assert _peer_ids(s) == {"alice", "carol"}
    s.remove_peers("nobody")  # unknown ids are ignored
    assert _peer_ids(s) == {"alice", "carol"}
    s.set_peers(["dave", "alice"])
    assert _peer_ids(s) == {"alice", "dave"}
    s.set_peers("erin")
    assert _peer_ids(s) == {"erin"}
    # peers added through a session exist in the workspace
    assert set(ids(honcho.peers())) == {"alice", "bob", "carol", "dave", "erin"}
    # removed peers may re-join
    s.add_peers("bob")
    assert _peer_ids(s) == {"erin", "bob"}
    s.set_peers([])  # an empty set ends every membership
    assert s.peers() == []


def test_add_peers_creates_missing_session(honcho):
    s = Session("lazy", honcho)
    s.add_peers("alice")
    assert ids(honcho.sessions()) == ["lazy"]
    assert _peer_ids(s) == {"alice"}


def test_session_peer_configuration(honcho):
    s = honcho.session(unique("s"), peers=["alice", ("bob", SessionPeerConfig(observe_others=True))])

    s.set_peer_configuration("alice", SessionPeerConfig(observe_others=True))
    cfg = s.get_peer_configuration("alice")
    assert cfg.observe_others is True
    s.set_peer_configuration("alice", SessionPeerConfig(observe_me=False))  # merged, not replaced
    cfg = s.get_peer_configuration("alice")
    assert cfg.observe_others is True and cfg.observe_me is False

    # adding an already-active member keeps its configuration
    s.add_peers([("bob", SessionPeerConfig(observe_others=False))])
    assert s.get_peer_configuration("bob").observe_others is True
    # set_peers makes everybody re-join with the configuration given there
    s.set_peers([("bob", SessionPeerConfig(observe_others=False, observe_me=True)), "alice"])
    bob = s.get_peer_configuration("bob")
    assert bob.observe_others is False and bob.observe_me is True

    # a peer that exists but never joined has no configuration in this session
    honcho.peer("carol")
    with pytest.raises(NotFoundError):
        s.get_peer_configuration("carol")
    # setting it creates the membership
    s.set_peer_configuration("carol", SessionPeerConfig(observe_me=False))
    assert "carol" in _peer_ids(s)
    assert s.get_peer_configuration("carol").observe_me is False


def _seed(honcho, session, n: int = 5):
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    msgs = [(alice if i % 2 == 0 else bob).message(f"message {i}", metadata={"i": i}) for i in range(n)]
    return session.add_messages(msgs)


def test_clone_whole_session(honcho):
    src = honcho.session(unique("s"), metadata={"m": 1}, configuration={"reasoning": {"enabled": False}},
                         peers=["alice", ("bob", SessionPeerConfig(observe_others=True))])
    originals = _seed(honcho, src)

    clone = src.clone()
    assert clone.id != src.id and isinstance(clone.id, str) and clone.id
    assert clone.is_active is True
    assert clone.metadata == {"m": 1}
    assert clone.configuration.model_dump(exclude_none=True) == {"reasoning": {"enabled": False}}
    copied = list(clone.messages())
    assert contents(copied) == contents(originals)
    assert [m.peer_id for m in copied] == [m.peer_id for m in originals]
    assert [m.metadata for m in copied] == [m.metadata for m in originals]
    assert all(m.session_id == clone.id for m in copied)
    assert not set(ids(copied)) & set(ids(originals))  # new message ids
    assert _peer_ids(clone) == {"alice", "bob"}
    assert clone.get_peer_configuration("bob").observe_others is True
    # the source is untouched and both are listed
    assert contents(src.messages()) == contents(originals)
    assert set(ids(honcho.sessions())) == {src.id, clone.id}


def test_clone_with_message_cutoff(honcho):
    src = honcho.session(unique("s"))
    originals = _seed(honcho, src, n=6)
    clone = src.clone(message_id=originals[2].id)
    copied = list(clone.messages())
    assert contents(copied) == ["message 0", "message 1", "message 2"]
    assert [m.peer_id for m in copied] == ["alice", "bob", "alice"]
    assert len(list(src.messages())) == 6


def test_clone_errors(honcho):
    src = honcho.session(unique("s"))
    _seed(honcho, src, n=2)
    other = honcho.session(unique("s"))
    foreign = _seed(honcho, other, n=1)[0]
    with pytest.raises(NotFoundError):
        src.clone(message_id=foreign.id)  # message of another session
    with pytest.raises(NotFoundError):
        src.clone(message_id="AAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(NotFoundError):
        Session("never-created", honcho).clone()
    assert set(ids(honcho.sessions())) == {src.id, other.id}  # no stray clones


def test_delete_session(honcho):
    sid = unique("s")
    s = honcho.session(sid, metadata={"old": True})
    keep = honcho.session(unique("keep"))
    _seed(honcho, s, n=3)

    s.delete()
    assert ids(honcho.sessions()) == [keep.id]
    assert sid not in ids(honcho.peer("alice").sessions(filters={"is_active": True}))
    with pytest.raises(NotFoundError):
        s.delete()  # already inactive (or already purged)

    # While the deletion is pending get-or-create must 404; once purged the id is reusable as a fresh,
    # empty session. Either is acceptable at any moment -- old data must never reappear.
    try:
        fresh = honcho.session(sid)
    except NotFoundError:
        fresh = eventually(lambda: honcho.session(sid), what="deleted session id reusable after purge")
    assert fresh.is_active is True
    assert fresh.get_metadata() == {}
    assert list(fresh.messages()) == []
    assert fresh.peers() == []


def test_delete_unknown_session_is_not_found(honcho):
    with pytest.raises(NotFoundError):
        Session("never-created", honcho).delete()


def test_clone_can_be_extended_and_cloned_again(honcho):
    src = honcho.session(unique("s"))
    _seed(honcho, src, n=3)
    clone = src.clone()
    clone.add_messages(honcho.peer("carol").message("only in the clone"))
    assert contents(clone.messages()) == ["message 0", "message 1", "message 2", "only in the clone"]
    assert contents(src.messages()) == ["message 0", "message 1", "message 2"]
    second = clone.clone()
    assert contents(second.messages()) == contents(clone.messages())
    assert _peer_ids(second) == {"alice", "bob", "carol"}
    assert len(set(ids(honcho.sessions()))) == 3
