"""honcho-cli is a client of the HTTP API: one database is enough to show it works against the server (the API's
behaviour on both databases is the SDK suites' job), and each CLI start costs about half a second."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
