"""examples/chat_loop.py, scripted, against a live server (auth on: the key comes from HONCHO_API_KEY) and a
recording fake model: every turn is stored, and the model is given the session's context (what the server knows
about the user included), not a local history."""

from __future__ import annotations

import pytest
from example_run import app_requests, run_example, sdk
from sdk_helpers import unique

pytestmark = pytest.mark.sdk


def test_turns_are_stored_and_the_context_reaches_the_model(app_server, app_model) -> None:
    ws = unique("ws")
    # Something the server knows about the user that this run never says: only the context can carry it.
    sdk(app_server, ws).peer("user").conclusions.create([{"content": "The user is allergic to peanuts"}])

    out = run_example("chat_loop.py", app_server, app_model, "--workspace", ws, "--session", "s1",
                      "--say", "Suggest a snack for my hike", "--say", "Which of those has no nuts?")

    assert out.splitlines() == ["assistant> reply 1", "assistant> reply 2"]
    stored = sdk(app_server, ws).session("s1").messages()
    assert [(m.peer_id, m.content) for m in stored] == [
        ("user", "Suggest a snack for my hike"), ("assistant", "reply 1"),
        ("user", "Which of those has no nuts?"), ("assistant", "reply 2")]
    first, second = app_requests(app_model)
    for request in (first, second):
        system = [m["content"] for m in request["messages"] if m["role"] == "system"]
        assert any("<peer_representation>" in s and "allergic to peanuts" in s for s in system), system
    # The second turn's prompt holds the whole conversation so far, read back from the server.
    assert [(m["role"], m["content"]) for m in second["messages"] if m["role"] != "system"] == [
        ("user", "Suggest a snack for my hike"), ("assistant", "reply 1"), ("user", "Which of those has no nuts?")]
