"""examples/group_chat.py against a live server that reasons (its fake model derives one conclusion per longer
message) and a recording fake model for the host: the session's observe_others / observe_me settings decide who
forms a view of whom, and the host is prompted with the session's context."""

from __future__ import annotations

import pytest
from example_run import app_requests, run_example, sdk
from sdk_helpers import unique

pytestmark = pytest.mark.sdk


def test_each_peer_knows_what_its_session_config_lets_it_observe(app_server, app_model) -> None:
    ws = unique("ws")
    out = run_example("group_chat.py", app_server, app_model, "--workspace", ws, "--wait", "60")

    assert "has not reasoned" not in out
    report = out[out.index("alice (observe_others"):]
    sections = {block.split(" (", 1)[0]: block for block in report.split("\n\n")}
    assert "of bob: " in sections["alice"] and "violin" in sections["alice"]
    assert "of alice: nothing" in sections["bob"] and "of carol: nothing" in sections["bob"]
    assert "cello" in sections["carol"] and "violin" in sections["carol"]
    assert "cello" in sections["host"] and "violin" in sections["host"]
    for observer in ("alice", "bob", "host"):
        assert "of carol: nothing" in sections[observer]  # carol is observed by no one

    honcho = sdk(app_server, ws)
    pairs = {(c.observer_id, c.observed_id) for c in honcho.conclusions.list(size=100).items}
    assert pairs == {("alice", "alice"), ("alice", "bob"), ("bob", "bob"), ("carol", "alice"), ("carol", "bob"),
                     ("host", "alice"), ("host", "bob")}
    session = honcho.session("music-club")
    assert session.get_peer_configuration("carol").observe_me is False
    assert [m.peer_id for m in session.messages()] == ["alice", "host", "bob", "host", "carol", "host"]

    # The host is prompted with the chat so far, read back from the server: its last prompt holds every line.
    prompts = app_requests(app_model)
    assert len(prompts) == 3
    spoken = [m["content"] for m in prompts[-1]["messages"] if m["role"] != "system"]
    assert spoken[0].startswith("I have been learning to play the cello")
    assert spoken[-1] == "I mostly listen to old jazz records at home on weekends"
    assert spoken[1:4] == ["reply 1", "Nice, I play the violin in a community orchestra on Tuesdays", "reply 2"]
