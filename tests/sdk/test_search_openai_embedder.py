"""Search through the SDK against a server whose embedder is an OpenAI-compatible endpoint (a loopback fake)."""

from __future__ import annotations

import pytest
from sdk_helpers import contents, eventually, unique

pytestmark = pytest.mark.sdk


def test_messages_are_embedded_by_the_endpoint_and_searchable(openai_server, make_client, embedding_endpoint):
    honcho = make_client(openai_server, workspace_id=unique("ws"))
    session = honcho.session(unique("s"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session.add_messages([alice.message("Tomatoes need full sun and regular watering"),
                          bob.message("My flight to Lisbon leaves on Friday")])
    # The hash vectors share coordinates for shared words only, so a word-free match is impossible here; what
    # this shows is the wiring: documents were embedded through the endpoint, queries too, and results fuse.
    eventually(lambda: any("Lisbon" in t for t in embedding_endpoint.inputs), what="documents embedded")
    hits = contents(honcho.search("watering tomatoes"))
    assert hits[0] == "Tomatoes need full sun and regular watering"
    assert contents(session.search("Lisbon flight", limit=1)) == ["My flight to Lisbon leaves on Friday"]
    assert "watering tomatoes" in embedding_endpoint.inputs  # the query went through the endpoint
