"""Search through the SDK: workspace, session and peer search return the SDK's Message objects."""

from __future__ import annotations

import pytest
from honcho.http.exceptions import NotFoundError
from sdk_helpers import contents, eventually, unique

pytestmark = pytest.mark.sdk


def test_search_routes_through_the_sdk(server, make_client):
    honcho = make_client(server, workspace_id=unique("ws"))
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    first, second = honcho.session(unique("s")), honcho.session(unique("s"))
    first.add_messages([alice.message("My dog Biscuit loves the park"), bob.message("I baked sourdough bread")])
    second.add_messages([alice.message("Golden retrievers are wonderful dogs")])

    # Found by words at once (before the worker embeds anything) ...
    assert set(contents(honcho.search("dogs"))[:2]) == {"My dog Biscuit loves the park",
                                                         "Golden retrievers are wonderful dogs"}
    # ... and by meaning once it has.
    eventually(lambda: contents(honcho.search("puppy", limit=1)) == ["Golden retrievers are wonderful dogs"],
               what="found by meaning once embedded")
    assert contents(honcho.search("oven", limit=1)) == ["I baked sourdough bread"]
    assert contents(first.search("dogs"))[0] == "My dog Biscuit loves the park"
    assert contents(bob.search("bread")) == ["I baked sourdough bread"]
    assert "I baked sourdough bread" not in contents(alice.search("bread"))
    assert len(honcho.search("dogs", limit=1)) == 1
    assert contents(honcho.search("dogs", filters={"session_id": second.id})) == [
        "Golden retrievers are wonderful dogs"]
    with pytest.raises(NotFoundError):
        honcho.search("dogs", scope="no-such-scope")
