"""Messages through the SDK: batches, created_at, pagination, filters, reverse, get/update, token counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from honcho import Peer, Session
from honcho.http.exceptions import NotFoundError
from sdk_helpers import assert_recent, assert_utc, contents, ids, unique, utc

pytestmark = pytest.mark.sdk


def test_add_messages_batch_with_metadata_and_created_at(honcho):
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    s = honcho.session(unique("s"))
    t0 = utc(2024, 1, 2, 3, 4, 5, 123456)
    sent = [
        alice.message("Hi Bob, I just moved to Lisbon.", metadata={"lang": "en", "n": 1}, created_at=t0),
        bob.message("Welcome! How do you like it?", metadata={"nested": {"k": [1, 2]}},
                    created_at=t0 + timedelta(seconds=30)),
        alice.message("Love it.", created_at="2024-05-01T12:00:00+02:00"),
    ]
    got = s.add_messages(sent)

    assert contents(got) == [m.content for m in sent]  # request order preserved
    assert [m.peer_id for m in got] == ["alice", "bob", "alice"]
    assert [m.metadata for m in got] == [{"lang": "en", "n": 1}, {"nested": {"k": [1, 2]}}, {}]
    assert all(m.session_id == s.id and m.workspace_id == honcho.workspace_id for m in got)
    assert len(set(ids(got))) == 3 and all(isinstance(i, str) and i for i in ids(got))
    for m in got:
        assert_utc(m.created_at)
    assert [m.created_at for m in got] == [t0, t0 + timedelta(seconds=30), utc(2024, 5, 1, 10, 0, 0)]
    assert all(m.token_count > 0 for m in got)

    listed = list(s.messages())
    assert ids(listed) == ids(got)
    assert [m.created_at for m in listed] == [m.created_at for m in got]
    assert [m.metadata for m in listed] == [m.metadata for m in got]
    assert [m.token_count for m in listed] == [m.token_count for m in got]

    fetched = s.get_message(got[0].id)
    assert (fetched.id, fetched.content, fetched.peer_id, fetched.created_at, fetched.metadata) == (
        got[0].id, got[0].content, "alice", t0, {"lang": "en", "n": 1})

    # message authors become session members and workspace peers
    assert set(ids(s.peers())) == {"alice", "bob"}


def test_single_message_defaults(honcho):
    s = honcho.session(unique("s"))
    [m] = s.add_messages(honcho.peer("carol").message("just one"))
    assert m.content == "just one" and m.peer_id == "carol" and m.metadata == {}
    assert_recent(m.created_at)
    assert m.token_count > 0
    # an author that never existed is created on the fly
    [m2] = s.add_messages(Peer("dan", honcho).message("x"))  # Peer() makes no request
    assert m2.peer_id == "dan"
    assert set(ids(honcho.peers())) == {"carol", "dan"}


def test_token_counts(honcho):
    s = honcho.session(unique("s"))
    p = honcho.peer("alice")
    short, long_, empty = s.add_messages([p.message("hello"), p.message("hello " * 200), p.message("")])
    assert short.token_count > 0
    assert long_.token_count > short.token_count
    assert empty.content == "" and empty.token_count == 0
    # tiktoken o200k_base counts (spec 2.4)
    exact = s.add_messages([p.message("hello"), p.message("hello world"), p.message("Hello, world!")])
    assert [m.token_count for m in exact] == [1, 2, 4]


def test_nul_characters_are_stripped(honcho):
    s = honcho.session(unique("s"))
    [m] = s.add_messages(honcho.peer("alice").message("a\u0000b"))
    assert m.content == "ab"
    assert s.get_message(m.id).content == "ab"


def test_messages_added_implicitly_create_the_session(honcho):
    s = Session("implicit", honcho)
    s.add_messages(honcho.peer("alice").message("hello"))
    assert ids(honcho.sessions()) == ["implicit"]


def test_many_messages_paginate_in_order(honcho):
    s = honcho.session(unique("s"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    total = 125
    texts = [f"msg {i:03d}" for i in range(total)]
    for start, stop in ((0, 100), (100, 120), (120, 125)):  # 3 batches, the first one at the 100 limit
        batch = s.add_messages([(alice if i % 2 == 0 else bob).message(texts[i]) for i in range(start, stop)])
        assert contents(batch) == texts[start:stop]

    page = s.messages()
    assert (page.total, page.pages, page.page, page.size, len(page)) == (total, 3, 1, 50, 50)
    assert contents(page.items) == texts[:50]
    assert contents(page) == texts  # iterates pages 1..3

    assert contents(s.messages(size=100)) == texts
    assert contents(s.messages(page=3).items) == texts[100:]
    assert contents(s.messages(reverse=True)) == texts[::-1]
    assert contents(s.messages(reverse=True, size=7).items) == texts[::-1][:7]


def test_extreme_created_at_values(honcho):
    s = honcho.session(unique("s"))
    p = honcho.peer("alice")
    stamps = [utc(1, 1, 1), utc(1969, 12, 31, 23, 59, 59, 999999), utc(9999, 12, 31, 23, 59, 59, 999999)]
    got = s.add_messages([p.message(str(i), created_at=t) for i, t in enumerate(stamps)])
    assert [m.created_at for m in got] == stamps
    assert [m.created_at for m in s.messages()] == stamps
    assert contents(s.messages(filters={"created_at": {"lt": "1970-01-01"}})) == ["0", "1"]
    assert contents(s.messages(filters={"created_at": {"gte": "3000-01-01T00:00:00Z"}})) == ["2"]


def test_message_list_order_is_insertion_order(honcho):
    """Spec 8.3: messages are listed in insertion order, not by (client supplied) created_at."""
    s = honcho.session(unique("s"))
    p = honcho.peer("alice")
    s.add_messages([p.message("third-by-time", created_at=utc(2024, 3, 1)),
                    p.message("first-by-time", created_at=utc(2024, 1, 1))])
    s.add_messages(p.message("second-by-time", created_at=utc(2024, 2, 1)))
    assert contents(s.messages()) == ["third-by-time", "first-by-time", "second-by-time"]


def test_message_filters(honcho):
    s = honcho.session(unique("s"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    msgs = []
    for day in range(1, 11):
        who = alice if day % 2 else bob
        msgs.append(who.message(f"day {day}", metadata={"kind": "q" if day <= 4 else "a", "day": day},
                                created_at=utc(2024, 1, day, 12, 0, 0)))
    s.add_messages(msgs)

    assert contents(s.messages(filters={"peer_id": "alice"})) == [f"day {d}" for d in (1, 3, 5, 7, 9)]
    assert contents(s.messages(filters={"peer_id": "bob"}, reverse=True)) == [
        f"day {d}" for d in (10, 8, 6, 4, 2)]
    assert contents(s.messages(filters={"metadata": {"kind": "q"}})) == [f"day {d}" for d in (1, 2, 3, 4)]
    assert contents(s.messages(filters={"metadata": {"day": {"gte": 9}}})) == ["day 9", "day 10"]
    assert contents(s.messages(filters={"created_at": {"gte": "2024-01-03", "lte": "2024-01-05T23:59:59Z"}})) == [
        "day 3", "day 4", "day 5"]
    assert contents(s.messages(filters={"created_at": {"gt": "2024-01-09T12:00:00Z"}})) == ["day 10"]
    assert contents(s.messages(filters={"created_at": {"gte": "2024-01-08 12:00:00"}})) == [  # naive = UTC
        "day 8", "day 9", "day 10"]
    assert contents(s.messages(filters={"created_at": {"lte": "2024-01-02T14:00:00+02:00"}})) == [
        "day 1", "day 2"]
    assert contents(s.messages(filters={"AND": [{"peer_id": "alice"}, {"metadata": {"kind": "a"}}]})) == [
        "day 5", "day 7", "day 9"]
    assert contents(s.messages(filters={"peer_id": ["bob"], "created_at": {"lt": "2024-01-05"}})) == [
        "day 2", "day 4"]
    assert contents(s.messages(filters={"token_count": {"gt": 0}})) == [f"day {d}" for d in range(1, 11)]
    page = s.messages(filters={"peer_id": "alice"}, size=2)
    assert page.total == 5 and page.pages == 3 and len(list(page)) == 5


def test_get_and_update_message(honcho):
    s = honcho.session(unique("s"))
    [m1, m2] = s.add_messages([honcho.peer("alice").message("one", metadata={"a": 1}),
                               honcho.peer("bob").message("two")])
    got = s.get_message(m2.id)
    assert (got.id, got.content, got.peer_id, got.metadata) == (m2.id, "two", "bob", {})

    updated = s.update_message(m1, metadata={"b": 2, "nested": {"c": [3]}})
    assert updated.id == m1.id and updated.content == "one"
    assert updated.metadata == {"b": 2, "nested": {"c": [3]}}  # replaced, not merged
    assert updated.created_at == m1.created_at
    assert s.get_message(m1.id).metadata == {"b": 2, "nested": {"c": [3]}}
    assert s.update_message(m1.id, metadata={}).metadata == {}
    assert [m.metadata for m in s.messages()] == [{}, {}]


def test_get_message_errors(honcho):
    s = honcho.session(unique("s"))
    other = honcho.session(unique("s"))
    [m] = other.add_messages(honcho.peer("alice").message("elsewhere"))
    with pytest.raises(NotFoundError):
        s.get_message("AAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(NotFoundError):
        s.get_message(m.id)  # exists, but in another session
    with pytest.raises(NotFoundError):
        s.update_message("AAAAAAAAAAAAAAAAAAAAA", metadata={"x": 1})
    with pytest.raises(NotFoundError):
        s.update_message(m.id, metadata={"x": 1})
    assert other.get_message(m.id).metadata == {}


def test_messages_of_unknown_session_is_empty(honcho):
    page = Session("never-created", honcho).messages()
    assert page.items == [] and page.total == 0
