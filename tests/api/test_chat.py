"""Peer and workspace chat over HTTP (spec 11) with a scripted model: the JSON and SSE responses byte for byte
(parsed by the SDK's own SSE parser and Evidence model too), the ordered checks of spec 11.1 all answered as JSON
errors before any stream starts, provider failures as 502, peer keys confined to their sessions."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import JWT_SECRET, add_messages, bearer, create_session, expect, msg, sign, ws_url
from honcho.api_types import Evidence
from honcho.utils.sse import SSEStreamParser
from pydantic_ai.exceptions import ModelHTTPError

from agent_fakes import ScriptedModel, Turn, answer, call, with_model
from honcho_server.config import AuthSettings
from honcho_server.llm.client import LLMClient
from honcho_server.services.deps import CapabilityTable, Deps
from support import api_client


def search_then_answer(turn: Turn) -> list[Any]:
    if not turn.results():
        return [call("search_messages", query="Lisbon")]
    return [answer("alice lives in Lisbon, she said so herself.")]


@pytest.fixture
async def chat(deps: Deps) -> AsyncIterator[tuple[httpx.AsyncClient, ScriptedModel]]:
    model = ScriptedModel([search_then_answer], chunk=6)
    async with api_client(with_model(deps, model)) as client:
        yield client, model


async def _seed(client: httpx.AsyncClient, ws: str) -> list[dict[str, Any]]:
    await create_session(client, ws, "trip", peers={"alice": {}, "bob": {}})
    return await add_messages(client, ws, "trip", [msg("alice", "I moved to Lisbon in May"),
                                                  msg("bob", "Lisbon is lovely, café au lait!")])


def events(body: bytes) -> list[dict[str, Any]]:
    """The SSE events, checking the framing: one `data: ` line and a blank line each, nothing else."""
    text = body.decode()
    assert text.endswith("\n\n")
    chunks = text[:-2].split("\n\n")
    assert all(c.startswith("data: ") and "\n" not in c for c in chunks), text
    return [json.loads(c.removeprefix("data: ")) for c in chunks]


async def test_json_answer_with_and_without_evidence(chat: tuple[httpx.AsyncClient, ScriptedModel], ws: str) -> None:
    client, _ = chat
    sent = await _seed(client, ws)
    body = expect(await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "Where does alice live?"}), 200)
    assert body == {"content": "alice lives in Lisbon, she said so herself."}
    body = expect(await client.post(ws_url(ws, "peers/alice/chat"),
                                    json={"query": "Where does alice live?", "include_evidence": True}), 200)
    evidence = Evidence.model_validate(body["evidence"])  # what SDK 2.7.0 parses, strictly
    refs = {m.id: m for m in evidence.messages}
    assert refs[sent[0]["id"]].session_id == "trip" and refs[sent[0]["id"]].peer_id == "alice"
    assert [(t.tool_name, t.tool_input) for t in evidence.tool_calls] == [
        ("search_messages", {"query": "Lisbon", "limit": 10, "after": None, "before": None})]
    assert body["evidence"]["conclusions"] == []


async def test_sse_framing_deltas_then_done_with_evidence(chat: tuple[httpx.AsyncClient, ScriptedModel],
                                                         ws: str) -> None:
    client, model = chat
    await _seed(client, ws)
    response = await client.post(ws_url(ws, "peers/alice/chat"),
                                 json={"query": "Where does alice live?", "stream": True, "include_evidence": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    found = events(response.content)
    deltas, last = found[:-1], found[-1]
    assert len(deltas) > 2 and all(set(e) == {"delta", "done"} and e["done"] is False for e in deltas)
    assert "".join(e["delta"]["content"] for e in deltas) == "alice lives in Lisbon, she said so herself."
    assert last["done"] is True and Evidence.model_validate(last["evidence"]).tool_calls[0].tool_name == \
        "search_messages"
    assert response.content.startswith(b'data: {"delta": {"content": ')  # json.dumps spacing, as upstream
    assert len(model.turns) == 2
    parser = SSEStreamParser()
    parsed = [piece for i in range(0, len(response.content), 5) for piece in parser.feed(response.content[i:i + 5])]
    assert "".join(parsed) == "alice lives in Lisbon, she said so herself." and parser.done
    assert parser.evidence is not None

    plain = await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "Where?", "stream": True})
    assert events(plain.content)[-1] == {"done": True}


async def test_workspace_chat_json_and_stream(chat: tuple[httpx.AsyncClient, ScriptedModel], ws: str) -> None:
    client, model = chat
    await _seed(client, ws)
    body = expect(await client.post(ws_url(ws, "chat"), json={"query": "Who lives in Lisbon?"}), 200)
    assert body["content"].startswith("alice lives in Lisbon")
    assert "any peer of the workspace" in model.turns[0].instructions
    streamed = await client.post(ws_url(ws, "chat"), json={"query": "Who?", "stream": True,
                                                           "include_evidence": True})
    assert events(streamed.content)[-1]["done"] is True
    expect(await client.post(ws_url("no-such-workspace-x", "chat"), json={"query": "Who?"}), 404)


async def test_structured_answer_is_a_json_string(deps: Deps, ws: str) -> None:
    model = ScriptedModel([lambda turn: [answer(city="Lisbon", since=2024)]])
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "since": {"type": "integer"}},
              "required": ["city"], "$schema": "https://json-schema.org/draft/2020-12/schema"}
    async with api_client(with_model(deps, model)) as client:
        await _seed(client, ws)
        body = expect(await client.post(ws_url(ws, "peers/alice/chat"),
                                        json={"query": "Where?", "response_format": schema}), 200)
        assert json.loads(body["content"]) == {"city": "Lisbon", "since": 2024}
        streamed = await client.post(ws_url(ws, "peers/alice/chat"),
                                     json={"query": "Where?", "response_format": schema, "stream": True})
        assert json.loads("".join(e["delta"]["content"] for e in events(streamed.content)[:-1])) == \
            {"city": "Lisbon", "since": 2024}


BAD_REQUESTS = [
    ({"query": "x" * 10_001}, 422, None),
    ({"query": "q", "reasoning_level": "extreme"}, 422, None),
    ({"query": "q", "target": "scope.team"}, 422, "is a scope"),
    ({"query": "q", "scope": "team", "filters": {"session_id": "trip"}}, 422, "`scope` and `filters`"),
    ({"query": "q", "scope": "team", "session_id": "trip"}, 422, "`scope` and `session_id`"),
    ({"query": "q", "scope": ["a", "b"]}, 404, "Scope a not found"),
    ({"query": "q", "scope": []}, 422, "1 to 100 scopes"),
    ({"query": "q", "filters": {"peer_id": "alice"}}, 422, "only session_id"),
    ({"query": "q", "filters": {"session_id": "*"}}, 422, "session ids"),
    ({"query": "q", "session_id": "trip", "filters": {"session_id": ["other"]}}, 422, "must be included"),
    ({"query": "q", "response_format": {"type": "array"}}, 422, "Invalid response_format: the root"),
    ({"query": "q", "response_format": {"type": "object", "not": {}}}, 422, "Invalid response_format: 'not'"),
    ({"query": "q", "target": "nobody"}, 404, "Peer nobody not found"),
    ({"query": "q", "session_id": "gone"}, 404, "Session gone not found"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("body", "status", "detail"), BAD_REQUESTS)
async def test_every_check_answers_json_before_any_stream(chat: tuple[httpx.AsyncClient, ScriptedModel], ws: str,
                                                          body: dict[str, Any], status: int, detail: str | None,
                                                          stream: bool) -> None:
    client, model = chat
    await _seed(client, ws)
    response = await client.post(ws_url(ws, "peers/alice/chat"), json={**body, "stream": stream})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    if detail:
        assert detail in json.dumps(response.json()["detail"])
    assert model.turns == []


async def test_the_asking_peer_is_created(chat: tuple[httpx.AsyncClient, ScriptedModel], ws: str) -> None:
    client, _ = chat
    await _seed(client, ws)
    expect(await client.post(ws_url(ws, "peers/newcomer/chat"), json={"query": "Who am I?"}), 200)
    listed = expect(await client.post(ws_url(ws, "peers/list"), json={}), 200)
    assert "newcomer" in {p["id"] for p in listed["items"]}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_provider_failure_is_a_502_not_a_broken_stream(deps: Deps, ws: str, stream: bool) -> None:
    def down(turn: Turn) -> list[Any]:
        raise ModelHTTPError(401, "gpt-4o-mini", {"error": "invalid api key"})

    async with api_client(with_model(deps, ScriptedModel([down]))) as client:
        await _seed(client, ws)
        response = await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "Where?", "stream": stream})
    assert response.status_code == 502 and "HTTP 401" in response.json()["detail"]


async def test_peer_keys_are_confined_to_their_sessions(deps: Deps, ws: str) -> None:
    llm_deps = with_model(deps, ScriptedModel([lambda turn: [answer("ok")]]))
    llm_deps.settings.auth = AuthSettings(enabled=True, jwt_secret=JWT_SECRET)
    async with api_client(llm_deps) as client:
        admin = bearer(sign(ad=True))
        await client.post("/v3/workspaces", json={"id": ws}, headers=admin)
        expect(await client.post(ws_url(ws, "sessions"), json={"id": "trip", "peers": {"alice": {}}},
                                 headers=admin), 201)
        expect(await client.post(ws_url(ws, "sessions"), json={"id": "private", "peers": {"bob": {}}},
                                 headers=admin), 201)
        alice = bearer(sign(w=ws, p="alice"))
        url = ws_url(ws, "peers/alice/chat")
        expect(await client.post(url, json={"query": "q", "session_id": "trip"}, headers=alice), 200)
        for body in ({"session_id": "private"}, {"filters": {"session_id": ["trip", "private"]}}):
            detail = expect(await client.post(url, json={"query": "q", **body}, headers=alice), 401)["detail"]
            assert detail == "JWT not permissioned for this resource"
        assert "workspace- or admin-level" in expect(
            await client.post(url, json={"query": "q", "scope": "team"}, headers=alice), 401)["detail"]
        expect(await client.post(ws_url(ws, "peers/bob/chat"), json={"query": "q"}, headers=alice), 401)
        expect(await client.post(ws_url(ws, "chat"), json={"query": "q"}, headers=alice), 401)
        expect(await client.post(ws_url(ws, "chat"), json={"query": "q"}, headers=bearer(sign(w=ws))), 200)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_half_configured_provider_is_a_400_saying_what_is_missing(deps: Deps, ws: str, stream: bool) -> None:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "m"})  # no base_url
    async with api_client(Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder,
                               vectors_ready=deps.vectors_ready)) as client:
        await _seed(client, ws)
        response = await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "Where?", "stream": stream})
    assert response.status_code == 400 and "HONCHO_LLM__BASE_URL" in response.json()["detail"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("provider", ["openai-compatible", "openai"])
@pytest.mark.parametrize("stream", [False, True])
async def test_an_unreachable_provider_is_a_503_after_one_retry(deps: Deps, ws: str, stream: bool,
                                                                 provider: str) -> None:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": provider, "model": "m", "api_key": "k",
                                                "base_url": f"http://127.0.0.1:{_closed_port()}/v1"})
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    chat_deps = Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder, vectors_ready=deps.vectors_ready)
    chat_deps.llm_instance = LLMClient(settings.llm, chat_deps.record_llm_call, sleep=sleep,
                                       store=CapabilityTable(chat_deps))
    async with api_client(chat_deps) as client:
        await _seed(client, ws)
        response = await client.post(ws_url(ws, "peers/alice/chat"), json={"query": "Where?", "stream": stream})
    detail = response.json()["detail"]
    assert response.status_code == 503 and "unreachable" in detail and "127.0.0.1" in detail, detail
    # An openai-compatible server is probed first, which says so at once; a hosted API's request is tried twice.
    assert len(slept) == (0 if provider == "openai-compatible" else 1)
