"""Scenarios 4-7 of docs/v1-api.md §4.2, through each v1 SDK: sessions, messages, and metamessages (each version's
own routes: 0.0.19 under sessions, 0.2.0 per user)."""

from __future__ import annotations

from typing import Any

import pytest
from v1_helpers import V1, V1Error, unique

pytestmark = pytest.mark.sdk


def _messages(v1: V1, app_id: str, user_id: str, session_id: str, **kwargs: Any) -> list[Any]:
    return v1.call("apps.users.sessions.messages.list", session_id, app_id=app_id, user_id=user_id, **kwargs)["items"]


def _meta(v1: V1, app_id: str, user_id: str, session_id: str, message_id: str, kind: str, content: str,
          **kwargs: Any) -> Any:
    """A metamessage on a message, in this version's own form."""
    if v1.v019:
        return v1.call("apps.users.sessions.metamessages.create", session_id, app_id=app_id, user_id=user_id,
                       content=content, message_id=message_id, metamessage_type=kind, **kwargs)
    return v1.call("apps.users.metamessages.create", user_id, app_id=app_id, content=content,
                   metamessage_type=kind, message_id=message_id, session_id=session_id, **kwargs)


def _metas_of_session(v1: V1, app_id: str, user_id: str, session_id: str) -> list[Any]:
    if v1.v019:
        return v1.call("apps.users.sessions.metamessages.list", session_id, app_id=app_id, user_id=user_id)["items"]
    return v1.call("apps.users.metamessages.list", user_id, app_id=app_id, session_id=session_id)["items"]


# --------------------------------------------------------------------------------------------------
# 4. Sessions
# --------------------------------------------------------------------------------------------------
def test_sessions_create_get_list_update(v1: V1) -> None:
    app = v1.new_app()
    user = v1.new_user(app.id)
    bare = v1.new_session(app.id, user.id)
    assert bare.user_id == user.id and bare.is_active is True and bare.metadata == {}
    tagged = v1.new_session(app.id, user.id, metadata={"topic": "travel"})
    assert tagged.metadata == {"topic": "travel"} and tagged.id != bare.id
    if v1.v020:
        assert bare.app_id == app.id
    assert v1.get_session(app.id, user.id, bare.id) == bare
    for is_active in (True, False):
        listed = v1.call("apps.users.sessions.list", user.id, app_id=app.id, is_active=is_active)
        assert [s.id for s in listed["items"]] == [bare.id, tagged.id]
    backwards = v1.call("apps.users.sessions.list", user.id, app_id=app.id, reverse=True)
    assert [s.id for s in backwards["items"]] == [tagged.id, bare.id]
    by_topic = v1.call("apps.users.sessions.list", user.id, app_id=app.id, filter={"topic": "travel"})
    assert [s.id for s in by_topic["items"]] == [tagged.id]
    updated = v1.call("apps.users.sessions.update", bare.id, app_id=app.id, user_id=user.id, metadata={"n": 1})
    assert updated.id == bare.id and updated.metadata == {"n": 1}
    assert v1.get_session(app.id, user.id, bare.id).metadata == {"n": 1}


def test_a_session_is_not_found_under_a_user_who_is_not_in_it(v1: V1) -> None:
    app, _user, session = v1.world()
    stranger = v1.new_user(app.id)
    with pytest.raises(V1Error) as e:
        v1.get_session(app.id, stranger.id, session.id)
    assert e.value.type == "NotFoundError"
    assert v1.call("apps.users.sessions.list", stranger.id, app_id=app.id)["items"] == []


def test_clone_up_to_a_message_and_deep_copy_metamessages(v1: V1) -> None:
    app, user, session = v1.world()
    said = [v1.say(app.id, user.id, session.id, f"m{n}", is_user=n % 2 == 0) for n in range(4)]
    meta = _meta(v1, app.id, user.id, session.id, said[1].id, "thought", "about m1")
    clone = v1.call("apps.users.sessions.clone", session.id, app_id=app.id, user_id=user.id, message_id=said[1].id)
    assert clone.id != session.id and clone.user_id == user.id
    copied = _messages(v1, app.id, user.id, clone.id)
    assert [(m.content, m.is_user) for m in copied] == [("m0", True), ("m1", False)]
    assert _metas_of_session(v1, app.id, user.id, clone.id) == []  # no deep copy: no metamessages
    deep = v1.call("apps.users.sessions.clone", session.id, app_id=app.id, user_id=user.id, deep_copy=True)
    assert [m.content for m in _messages(v1, app.id, user.id, deep.id)] == ["m0", "m1", "m2", "m3"]
    deep_metas = _metas_of_session(v1, app.id, user.id, deep.id)
    assert [(m.content, m.metamessage_type) for m in deep_metas] == [("about m1", "thought")]
    assert deep_metas[0].id != meta.id
    deep_m1 = _messages(v1, app.id, user.id, deep.id)[1]
    assert deep_metas[0].message_id == deep_m1.id  # re-pointed to the copy of m1


def test_delete_removes_the_session_its_messages_and_metamessages(v1: V1) -> None:
    app, user, session = v1.world()
    message = v1.say(app.id, user.id, session.id, "to be deleted")
    meta = _meta(v1, app.id, user.id, session.id, message.id, "note", "gone soon")
    deleted = v1.call("apps.users.sessions.delete", session.id, app_id=app.id, user_id=user.id)
    assert deleted == {"message": "Session deleted successfully"}
    with pytest.raises(V1Error) as e:
        v1.get_session(app.id, user.id, session.id)
    assert e.value.type == "NotFoundError"
    assert v1.fails("apps.users.sessions.messages.get", message.id, app_id=app.id, user_id=user.id,
                    session_id=session.id).type == "NotFoundError"
    assert session.id not in [s.id for s in v1.call("apps.users.sessions.list", user.id, app_id=app.id)["items"]]
    if v1.v020:
        assert v1.fails("apps.users.metamessages.get", meta.id, app_id=app.id, user_id=user.id).type == "NotFoundError"
    else:
        listed = v1.call("apps.users.metamessages.list", user.id, app_id=app.id)["items"]
        assert meta.id not in [m.id for m in listed]


# --------------------------------------------------------------------------------------------------
# 5. Messages
# --------------------------------------------------------------------------------------------------
def test_messages_create_get_update(v1: V1) -> None:
    app, user, session = v1.world()
    mine = v1.say(app.id, user.id, session.id, "I like tea", metadata={"mood": "calm"})
    theirs = v1.say(app.id, user.id, session.id, "Noted.", is_user=False)
    empty = v1.say(app.id, user.id, session.id, "")
    assert (mine.is_user, theirs.is_user, empty.content) == (True, False, "")
    assert mine.metadata == {"mood": "calm"} and theirs.metadata == {}
    if v1.v020:
        assert (mine.app_id, mine.user_id) == (app.id, user.id)
    got = v1.call("apps.users.sessions.messages.get", theirs.id, app_id=app.id, user_id=user.id,
                  session_id=session.id)
    assert got == theirs
    updated = v1.call("apps.users.sessions.messages.update", mine.id, app_id=app.id, user_id=user.id,
                      session_id=session.id, metadata={"mood": "happy"})
    assert updated.id == mine.id and updated.content == "I like tea" and updated.metadata == {"mood": "happy"}
    other = v1.new_session(app.id, user.id)
    assert v1.fails("apps.users.sessions.messages.get", mine.id, app_id=app.id, user_id=user.id,
                    session_id=other.id).type == "NotFoundError"


def test_messages_batch_keeps_order_and_caps_at_100(v1: V1) -> None:
    app, user, session = v1.world()
    batch = [{"content": f"b{n}", "is_user": n != 1, "metadata": {"n": n}} for n in range(3)]
    made = v1.call("apps.users.sessions.messages.batch", session.id, app_id=app.id, user_id=user.id, messages=batch)
    assert v1.last is not None and v1.last.created_at_types == ["datetime"] * 3
    assert [(m.content, m.is_user, m.metadata) for m in made] == [("b0", True, {"n": 0}), ("b1", False, {"n": 1}),
                                                                   ("b2", True, {"n": 2})]
    assert [m.id for m in _messages(v1, app.id, user.id, session.id)] == [m.id for m in made]
    too_many = [{"content": str(n), "is_user": True} for n in range(101)]
    error = v1.fails("apps.users.sessions.messages.batch", session.id, app_id=app.id, user_id=user.id,
                     messages=too_many)
    assert error.type == "UnprocessableEntityError"
    assert len(_messages(v1, app.id, user.id, session.id)) == 3
    assert v1.fails("apps.users.sessions.messages.batch", session.id, app_id=app.id, user_id=user.id,
                    messages=[]).type == "UnprocessableEntityError"


def test_messages_list_pages_reverse_and_filter(v1: V1) -> None:
    app, user, session = v1.world()
    made = [v1.say(app.id, user.id, session.id, f"n{n}", metadata={"even": n % 2 == 0}) for n in range(5)]
    ids = [m.id for m in made]
    pages = [v1.call("apps.users.sessions.messages.list", session.id, app_id=app.id, user_id=user.id, size=2,
                     page=n) for n in (1, 2, 3, 4)]
    assert [[m.id for m in p["items"]] for p in pages] == [ids[0:2], ids[2:4], ids[4:5], []]
    assert [m.id for m in _messages(v1, app.id, user.id, session.id, reverse=True)] == ids[::-1]
    assert [m.id for m in _messages(v1, app.id, user.id, session.id, filter={"even": True})] == ids[0::2]
    assert [m.id for m in _messages(v1, app.id, user.id, session.id, filter=None)] == ids


# --------------------------------------------------------------------------------------------------
# 6. Metamessages, 0.0.19 (session routes, and the user-level list)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["0.0.19"], indirect=True)
def test_metamessages_0019(v1: V1) -> None:
    app, user, session = v1.world()
    first = v1.say(app.id, user.id, session.id, "first")
    second = v1.say(app.id, user.id, session.id, "second", is_user=False)
    where = {"app_id": app.id, "user_id": user.id}
    meta = v1.call("apps.users.sessions.metamessages.create", session.id, **where, content="thinking",
                   message_id=first.id, metamessage_type="thought", metadata={"k": 1})
    assert (meta.content, meta.message_id, meta.metamessage_type, meta.metadata) == ("thinking", first.id,
                                                                                      "thought", {"k": 1})
    got = v1.call("apps.users.sessions.metamessages.get", meta.id, **where, session_id=session.id,
                  message_id=first.id)
    assert got == meta
    assert v1.fails("apps.users.sessions.metamessages.get", meta.id, **where, session_id=session.id,
                    message_id=second.id).type == "NotFoundError"
    moved = v1.call("apps.users.sessions.metamessages.update", meta.id, **where, session_id=session.id,
                    message_id=second.id, metamessage_type="reflection")
    assert (moved.message_id, moved.metamessage_type, moved.metadata) == (second.id, "reflection", {"k": 1})
    other = v1.call("apps.users.sessions.metamessages.create", session.id, **where, content="aside",
                    message_id=first.id, metamessage_type="thought")
    listed = v1.call("apps.users.sessions.metamessages.list", session.id, **where)["items"]
    assert [m.id for m in listed] == [meta.id, other.id]
    by_type = v1.call("apps.users.sessions.metamessages.list", session.id, **where, metamessage_type="thought")
    assert [m.id for m in by_type["items"]] == [other.id]
    by_message = v1.call("apps.users.sessions.metamessages.list", session.id, **where, message_id=second.id)
    assert [m.id for m in by_message["items"]] == [meta.id]
    user_level = v1.call("apps.users.metamessages.list", user.id, app_id=app.id, metamessage_type="reflection")
    assert [m.id for m in user_level["items"]] == [meta.id]
    missing = v1.fails("apps.users.sessions.metamessages.create", session.id, **where, content="x",
                       message_id=unique("nope"), metamessage_type="t")
    assert missing.type == "NotFoundError"


# --------------------------------------------------------------------------------------------------
# 7. Metamessages, 0.2.0 (per user, optionally on a session and/or a message)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["0.2.0"], indirect=True)
def test_metamessages_020(v1: V1) -> None:
    app, user, session = v1.world()
    message = v1.say(app.id, user.id, session.id, "hello")
    elsewhere = v1.new_session(app.id, user.id)
    foreign = v1.say(app.id, user.id, elsewhere.id, "elsewhere")
    where = {"app_id": app.id}
    bare = v1.call("apps.users.metamessages.create", user.id, **where, content="bare", metamessage_type="note")
    assert (bare.session_id, bare.message_id, bare.label, bare.app_id, bare.user_id) == (None, None, "note", app.id,
                                                                                         user.id)
    on_session = v1.call("apps.users.metamessages.create", user.id, **where, content="s", metamessage_type="note",
                         session_id=session.id, metadata={"k": "v"})
    assert (on_session.session_id, on_session.message_id) == (session.id, None)
    on_message = v1.call("apps.users.metamessages.create", user.id, **where, content="m",
                         metamessage_type="thought", message_id=message.id)
    assert (on_message.session_id, on_message.message_id) == (session.id, message.id)  # the session inferred
    mismatch = v1.fails("apps.users.metamessages.create", user.id, **where, content="x", metamessage_type="t",
                        session_id=session.id, message_id=foreign.id)
    assert mismatch.type == "UnprocessableEntityError"
    assert v1.call("apps.users.metamessages.get", on_message.id, **where, user_id=user.id) == on_message
    unchanged = v1.call("apps.users.metamessages.update", on_message.id, **where, user_id=user.id)
    assert unchanged == on_message
    unlinked = v1.call("apps.users.metamessages.update", on_message.id, **where, user_id=user.id, message_id=None)
    assert unlinked.message_id is None and unlinked.metamessage_type == "thought" == unlinked.label
    relabelled = v1.call("apps.users.metamessages.update", on_message.id, **where, user_id=user.id,
                         metamessage_type="idea", message_id=message.id)
    assert (relabelled.metamessage_type, relabelled.label, relabelled.message_id) == ("idea", "idea", message.id)

    def listed(**kwargs: Any) -> list[str]:
        return [m.id for m in v1.call("apps.users.metamessages.list", user.id, **where, **kwargs)["items"]]

    assert listed() == [bare.id, on_session.id, on_message.id]
    assert listed(reverse=True) == [on_message.id, on_session.id, bare.id]
    assert listed(session_id=session.id) == [on_session.id, on_message.id]
    assert listed(message_id=message.id) == [on_message.id]
    assert listed(metamessage_type="note") == [bare.id, on_session.id]
    assert listed(filter={"k": "v"}) == [on_session.id]
