"""The v1 suite's harness itself, on both SDK versions: the venvs install from PyPI, the driver starts under each and
answers every kind of command, an SDK exception comes back with its class, status and body, and a response the SDK's
strict models refuse is an error, not a pass. Most of it runs against a loopback stub whose answers the test chooses
(honcho_bench.loopback); one call goes to the live server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from v1_helpers import V1, cache_root

from honcho_bench.loopback import LoopbackServer, Streamed

pytestmark = pytest.mark.sdk

CREATED = "2025-01-02T03:04:05.123456Z"
USERS = [{"id": f"u{n}", "name": f"user {n}", "app_id": "A", "metadata": {}, "created_at": CREATED}
         for n in range(7)]


class Stub:
    """Answers the v1 routes the harness tests ask for; records the requests (path with query, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append((path, body))
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/v1/apps/A/users/name/no-app-id":  # a User without app_id: strict models refuse it
            return 200, {"id": "u", "name": "no-app-id", "metadata": {}, "created_at": CREATED}, {}
        if url.path == "/v1/apps/A/users/name/ok":
            return 200, USERS[0], {"x-stub": "yes"}
        if url.path == "/v1/apps/A/users/list":
            page, size = int(query.get("page", 1)), int(query.get("size", 50))
            items = USERS[(page - 1) * size:page * size]
            return 200, {"items": items, "total": len(USERS), "page": page, "size": size,
                         "pages": -(-len(USERS) // size)}, {}
        if url.path == "/v1/apps/get_or_create/dup":  # a 409 the server says not to retry
            return 409, {"detail": "exists"}, {"x-should-retry": "false"}
        if url.path == "/v1/apps/get_or_create/busy":  # a 409 with no veto: retried at once (retry-after-ms)
            return 409, {"detail": "busy"}, {"retry-after-ms": "1"}
        if url.path.endswith("/chat/stream") or url.path.endswith("/chat"):
            return 200, Streamed(["Hel", "lo"]), {}
        return 404, {"detail": f"stub: no route {url.path}"}, {}


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[Stub, str]]:
    handler = Stub()
    with LoopbackServer(handler, name="v1-harness-stub") as server:
        yield handler, server.url


@pytest.fixture
def on_stub(v1: V1, stub: tuple[Stub, str]) -> V1:
    handler, url = stub
    handler.requests.clear()
    return v1.with_options(base_url=url)


def test_the_venv_holds_the_version_and_the_driver_runs_under_it(v1: V1, version: str) -> None:
    info = v1.driver.info
    assert info["version"] == version
    assert info["python"].startswith("3.")
    assert str(v1.driver.python).startswith(str(cache_root())), v1.driver.python
    assert (cache_root() / f"v1sdk-{version}" / ".honcho-server-installed").is_file()


def test_the_live_server_answers_an_unknown_app_with_a_json_404(v1: V1) -> None:
    error = v1.fails("apps.get_by_name", "no-such-app-harness")
    assert error.type == "NotFoundError" and error.status == 404
    assert isinstance(error.detail, str | list)
    assert len(error.requests) == 1 and error.requests[0][0] == "GET"
    assert error.requests[0][1].endswith("/v1/apps/name/no-such-app-harness")


def test_a_model_the_strict_sdk_refuses_is_an_error(on_stub: V1) -> None:
    error = on_stub.fails("apps.users.get_by_name", "no-app-id", app_id="A")
    assert error.type == "APIResponseValidationError" and error.status == 200
    # The same answer through a lenient client (the SDK's default) passes: the strict one is what the tests use.
    lenient = on_stub.with_options(lenient=True).call("apps.users.get_by_name", "no-app-id", app_id="A")
    assert lenient == {"id": "u", "name": "no-app-id", "metadata": {}, "created_at": CREATED}


def test_a_model_comes_back_as_json_with_its_created_at_parsed(on_stub: V1) -> None:
    user = on_stub.call("apps.users.get_by_name", "ok", app_id="A")
    assert user == USERS[0] and user.app_id == "A"
    assert on_stub.last is not None and on_stub.last.created_at_types == ["datetime"]
    assert on_stub.last.result_type == "User"


def test_pages_and_the_sdks_own_auto_pagination(on_stub: V1, stub: tuple[Stub, str]) -> None:
    page = on_stub.call("apps.users.list", "A", size=3, page=3, reverse=True, filter={"k": "v"})
    assert [u.id for u in page["items"]] == ["u6"]
    assert {k: page[k] for k in ("page", "size", "total", "pages")} == {"page": 3, "size": 3, "total": 7, "pages": 3}
    path, body = stub[0].requests[-1]
    assert parse_qs(urlsplit(path).query) == {"page": ["3"], "size": ["3"], "reverse": ["true"]}
    assert body == {"filter": {"k": "v"}}
    # The SDKs' auto-pagination stops after the second page it fetches (docs/v1-api.md §1.7).
    walked = on_stub.iterate("apps.users.list", "A", size=3)
    assert [u.id for u in walked["items"]] == ["u0", "u1", "u2", "u3", "u4", "u5"] and walked["pages"] == [1, 2]


def test_errors_carry_status_body_headers_and_the_requests_sent(on_stub: V1) -> None:
    error = on_stub.with_options(max_retries=2).fails("apps.get_or_create", "dup")
    assert error.type == "ConflictError" and error.status == 409 and error.detail == "exists"
    assert error.headers.get("x-should-retry") == "false"
    assert len(error.requests) == 1  # vetoed: sent once
    error = on_stub.with_options(max_retries=2).fails("apps.get_or_create", "busy")
    assert len(error.requests) == 3  # not vetoed: the SDK's two retries
    error = on_stub.fails("apps.get_or_create", "busy")
    assert len(error.requests) == 1  # the suite's clients do not retry


def test_raw_and_streamed_text(on_stub: V1, version: str) -> None:
    raw = on_stub.raw("apps.users.get_by_name", "ok", app_id="A")
    assert raw["status"] == 200 and raw["headers"]["x-stub"] == "yes" and raw["body"] == USERS[0]
    method = "apps.users.sessions.stream" if version == "0.0.19" else "apps.users.sessions.chat"
    extra = {} if version == "0.0.19" else {"stream": True}
    streamed = on_stub.with_options(lenient=True).stream_text(method, "S", app_id="A", user_id="U", queries="q?",
                                                              **extra)
    assert streamed["status"] == 200 and streamed["content_type"].startswith("text/event-stream")
    assert "".join(streamed["chunks"]) == "data: Hel\n\ndata: lo\n\n"  # the stub frames SSE; the SDK passes it as is


def test_the_async_client(on_stub: V1) -> None:
    async_ = on_stub.with_options(async_=True)
    assert async_.call("apps.users.get_by_name", "ok", app_id="A") == USERS[0]
    assert async_.last is not None and async_.last.created_at_types == ["datetime"]
    page = async_.call("apps.users.list", "A", size=2)
    assert [u.id for u in page["items"]] == ["u0", "u1"]
    assert [u.id for u in async_.iterate("apps.users.list", "A", size=3)["items"]] == [f"u{n}" for n in range(6)]
    assert async_.fails("apps.users.get_by_name", "no-app-id", app_id="A").type == "APIResponseValidationError"


def test_a_bad_command_is_an_answer_not_a_dead_driver(v1: V1) -> None:
    assert v1.fails("apps.no_such_method").type == "AttributeError"
    assert v1.fails("apps.users.get_by_name", "", app_id="A").type == "ValueError"  # the SDK refuses empty ids
    assert json.loads(json.dumps(v1.driver.info))["ready"] is True
