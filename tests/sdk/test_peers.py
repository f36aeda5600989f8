"""Peers through the SDK: get-or-create, metadata, configuration, listing, pagination, peer.sessions()."""

from __future__ import annotations

import pytest
from honcho import Peer
from honcho.api_types import PeerConfig
from sdk_helpers import assert_recent, ids

pytestmark = pytest.mark.sdk


def test_peer_create_with_metadata_and_configuration(honcho):
    alice = honcho.peer("alice", metadata={"role": "user", "age": 30}, configuration={"observe_me": False})
    assert alice.id == "alice" and alice.workspace_id == honcho.workspace_id
    assert alice.metadata == {"role": "user", "age": 30}
    assert alice.configuration == PeerConfig(observe_me=False)
    assert_recent(alice.created_at)
    assert isinstance(alice.uid, str) and alice.uid

    # a fresh handle reads the same state back
    again = honcho.peer("alice")
    assert again.get_metadata() == {"role": "user", "age": 30}
    assert again.get_configuration().observe_me is False
    assert again.created_at == alice.created_at
    assert again.uid == alice.uid


def test_peer_metadata_and_configuration_updates(honcho):
    bob = honcho.peer("bob")
    assert bob.get_metadata() == {}
    assert bob.get_configuration().observe_me is None

    bob.set_metadata({"tz": "UTC", "tags": ["a", "b"]})
    assert bob.get_metadata() == {"tz": "UTC", "tags": ["a", "b"]}
    bob.set_metadata({"tz": "CET"})
    assert bob.get_metadata() == {"tz": "CET"}  # replaced

    bob.set_configuration(PeerConfig(observe_me=False))
    assert bob.get_configuration() == PeerConfig(observe_me=False)
    bob.set_configuration(PeerConfig(observe_me=True))
    assert bob.get_configuration() == PeerConfig(observe_me=True)
    assert bob.get_metadata() == {"tz": "CET"}  # configuration update leaves metadata alone

    # get-or-create with new metadata / configuration replaces them; without them leaves them alone
    assert honcho.peer("bob", metadata={"v": 2}).metadata == {"v": 2}
    assert honcho.peer("bob").metadata == {"v": 2}
    assert honcho.peer("bob", configuration=PeerConfig(observe_me=False)).configuration.observe_me is False
    again = honcho.peer("bob")
    assert again.configuration.observe_me is False and again.metadata == {"v": 2}


def test_set_metadata_creates_missing_peer(honcho):
    """PUT /peers/{id} is an upsert (spec 6.3)."""
    ghost = Peer("ghost", honcho)  # no request made
    assert "ghost" not in ids(honcho.peers())
    ghost.set_metadata({"made": "by put"})
    assert ids(honcho.peers()) == ["ghost"]
    assert honcho.peer("ghost").metadata == {"made": "by put"}


def test_list_peers_with_filters(honcho):
    honcho.peer("u1", metadata={"role": "user", "tier": 1})
    honcho.peer("u2", metadata={"role": "user", "tier": 2})
    honcho.peer("bot", metadata={"role": "assistant"})
    honcho.peer("plain")

    assert ids(honcho.peers()) == ["u1", "u2", "bot", "plain"]
    assert ids(honcho.peers(filters={"metadata": {"role": "user"}})) == ["u1", "u2"]
    assert ids(honcho.peers(filters={"metadata": {"role": "user", "tier": 2}})) == ["u2"]
    assert ids(honcho.peers(filters={"metadata": {"tier": {"gte": 2}}})) == ["u2"]
    assert ids(honcho.peers(filters={"id": "bot"})) == ["bot"]
    assert ids(honcho.peers(filters={"id": {"in": ["plain", "u1"]}})) == ["u1", "plain"]
    assert ids(honcho.peers(filters={"id": ["plain", "u1"]})) == ["u1", "plain"]
    assert ids(honcho.peers(filters={"OR": [{"id": "bot"}, {"metadata": {"tier": 1}}]})) == ["u1", "bot"]
    assert ids(honcho.peers(filters={"NOT": [{"metadata": {"role": "user"}}]})) == ["bot", "plain"]
    assert ids(honcho.peers(filters={"id": {"contains": "U"}})) == ["u1", "u2"]  # case-insensitive
    assert ids(honcho.peers(filters={"id": "nobody"})) == []
    assert ids(honcho.peers(reverse=True)) == ["plain", "bot", "u2", "u1"]
    # listed peers carry their data
    u1 = next(p for p in honcho.peers() if p.id == "u1")
    assert u1.metadata == {"role": "user", "tier": 1}


def test_peer_pagination_across_more_than_100(honcho):
    names = [f"p{i:03d}" for i in range(105)]
    for name in names:
        honcho.peer(name)

    page = honcho.peers()  # default size 50
    assert (page.total, page.pages, page.page, page.size) == (105, 3, 1, 50)
    assert ids(page.items) == names[:50]
    assert ids(page) == names  # iterating the page object fetches pages 2 and 3

    big = honcho.peers(size=100)
    assert (big.total, big.pages, len(big)) == (105, 2, 100)
    assert ids(big) == names

    second = honcho.peers(page=2, size=50)
    assert second.page == 2 and ids(second.items) == names[50:100]
    last = honcho.peers(page=3, size=50)
    assert ids(last.items) == names[100:] and not last.has_next_page()
    past_end = honcho.peers(page=9, size=50)
    assert past_end.items == [] and past_end.page == 9 and past_end.total == 105

    assert ids(honcho.peers(size=40, reverse=True)) == names[::-1]


def test_peer_sessions(honcho):
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    s1 = honcho.session("s-one", metadata={"k": 1}, peers=[alice, bob])
    s2 = honcho.session("s-two", peers=[alice])
    s3 = honcho.session("s-three")
    s3.add_messages([alice.message("hi from alice")])

    assert ids(alice.sessions()) == [s1.id, s2.id, s3.id]
    assert ids(bob.sessions()) == [s1.id]
    assert ids(alice.sessions(reverse=True)) == [s3.id, s2.id, s1.id]
    assert ids(alice.sessions(filters={"metadata": {"k": 1}})) == [s1.id]
    assert ids(alice.sessions(filters={"id": s2.id})) == [s2.id]
    first = alice.sessions(size=2)
    assert first.total == 3 and first.pages == 2 and ids(first) == [s1.id, s2.id, s3.id]
    listed = next(iter(alice.sessions(filters={"id": s1.id})))
    assert listed.metadata == {"k": 1} and listed.is_active is True
    assert ids(honcho.peer("carol").sessions()) == []
