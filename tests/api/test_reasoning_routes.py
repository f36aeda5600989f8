"""Routes that need an LLM: without one they answer 400 saying how to configure a provider (never a 5xx, which
the SDK would retry); with one, schedule_dream queues one durable dream per collection and type."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from api_helpers import create_peer, create_workspace, expect, workspace_pk, ws_url
from sqlalchemy import select

from honcho_server.services.deps import Deps
from honcho_server.store.tables import jobs
from support import api_client

ROUTES = [("peers/alice/chat", {"query": "What does alice like?"}),
          ("chat", {"query": "Who likes tea?"}),
          ("schedule_dream", {"observer": "alice", "dream_type": "omni"})]


@pytest.mark.parametrize(("path", "body"), ROUTES)
async def test_without_an_llm_reasoning_routes_say_how_to_configure_one(
        client: httpx.AsyncClient, ws: str, path: str, body: dict) -> None:
    await create_workspace(client, ws)
    await create_peer(client, ws, "alice")
    detail = expect(await client.post(ws_url(ws, path), json=body), 400)["detail"]
    assert "no LLM is configured" in detail and "HONCHO_LLM__PROVIDER" in detail
    health = expect(await client.get("/health"), 200)
    assert health["reasoning"] == "off"


async def test_chat_bodies_are_validated_first(client: httpx.AsyncClient, ws: str) -> None:
    await create_workspace(client, ws)
    expect(await client.post(ws_url(ws, "peers/alice/chat"), json={"query": ""}), 422)
    expect(await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "x", "reasoning_level": "huge"}), 422)
    expect(await client.post(ws_url(ws, "schedule_dream"), json={"observer": "alice", "dream_type": "nap"}), 422)


@pytest.fixture
async def llm_client(deps: Deps) -> AsyncIterator[tuple[httpx.AsyncClient, Deps]]:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "m",
                                                "base_url": "http://127.0.0.1:9/v1"})
    llm_deps = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance)
    async with api_client(llm_deps) as c:
        yield c, llm_deps


async def test_schedule_dream_queues_one_durable_job(llm_client: tuple[httpx.AsyncClient, Deps], ws: str) -> None:
    client, llm_deps = llm_client
    await create_workspace(client, ws)
    body = {"observer": "alice", "observed": "bob", "dream_type": "omni", "session_id": None}
    for _ in range(2):  # a twin of an open dream is a no-op
        response = await client.post(ws_url(ws, "schedule_dream"), json=body)
        assert response.status_code == 204 and response.content == b""
    expect(await client.post(ws_url(ws, "schedule_dream"), json={**body, "dream_type": "card_refresh"}), 204)
    pk = await workspace_pk(llm_deps, ws)
    async with llm_deps.db.read() as conn:
        rows = list(await conn.execute(select(jobs.c.status, jobs.c.payload)
                                       .where(jobs.c.kind == "dream", jobs.c.workspace_id == pk)))
    assert sorted((r.status, r.payload["dream_type"], r.payload["observer"], r.payload["observed"]) for r in rows) == [
        ("pending", "card_refresh", "alice", "bob"), ("pending", "omni", "alice", "bob")]
    expect(await client.post(ws_url("missing-ws", "schedule_dream"), json=body), 404)
    expect(await client.post(ws_url(ws, "schedule_dream"), json={**body, "observed": "scope.x"}), 422)
