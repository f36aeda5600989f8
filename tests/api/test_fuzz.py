"""Property-based fuzzing of the app's own OpenAPI document with schemathesis (spec 1.5: never a 5xx for
anything a client can send, since the SDK retries 5xx and would submit the same request three times).

Every operation gets positive and negative cases (examples, coverage and fuzzing phases), sent in-process
over ASGI to an app on a fresh database of each backend of the suite. Checked: no 5xx, and every response
whose status is documented matches the schema declared for it. Bounded (MAX_EXAMPLES per operation) and
derandomized with a fixed seed, so a CI run is quick (about 30 s for both backends) and repeats exactly; a
failure prints the request that caused it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (it is in the `test` extra: pip install -e '.[test]')"
)

from hypothesis import HealthCheck, settings  # noqa: E402  (schemathesis brings hypothesis)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from honcho_server.api.app import create_app  # noqa: E402
from honcho_server.store.migrate import upgrade  # noqa: E402
from support import fresh_database_url, make_settings  # noqa: E402

# Overridable for a deeper local run, e.g. HONCHO_FUZZ_EXAMPLES=500 HONCHO_FUZZ_SEED=7.
MAX_EXAMPLES = int(os.environ.get("HONCHO_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("HONCHO_FUZZ_SEED", "20240229"))

# The document does not depend on the database, so it is read at collection time from an app that never
# connects (the requests then go to `fuzz_app`, one per backend).
schema = schemathesis.openapi.from_dict(
    create_app(make_settings(f"sqlite:///{tempfile.gettempdir()}/never-opened.db")).openapi(),
    config=schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"}}
    ),
)


@pytest.fixture(scope="module")
def fuzz_app(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An app on a database of its own: fuzzing creates and deletes workspaces no other test should see.

    It runs on schemathesis's event-loop thread, with its own engine, from the first request on."""
    url = fresh_database_url(backend, Path(tmp_path_factory.mktemp(f"fuzz-{backend}")))
    upgrade(url)
    # No worker runs here: /ready's 503 would be a true answer, not one a request caused.
    return create_app(make_settings(url, ready={"require_worker": False}))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_responses_match_the_schema(case: Any, fuzz_app: Any) -> None:
    case.call_and_validate(app=fuzz_app, checks=[not_a_server_error, response_schema_conformance])
