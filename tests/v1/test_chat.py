"""v1 chat (docs/v1-api.md §1.8, §3.8) with a scripted model: JSON, raw streamed text (no SSE framing), refusals as
JSON before any byte, the session read for history but not confining recall (unless the key is the session's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import JWT_SECRET, bearer, expect, sign
from v1_route_helpers import new_app, new_session, new_user, send, sessions_url

from agent_fakes import ScriptedModel, Turn, answer, call, with_model
from honcho_server.config import AuthSettings
from honcho_server.services.deps import Deps
from support import api_client

ANSWER = "ada lives in Lisbon — she said so herself."


def search_then_answer(turn: Turn) -> list[Any]:
    if not turn.results():
        return [call("search_messages", query="Porto")]
    return [answer(ANSWER)]


@pytest.fixture
async def chat(deps: Deps) -> AsyncIterator[tuple[httpx.AsyncClient, ScriptedModel]]:
    model = ScriptedModel([search_then_answer], chunk=6)
    async with api_client(with_model(deps, model)) as client:
        yield client, model


async def _seed(client: httpx.AsyncClient, app: str) -> tuple[str, str]:
    """Ada's two sessions: one about Lisbon, one about Porto."""
    await new_app(client, app)
    await new_user(client, app, "ada")
    here = (await new_session(client, app, "ada"))["id"]
    there = (await new_session(client, app, "ada"))["id"]
    await send(client, app, "ada", here, "I moved to Lisbon in May", True)
    await send(client, app, "ada", here, "Lisbon is lovely!", False)
    await send(client, app, "ada", there, "My brother lives in Porto", True)
    return here, there


async def test_json_answers(chat: tuple[httpx.AsyncClient, ScriptedModel], app_name: str) -> None:
    client, model = chat
    here, _ = await _seed(client, app_name)
    url = sessions_url(app_name, "ada", here, "chat")
    assert expect(await client.post(url, json={"queries": "Where does ada live?"}), 200) == {"content": ANSWER}
    turn = model.turns[-2]
    assert "I moved to Lisbon in May" in turn.prompt  # the session's recent history is read ahead
    assert "Question: Where does ada live?" in turn.prompt
    assert "restricted to the session" not in turn.instructions  # ... without confining recall
    assert "My brother" in model.turns[-1].seen  # the search found the other session too
    listed = expect(await client.post(url, json={"queries": ["Where?", "Since when?"], "stream": False}), 200)
    assert listed == {"content": ANSWER}
    assert "1. Where?\n2. Since when?" in model.turns[-2].prompt


async def test_a_null_answer_is_an_empty_string(deps: Deps, app_name: str) -> None:
    async with api_client(with_model(deps, ScriptedModel([lambda turn: [answer("")]]))) as client:
        here, _ = await _seed(client, app_name)
        body = expect(await client.post(sessions_url(app_name, "ada", here, "chat"), json={"queries": "?"}), 200)
    assert body == {"content": ""}


@pytest.mark.parametrize("route", ["chat/stream", "chat"])
async def test_streamed_raw_text(chat: tuple[httpx.AsyncClient, ScriptedModel], app_name: str, route: str) -> None:
    client, _ = chat
    here, _ = await _seed(client, app_name)
    chunks: list[str] = []
    async with client.stream("POST", sessions_url(app_name, "ada", here, route),
                             json={"queries": "Where does ada live?", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        async for text in response.aiter_text():
            chunks.append(text)
    assert "".join(chunks) == ANSWER
    assert "data:" not in "".join(chunks)


@pytest.mark.parametrize("route", ["chat/stream", "chat"])
async def test_refusals_are_json_before_any_byte(chat: tuple[httpx.AsyncClient, ScriptedModel], app_name: str,
                                                 route: str) -> None:
    client, _ = chat
    here, _ = await _seed(client, app_name)
    await new_user(client, app_name, "bob")
    for user, session, body, status in (
            ("ada", "nope", {"queries": "?"}, 404),
            ("bob", here, {"queries": "?"}, 404),  # bob is not in the session
            ("nobody", here, {"queries": "?"}, 404),
            ("ada", here, {"queries": []}, 422),
            ("ada", here, {"queries": ""}, 422),
            ("ada", here, {"queries": "x" * 10_001}, 422),
            ("ada", here, {}, 422)):
        response = await client.post(sessions_url(app_name, user, session, route), json={**body, "stream": True})
        assert response.status_code == status, (user, session, body, response.text)
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json()


async def test_reasoning_off_is_a_400(client: httpx.AsyncClient, app_name: str) -> None:
    await new_app(client, app_name)
    await new_user(client, app_name, "ada")
    here = (await new_session(client, app_name, "ada"))["id"]
    for route in ("chat", "chat/stream"):
        expect(await client.post(sessions_url(app_name, "ada", here, route), json={"queries": "?"}), 400)


async def test_a_session_key_is_confined_to_its_session(deps: Deps, app_name: str) -> None:
    model = ScriptedModel([search_then_answer])
    llm_deps = with_model(deps, model)
    llm_deps.settings.auth = AuthSettings(enabled=True, jwt_secret=JWT_SECRET)
    admin = bearer(sign(ad=True))
    async with api_client(llm_deps) as client:
        client.headers.update(admin)
        here, there = await _seed(client, app_name)
        key = bearer(sign(w=app_name, s=here))
        url = sessions_url(app_name, "ada", here, "chat")
        expect(await client.post(url, json={"queries": "Where?"}, headers=key), 200)
        assert f"restricted to the session {here}" in model.turns[-2].instructions
        assert "My brother" not in model.turns[-1].seen  # the other session is out of reach
        expect(await client.post(sessions_url(app_name, "ada", there, "chat"), json={"queries": "?"}, headers=key),
               401)
        user_key = bearer(sign(w=app_name, p="ada"))
        expect(await client.post(url, json={"queries": "Where?"}, headers=user_key), 200)
        assert "restricted to the session" not in model.turns[-2].instructions
        expect(await client.post(sessions_url(app_name, "bob", here, "chat"), json={"queries": "?"},
                                 headers=user_key), 401)
