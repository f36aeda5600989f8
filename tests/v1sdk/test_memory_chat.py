"""Scenarios 10, 11, 14 (what the worker makes of v1 messages) and 17 of docs/v1-api.md §4.2, through each v1 SDK, on
`reasoning_server` (its LLM the loopback fake answering as tests/stand_in_model.py): the reserved collection `honcho`
is the user's self-conclusions, the dialectic chat answers from them, plain and streamed, and the async client
does the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from v1_helpers import V1, V1Error, eventually

from fake_openai import FakeOpenAI
from server_process import ServerProcess
from stand_in_model import stand_in_model

pytestmark = pytest.mark.sdk


@pytest.fixture(scope="module")
def v1_server(reasoning_server: ServerProcess) -> ServerProcess:
    return reasoning_server


@pytest.fixture(autouse=True)
def model(chat_model: FakeOpenAI) -> Iterator[FakeOpenAI]:
    chat_model.responder = stand_in_model
    chat_model.stream_delay = 0.002
    yield chat_model


def _drained(v3: httpx.Client, app_id: str) -> bool:
    status = v3.get(f"/v3/workspaces/{app_id}/queue/status").json()
    return status["pending_work_units"] == 0 and status["in_progress_work_units"] == 0


def _self_conclusions(v3: httpx.Client, app_id: str, user_id: str) -> list[dict[str, Any]]:
    r = v3.post(f"/v3/workspaces/{app_id}/conclusions/list",
                json={"filters": {"observer_id": user_id, "observed_id": user_id}})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _remembering(v1: V1, v3: httpx.Client) -> tuple[Any, Any, Any]:
    """A user who told the app two things, once the worker has derived them."""
    app, user, session = v1.world()
    v1.say(app.id, user.id, session.id, "I moved to Lisbon last spring")
    v1.say(app.id, user.id, session.id, "Lovely city!", is_user=False)
    v1.say(app.id, user.id, session.id, "My dog is called Pixel")
    eventually(lambda: _drained(v3, app.id) and len(_self_conclusions(v3, app.id, user.id)) >= 2,
               what="derived conclusions")
    return app, user, session


def _honcho_documents(v1: V1, app_id: str, user_id: str, **kwargs: Any) -> list[Any]:
    return v1.call("apps.users.collections.documents.list", "honcho", app_id=app_id, user_id=user_id,
                   **kwargs)["items"]


# --------------------------------------------------------------------------------------------------
# 10. The `honcho` collection, and 14: what the worker derives from v1 messages
# --------------------------------------------------------------------------------------------------
def test_the_honcho_collection_is_the_users_derived_memory(v1: V1, v3: httpx.Client) -> None:
    app, user, session = _remembering(v1, v3)
    conclusions = _self_conclusions(v3, app.id, user.id)
    assert all(c["session_id"] == session.id for c in conclusions)
    assert any("Lisbon" in c["content"] for c in conclusions)
    documents = _honcho_documents(v1, app.id, user.id)
    assert sorted(d.id for d in documents) == sorted(c["id"] for c in conclusions)
    assert all(d.collection_id == "honcho" for d in documents)
    by_id = {c["id"]: c for c in conclusions}
    for d in documents:
        assert d.content == by_id[d.id]["content"]
        assert d.metadata == {**d.metadata, "level": by_id[d.id]["level"], "session_id": session.id}
    explicit = _honcho_documents(v1, app.id, user.id, filter={"level": "explicit"})
    assert sorted(d.id for d in explicit) == sorted(c["id"] for c in conclusions if c["level"] == "explicit")
    lisbon = next(c for c in conclusions if "Lisbon" in c["content"])
    found = v1.call("apps.users.collections.documents.query", "honcho", app_id=app.id, user_id=user.id,
                    query=lisbon["content"], top_k=1)
    assert [d.id for d in found] == [lisbon["id"]]
    got = v1.call("apps.users.collections.documents.get", lisbon["id"], app_id=app.id, user_id=user.id,
                  collection_id="honcho")
    assert got.content == lisbon["content"]


def test_v1_messages_are_summarised_for_v3(v1: V1, v3: httpx.Client) -> None:
    """A v1 batch crossing the short summary's cadence (20 messages) is summarised like any v3 session."""
    app, user, session = v1.world()
    v1.call("apps.users.sessions.messages.batch", session.id, app_id=app.id, user_id=user.id,
            messages=[{"content": f"note {i}", "is_user": i % 2 == 0} for i in range(20)])

    def summary() -> Any:
        found = v3.get(f"/v3/workspaces/{app.id}/sessions/{session.id}/summaries")
        assert found.status_code == 200, found.text
        return found.json()["short_summary"]

    eventually(lambda: summary() is not None, what="a short summary of the v1 session")
    assert summary()["content"].startswith("Summary: ")


def test_the_honcho_collection_and_v3_conclusions_write_through(v1: V1, v3: httpx.Client) -> None:
    app, user, _session = v1.world()
    where = {"app_id": app.id, "user_id": user.id}
    r = v3.post(f"/v3/workspaces/{app.id}/conclusions", json={"conclusions": [
        {"content": "prefers tea to coffee", "observer_id": user.id, "observed_id": user.id}]})
    assert r.status_code == 201, r.text
    made_in_v3 = r.json()[0]
    assert [d.id for d in _honcho_documents(v1, app.id, user.id)] == [made_in_v3["id"]]
    made_in_v1 = v1.call("apps.users.collections.documents.create", "honcho", **where,
                         content="works night shifts")
    assert made_in_v1.content == "works night shifts"
    assert made_in_v1.id in [c["id"] for c in _self_conclusions(v3, app.id, user.id)]
    refused = v1.fails("apps.users.collections.documents.update", made_in_v1.id, **where, collection_id="honcho",
                       content="edited")
    assert refused.type == "UnprocessableEntityError"
    deleted = v1.call("apps.users.collections.documents.delete", made_in_v3["id"], **where, collection_id="honcho")
    assert isinstance(deleted, dict | str)
    assert v3.get(f"/v3/workspaces/{app.id}/conclusions/{made_in_v3['id']}").status_code == 404
    assert v1.fails("apps.users.collections.documents.get", made_in_v3["id"], **where,
                    collection_id="honcho").type == "NotFoundError"
    v3.delete(f"/v3/workspaces/{app.id}/conclusions/{made_in_v1.id}")
    assert v1.fails("apps.users.collections.documents.get", made_in_v1.id, **where,
                    collection_id="honcho").type == "NotFoundError"


# --------------------------------------------------------------------------------------------------
# 11. Chat
# --------------------------------------------------------------------------------------------------
def test_chat_answers_from_memory(v1: V1, v3: httpx.Client) -> None:
    app, user, session = _remembering(v1, v3)
    where = {"app_id": app.id, "user_id": user.id}
    answer = v1.call("apps.users.sessions.chat", session.id, **where, queries="Where does the user live?")
    assert v1.last is not None and v1.last.result_type == ("AgentChat" if v1.v019 else "DialecticResponse")
    assert isinstance(answer.content, str) and answer.content
    several = v1.call("apps.users.sessions.chat", session.id, **where, queries=["Where do they live?", "Any pets?"])
    assert isinstance(several.content, str) and several.content
    # The session gives history, it does not confine: a new session of the same user sees the same memory.
    other = v1.new_session(app.id, user.id)
    elsewhere = v1.call("apps.users.sessions.chat", other.id, **where, queries="Where does the user live?")
    assert elsewhere.content == answer.content


def test_streamed_chat_is_raw_text_chunks(v1: V1, v3: httpx.Client) -> None:
    app, user, session = _remembering(v1, v3)
    where = {"app_id": app.id, "user_id": user.id}
    question = "Where does the user live?"
    whole = v1.call("apps.users.sessions.chat", session.id, **where, queries=question).content
    streamed = v1.chat_stream(app.id, user.id, session.id, question)
    assert streamed["status"] == 200 and streamed["content_type"].startswith("text/event-stream")
    text = "".join(streamed["chunks"])
    assert text == whole and "data:" not in text
    plain = v1.chat_stream(app.id, user.id, session.id, question, text=False)  # the call itself, lenient
    assert v1.last is not None and v1.last.result_type == "str" and plain == whole


def test_chat_on_an_unknown_session_is_not_found_before_any_byte(v1: V1) -> None:
    app, user, _session = v1.world()
    for text in (True, False):
        with pytest.raises(V1Error) as e:
            v1.chat_stream(app.id, user.id, "no-such-session", "hello?", text=text)
        assert e.value.type == "NotFoundError" and e.value.status == 404, e.value
    assert v1.fails("apps.users.sessions.chat", "no-such-session", app_id=app.id, user_id=user.id,
                    queries="hello?").type == "NotFoundError"


# --------------------------------------------------------------------------------------------------
# 17. The async client
# --------------------------------------------------------------------------------------------------
def test_the_async_client_creates_lists_and_streams(v1: V1, v3: httpx.Client) -> None:
    app, user, session = _remembering(v1, v3)
    async_ = v1.with_options(async_=True)
    where = {"app_id": app.id, "user_id": user.id}
    made = async_.call("apps.users.sessions.messages.create", session.id, **where, content="async hello",
                       is_user=True)
    assert made.is_user and async_.last is not None and async_.last.created_at_types == ["datetime"]
    listed = async_.call("apps.users.sessions.messages.list", session.id, **where, reverse=True, size=1)
    assert [m.id for m in listed["items"]] == [made.id]
    streamed = async_.chat_stream(app.id, user.id, session.id, "Where does the user live?")
    assert streamed["status"] == 200 and "".join(streamed["chunks"])
