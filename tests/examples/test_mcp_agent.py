"""examples/mcp_agent.py against a live server (its /mcp endpoint) and a recording fake model: the agent recalls
over MCP what the server knows about the user (a conclusion this run never states) and the session so far, gives it
to the model, and stores the exchange back through MCP.

Uses the examples' fixtures (`app_server` from tests/app_server.py, `app_model` from tests/examples/conftest.py;
example_run.py)."""

from __future__ import annotations

import pytest
from example_run import app_requests, run_example, sdk
from sdk_helpers import unique

pytestmark = pytest.mark.sdk


def test_the_agent_recalls_through_mcp_before_asking_the_model(app_server, app_model) -> None:
    ws = unique("ws")
    sdk(app_server, ws).peer("user").conclusions.create([{"content": "The user is training for a marathon"}])

    out = run_example("mcp_agent.py", app_server, app_model, "--workspace", ws, "--session", "s1",
                      "--remember", "I moved to Lisbon last spring", "--ask", "What should I do on Sunday?")

    assert out.splitlines() == ["assistant> reply 1"]
    [request] = app_requests(app_model)
    system, question = request["messages"]
    assert question == {"role": "user", "content": "What should I do on Sunday?"}
    memory = system["content"]
    recalled, _, session = memory.partition("What you concluded about user from past conversations:")[2].partition(
        "This conversation so far:")
    assert "The user is training for a marathon" in recalled  # from peer_context: never said in this run
    assert "user: I moved to Lisbon last spring" in session  # from session_context
    stored = sdk(app_server, ws).session("s1").messages()
    assert [(m.peer_id, m.content) for m in stored] == [
        ("user", "I moved to Lisbon last spring"), ("user", "What should I do on Sunday?"),
        ("assistant", "reply 1")]
