"""/ready says what each LLM endpoint the tasks use was seen to support (what `llm check` or a first use stored),
or "not checked yet"; /health says whether reasoning is on and, when off, why. On both databases."""

from __future__ import annotations

import uuid

from api_helpers import expect

from honcho_server.config import LLM_TASKS
from honcho_server.services.deps import Deps
from provider_fakes import OpenAIFake
from support import api_client


def _with_llm(deps: Deps, **llm: object) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate(llm)
    settings.ready.require_worker = False  # no worker runs here
    return Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance)


async def test_ready_shows_what_each_endpoint_supports(deps: Deps) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"  # its own endpoints in the session's database
    with OpenAIFake("schema_only") as fake:
        llm_deps = _with_llm(deps, provider="openai-compatible", model=model, base_url=fake.base_url,
                             deriver={"base_url": "http://127.0.0.1:9/v1"})
        async with api_client(llm_deps) as client:
            health = expect(await client.get("/health"), 200)
            assert health["status"] == "ok" and health["reasoning"] == "on" and "llm_endpoints" not in health
            before = expect(await client.get("/ready"), 200)
            assert [e["capabilities"] for e in before["llm_endpoints"]] == ["not checked yet"] * 2

            report = await llm_deps.llm.probe("summary")  # what `llm check` does, stored in llm_capabilities
            assert report.complete
            body = expect(await client.get("/ready"), 200)
    assert health["llm"] == {"provider": "openai-compatible", "model": model}
    deriver, shared = body["llm_endpoints"]
    assert deriver == {"provider": "openai-compatible", "model": model, "tasks": ["deriver"],
                       "capabilities": "not checked yet"}
    assert shared["tasks"] == [t for t in LLM_TASKS if t != "deriver"]
    caps = shared["capabilities"]
    assert (caps["tools"], caps["forced_tool_choice"], caps["json_schema"], caps["streaming"]) == (
        "ignored", "ignored", "yes", "yes")
    assert caps["source"] == "probe" and caps["checked_at"]
    assert fake.base_url not in str(body) and "127.0.0.1" not in str(body)  # a public route: no addresses


async def test_health_says_why_reasoning_is_off(deps: Deps) -> None:
    async with api_client(_with_llm(deps, provider="openai-compatible", base_url="http://127.0.0.1:9/v1")) as client:
        body = expect(await client.get("/health"), 200)
        ready = expect(await client.get("/ready"), 200)
    assert body["status"] == "ok" and body["reasoning"] == "off"
    assert "no model is set" in body["reasoning_detail"] and "HONCHO_LLM__MODEL" in body["reasoning_detail"]
    assert "llm_endpoints" not in body and "llm_endpoints" not in ready
