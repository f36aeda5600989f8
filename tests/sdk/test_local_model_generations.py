"""Issues 16 and 17 against the plain OpenAI-compatible model of ../shared/bench/fake_openai.py (it honours
`response_format`, answers text otherwise, never calls tools): a rederive with another model name runs to a ready
generation (its calls recorded as its own, the app's own conclusion carried over), and the v1 chat answers, plain
and streamed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sdk_helpers import eventually

pytestmark = pytest.mark.sdk


def _ok(response: httpx.Response, *status: int) -> Any:
    assert response.status_code in (status or (200,)), response.text
    return response.json() if response.content and "json" in response.headers.get("content-type", "") else None


def test_rederive_and_v1_chat_with_a_model_that_never_calls_tools(local_model_server: Any) -> None:
    ws = f"lmg-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=local_model_server.base_url, timeout=60.0) as http:
        app = _ok(http.get(f"/v1/apps/get_or_create/{ws}"))
        user = _ok(http.get(f"/v1/apps/{app['id']}/users/get_or_create/ada"))
        base = f"/v1/apps/{app['id']}/users/{user['id']}"
        session = _ok(http.post(f"{base}/sessions", json={}))
        for text in ("I moved to Porto last spring", "I keep bees on the roof", "My sister Joan visits in May"):
            _ok(http.post(f"{base}/sessions/{session['id']}/messages", json={"content": text, "is_user": True}))

        honcho = f"{base}/collections/honcho/documents"
        _ok(http.post(honcho, json={"content": "Ada prefers tea"}))  # the app's own conclusion, through v1

        def drained() -> bool:
            status = _ok(http.get(f"/v3/workspaces/{ws}/queue/status"))
            return status["pending_work_units"] == 0 and status["in_progress_work_units"] == 0

        eventually(drained, timeout=60.0, what="g1's derivation done")
        made = _ok(http.post(f"/v3/workspaces/{ws}/generations", json={"model": "fake-b"}), 201)
        assert made["estimate"]["messages"] == 3 and made["state"] == "building"

        def ready() -> bool:
            return _ok(http.get(f"/v3/workspaces/{ws}/generations/g2"))["state"] == "ready"

        eventually(ready, timeout=60.0, what="g2 ready")
        usage = _ok(http.get(f"/v3/workspaces/{ws}/generations/g2"))["usage"]
        assert usage["calls"] >= 1, "the fake model derived g2, its calls recorded as g2's"
        listed = _ok(http.post(f"/v3/workspaces/{ws}/conclusions/list", params={"generation": "g2"}, json={}))
        assert "Ada prefers tea" in [c["content"] for c in listed["items"]], "the app's own conclusion carried over"

        answer = _ok(http.post(f"{base}/sessions/{session['id']}/chat", json={"queries": "Where do I live?"}))
        assert isinstance(answer["content"], str) and answer["content"]
        with http.stream("POST", f"{base}/sessions/{session['id']}/chat/stream",
                         json={"queries": "What do I keep?"}) as streamed:
            assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
            text = "".join(streamed.iter_text())
        assert text and not text.startswith("data:")
