"""Filter DSL semantics (spec 4) as seen through the SDK's list calls, plus data round-trip fidelity."""

from __future__ import annotations

import pytest
from honcho.http.exceptions import UnprocessableEntityError
from sdk_helpers import contents, ids, unique, utc

pytestmark = pytest.mark.sdk


@pytest.fixture
def people(honcho):
    honcho.peer("ann", metadata={"team": "red", "score": 10, "active": True, "tags": ["a", "b"],
                                 "profile": {"city": "Lisbon", "langs": ["pt", "en"]}, "note": "100%_done"})
    honcho.peer("ben", metadata={"team": "blue", "score": 3, "active": False, "tags": ["b"],
                                 "profile": {"city": "Porto"}, "note": "plain"})
    honcho.peer("cat", metadata={"team": "red", "score": 7.5})
    honcho.peer("dan")
    return honcho


def _peers(h, filters) -> list[str]:
    return ids(h.peers(filters=filters))


@pytest.mark.parametrize(("filters", "expected"), [
    ({"metadata": {"team": "red"}}, ["ann", "cat"]),
    ({"metadata": {"team": "*"}}, ["ann", "ben", "cat", "dan"]),           # wildcard: no condition
    ({"id": "*"}, ["ann", "ben", "cat", "dan"]),
    ({"metadata": {"active": True}}, ["ann"]),
    ({"metadata": {"active": False}}, ["ben"]),
    ({"metadata": {"tags": ["b"]}}, ["ann", "ben"]),                         # array containment
    ({"metadata": {"tags": ["a", "b"]}}, ["ann"]),
    ({"metadata": {"profile": {"city": "Lisbon"}}}, ["ann"]),                # nested containment
    ({"metadata": {"profile": {"langs": ["en"]}}}, ["ann"]),
    ({"metadata": {"contains": {"team": "red", "score": 10}}}, ["ann"]),
    ({"metadata": {"score": {"gt": 5}}}, ["ann", "cat"]),                    # numeric comparison
    ({"metadata": {"score": {"gte": 3, "lt": 10}}}, ["ben", "cat"]),
    ({"metadata": {"score": {"lte": "7.5"}}}, ["ben", "cat"]),                # numeric string operand
    ({"metadata": {"score": {"ne": 10}}}, ["ben", "cat"]),                    # missing -> excluded
    ({"metadata": {"team": {"in": ["blue", "green"]}}}, ["ben"]),
    ({"metadata": {"team": {"icontains": "RE"}}}, ["ann", "cat"]),
    ({"metadata": {"note": {"contains": "%_"}}}, ["ann"]),                    # % and _ are literal
    ({"metadata": {"note": {"contains": "_"}}}, ["ann"]),
    ({"metadata": {"team": "red", "score": {"lt": 9}}}, ["cat"]),
    ({"id": {"in": []}}, []),                                                 # empty in: fail closed
    ({"id": {"in": ["ann", "*"]}}, ["ann", "ben", "cat", "dan"]),              # * inside in: skipped
    ({"id": {"ne": "ann"}}, ["ben", "cat", "dan"]),
    ({"id": {"gte": "b", "lt": "d"}}, ["ben", "cat"]),
    ({"id": {"ne": None}}, ["ann", "ben", "cat", "dan"]),
    ({"OR": []}, ["ann", "ben", "cat", "dan"]),                               # empty logical lists: no-op
    ({"OR": [{"id": "dan"}, {"metadata": {"team": "blue"}}]}, ["ben", "dan"]),
    ({"NOT": [{"metadata": {"team": "red"}}]}, ["ben", "dan"]),
    ({"NOT": [{"metadata": {"score": {"gt": 5}}}]}, ["ben", "dan"]),         # NULL comparison is "not true"
    ({"AND": [{"OR": [{"id": "ann"}, {"id": "ben"}]}, {"NOT": [{"id": "ben"}]}]}, ["ann"]),
    ({"metadata": {}}, ["ann", "ben", "cat", "dan"]),
    ({"created_at": {"gte": "2000-01-01"}}, ["ann", "ben", "cat", "dan"]),
    ({"created_at": {"lt": "2000-01-01T00:00:00Z"}}, []),
])
def test_peer_filter_semantics(people, filters, expected):
    assert _peers(people, filters) == expected


def test_filters_combine_with_pagination_and_reverse(people):
    page = people.peers(filters={"metadata": {"team": "red"}}, size=1, reverse=True)
    assert (page.total, page.pages) == (2, 2)
    assert ids(page) == ["cat", "ann"]


def test_message_filter_semantics(honcho):
    s = honcho.session(unique("s"))
    a, b = honcho.peer("alice"), honcho.peer("bob")
    s.add_messages([
        a.message("one", metadata={"topic": "travel", "stars": 5}, created_at=utc(2024, 1, 1)),
        b.message("two", metadata={"topic": "food"}, created_at=utc(2024, 2, 1)),
        a.message("three", metadata={"topic": "travel", "stars": 2}, created_at=utc(2024, 3, 1)),
        b.message("four, a much longer message than the others here", created_at=utc(2024, 4, 1)),
    ])
    assert contents(s.messages(filters={"peer_id": {"ne": "alice"}})) == ["two", "four, a much longer message "
                                                                               "than the others here"]
    assert contents(s.messages(filters={"metadata": {"topic": "travel"}, "peer_id": "alice"})) == ["one", "three"]
    assert contents(s.messages(filters={"metadata": {"stars": {"gte": 3}}})) == ["one"]
    assert contents(s.messages(filters={"NOT": [{"metadata": {"topic": "travel"}}]})) == [
        "two", "four, a much longer message than the others here"]
    assert contents(s.messages(filters={"created_at": {"gte": "2024-02-01", "lt": "2024-04-01"}})) == [
        "two", "three"]
    assert contents(s.messages(filters={"created_at": ["2024-03-01T00:00:00Z"]})) == ["three"]
    longest = max(m.token_count for m in s.messages())
    assert contents(s.messages(filters={"token_count": {"gte": longest}})) == [
        "four, a much longer message than the others here"]
    assert contents(s.messages(filters={"token_count": str(longest)})) == [
        "four, a much longer message than the others here"]
    assert contents(s.messages(filters={"session_id": s.id})) == ["one", "two", "three",
                                                                  "four, a much longer message than the others here"]
    assert contents(s.messages(filters={"workspace_id": honcho.workspace_id}, reverse=True))[0].startswith("four")


def test_session_filters(honcho):
    honcho.session("s-a", metadata={"kind": "support", "prio": 1})
    honcho.session("s-b", metadata={"kind": "sales"})
    assert ids(honcho.sessions(filters={"is_active": False})) == []
    assert ids(honcho.sessions(filters={"id": {"contains": "-B"}})) == ["s-b"]
    assert ids(honcho.sessions(filters={"metadata": {"prio": {"ne": 1}}})) == []
    assert ids(honcho.sessions(filters={"workspace_id": honcho.workspace_id})) == ["s-a", "s-b"]
    with pytest.raises(UnprocessableEntityError):
        list(honcho.sessions(filters={"peer_id": "alice"}))  # sessions have no peer_id column


def test_values_round_trip_exactly(honcho):
    meta = {"float": 1.5, "big": 2**40 + 1, "neg": -7, "zero": 0, "null": None, "bool": False, "empty": {},
            "list": [], "unicode": "héllo 世界 🚀 مرحبا", "quote": "a\"b'c\\d", "newline": "x\ny",
            "mixed": [1, "two", 3.25, None, True, {"k": [{}]}], "k with spaces": 1, "ключ": "значение"}
    p = honcho.peer("Peer_With-Case", metadata=meta)
    assert p.metadata == meta
    assert honcho.peer("Peer_With-Case").get_metadata() == meta
    s = honcho.session(unique("s"), metadata=meta)
    text = "Emoji 🎉, CJK 漢字, RTL עברית, combining é, tab\tand\nnewlines\n\n  spaced  "
    [m] = s.add_messages(p.message(text, metadata=meta))
    assert m.content == text and m.metadata == meta
    assert s.get_message(m.id).content == text
    assert s.messages().items[0].metadata == meta
    assert s.get_metadata() == meta


def test_ids_are_case_sensitive_and_may_be_512_chars(honcho):
    honcho.peer("alice", metadata={"v": "lower"})
    honcho.peer("Alice", metadata={"v": "upper"})
    assert ids(honcho.peers()) == ["alice", "Alice"]
    assert honcho.peer("alice").metadata == {"v": "lower"}
    assert ids(honcho.peers(filters={"id": "Alice"})) == ["Alice"]
    long_id = "L" * 512
    assert honcho.peer(long_id).id == long_id
    assert honcho.session(long_id).id == long_id
    assert ids(honcho.sessions()) == [long_id]
