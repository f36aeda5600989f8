"""Cascading deletion seen from the SDK, on both databases: its existing calls keep working (conclusion delete is
still 204 without a body, `session.delete()` still 202), and the receipts the SDK does not know about are there for
plain HTTP clients (the `X-Honcho-Receipt` header, `?receipt=true`, the message delete route)."""

from __future__ import annotations

import json

import httpx
import pytest
from honcho import Honcho
from honcho.http.exceptions import NotFoundError
from sdk_helpers import contents, eventually, ids, unique


def test_sdk_deletes_still_work_and_receipts_are_offered(honcho: Honcho, raw: httpx.Client) -> None:
    ws = honcho.workspace_id
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session(unique("s"))
    session.add_peers([alice, bob])
    session.add_messages([alice.message("I live in Lisbon"), bob.message("Nice"), alice.message("I am a nurse")])
    tea, chess = alice.conclusions.create([{"content": "alice drinks tea", "session_id": session.id},
                                           {"content": "alice plays chess"}])

    # The SDK's own call: 204, nothing to parse; the receipt's counts ride in a header it ignores.
    alice.conclusions.delete(chess.id)
    assert ids(alice.conclusions.list()) == [tea.id]
    with pytest.raises(NotFoundError):
        alice.conclusions.delete(chess.id)

    # A plain client asks for the receipt.
    (spare,) = alice.conclusions.create([{"content": "alice likes rain"}])
    response = raw.delete(f"/v3/workspaces/{ws}/conclusions/{spare.id}", params={"receipt": "true"})
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["deleted"] == {"type": "conclusion", "id": spare.id}
    assert receipt["conclusions_removed"] == [spare.id]
    assert json.loads(response.headers["X-Honcho-Receipt"]) == receipt["counts"]

    # Deleting a message (not an SDK call): the SDK then reads the session without it.
    messages = list(session.messages())
    response = raw.delete(f"/v3/workspaces/{ws}/sessions/{session.id}/messages/{messages[1].id}")
    assert response.status_code == 200, response.text
    assert response.json()["messages_removed"] == [messages[1].id]
    assert contents(session.messages()) == ["I live in Lisbon", "I am a nurse"]
    with pytest.raises(NotFoundError):
        session.get_message(messages[1].id)

    # session.delete() is still 202 for the SDK; the purge takes the session's conclusions with it.
    session.delete()
    eventually(lambda: ids(alice.conclusions.list()) == [] or None, what="the session's conclusions purged")
    with pytest.raises(NotFoundError):
        session.delete()
