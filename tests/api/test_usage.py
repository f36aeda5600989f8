"""LLM usage: every run is recorded per workspace and added up by GET /v3/workspaces/{id}/usage; Prometheus
counters at /metrics; /health says whether reasoning is on. On both databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from api_helpers import expect, ws_url
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from honcho_server.config import LLMSettings
from honcho_server.llm.base import LLMProviderError
from honcho_server.llm.client import LLMClient
from honcho_server.services.deps import Deps
from honcho_server.store.repos import workspaces as workspace_repo


def _client(deps: Deps, fail: bool = False) -> LLMClient:
    def model(_messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        if fail:
            raise ModelHTTPError(400, "gpt-4o-mini", {"error": "context too long"})
        return ModelResponse(parts=[TextPart("ok")], usage=RequestUsage(input_tokens=1000, output_tokens=100))

    settings = LLMSettings(provider="openai", model="gpt-4o-mini", api_key="test-key",
                           summary={"provider": "openai-compatible", "model": "llama3.2", "base_url": "http://x/v1"})
    return LLMClient(settings, deps.record_llm_call, model_for=lambda *_: FunctionModel(model))


async def test_usage_adds_up_the_calls_of_the_workspace(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
    expect(await client.post("/v3/workspaces", json={"id": f"{ws}-other"}), 201)
    async with deps.db.read() as conn:
        mine = await workspace_repo.find(conn, ws)
        other = await workspace_repo.find(conn, f"{ws}-other")
    assert mine is not None and other is not None
    llm = _client(deps)
    for _ in range(3):
        await llm.run("deriver", instructions="x", prompt="y", workspace_pk=mine.pk)
    await llm.run("summary", instructions="x", prompt="y", workspace_pk=mine.pk)
    await llm.run("deriver", instructions="x", prompt="y", workspace_pk=other.pk)
    with pytest.raises(LLMProviderError):
        await _client(deps, fail=True).run("deriver", instructions="x", prompt="y", workspace_pk=mine.pk)

    body = expect(await client.get(ws_url(ws, "usage")), 200)
    assert body["workspace_id"] == ws and body["reasoning_enabled"] is False  # the server's own settings
    totals = body["totals"]
    assert (totals["calls"], totals["failed_calls"], totals["requests"]) == (5, 1, 4)
    assert (totals["input_tokens"], totals["output_tokens"]) == (4000, 400)
    assert totals["unpriced_calls"] == 1  # the local model has no known price
    assert totals["cost_usd"] == pytest.approx(3 * (1000 * 0.15 + 100 * 0.60) / 1e6)
    deriver = next(r for r in body["by_model"] if r["task"] == "deriver")
    assert (deriver["provider"], deriver["model"], deriver["calls"], deriver["failed_calls"]) == (
        "openai", "gpt-4o-mini", 4, 1)
    summary = next(r for r in body["by_model"] if r["task"] == "summary")
    assert summary["cost_usd"] is None and summary["model"] == "llama3.2"

    future = (deps.now() + timedelta(hours=1)).isoformat()
    later = expect(await client.get(ws_url(ws, "usage"), params={"since": future}), 200)
    assert later["totals"]["calls"] == 0 and later["totals"]["cost_usd"] is None and later["by_model"] == []
    assert (await client.get(ws_url(ws, "usage"), params={"since": future, "until": future})).status_code == 422
    assert (await client.get(ws_url("no-such-workspace", "usage"))).status_code == 404

    disabled = await client.get("/metrics")
    assert disabled.status_code == 404 and disabled.text == "Metrics are disabled"
    deps.settings.server.metrics_enabled = True
    try:
        metrics = await client.get("/metrics")
    finally:
        deps.settings.server.metrics_enabled = False
    assert metrics.status_code == 200 and "text/plain" in metrics.headers["content-type"]
    assert 'honcho_llm_calls_total{model="gpt-4o-mini",outcome="ok",provider="openai",task="deriver"}' in metrics.text
    assert "honcho_llm_tokens_total" in metrics.text and "honcho_llm_cost_usd_total" in metrics.text


async def test_health_says_reasoning_is_off(client: httpx.AsyncClient) -> None:
    body = expect(await client.get("/health"), 200)
    assert body["status"] == "ok" and body["reasoning"] == "off"
    assert "HONCHO_LLM__PROVIDER" in body["reasoning_detail"]
