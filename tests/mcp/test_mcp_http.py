"""The MCP server over streamable HTTP at /mcp (the app in-process, its lifespan running; the SDK's own client):
tools listed and each called, compact paged results, errors as MCP errors, resources and prompts, and /mcp's own
HTTP rules (401 without a key, admin with auth off, loopback Host only, 501 without the SDK)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import bearer
from mcp_helpers import ADMIN, BASE, build_world, call, http_client, mcp_app, mcp_client, prompt, read

from honcho_server.api.app import create_app
from honcho_server.domain.conclusions import NewConclusion
from honcho_server.mcp import INSTALL_HINT, budget
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import workspaces as workspace_repo

EXPECTED_TOOLS = {
    "workspace_list", "workspace_inspect", "workspace_search", "workspace_metadata_get", "workspace_metadata_set",
    "queue_status", "peer_create", "peer_list", "peer_chat", "peer_card_get", "peer_card_set", "peer_context",
    "peer_representation", "session_create", "session_list", "session_inspect", "session_delete", "session_clone",
    "session_add_peers", "session_remove_peers", "session_peers", "session_add_messages", "session_messages",
    "session_message", "session_context", "conclusion_list", "conclusion_query", "conclusion_create",
    "conclusion_delete", "schedule_dream",
}


@pytest.fixture(scope="module")
async def app(deps: Deps) -> AsyncIterator[Any]:
    async with mcp_app(deps) as started:
        yield started


async def ok(client: Any, tool: str, **args: Any) -> Any:
    """The tool's result, parsed when it is JSON; fails the test on an error result."""
    is_error, text = await call(client, tool, args)
    assert not is_error, f"{tool}: {text}"
    assert len(text) <= budget.MAX_RESULT_CHARS + 200, f"{tool} answered {len(text)} characters"
    try:
        return json.loads(text)
    except ValueError:
        return text


async def test_lists_every_tool_with_a_description_and_schema(app: Any) -> None:
    async with mcp_client(app, ADMIN) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED_TOOLS
    for t in tools:
        assert t.description and len(t.description) > 40, t.name
        assert t.input_schema["type"] == "object", t.name
        for name, prop in t.input_schema.get("properties", {}).items():
            assert '"description"' in json.dumps(prop), f"{t.name}.{name} has no description"


async def test_calls_every_tool(app: Any) -> None:
    """Admin calls each tool once, in a workflow an agent would follow, checking what comes back."""
    async with http_client(app) as http:
        world = await build_world(http)
    ws = world.ws
    async with mcp_client(app, ADMIN) as c:
        listed = await ok(c, "workspace_list", size=50)
        assert listed["total"] >= 1 and len(listed["workspaces"]) == min(50, listed["total"])
        inspected = await ok(c, "workspace_inspect", workspace=ws)
        assert inspected["peers"] == 3 and inspected["active_sessions"] == 2 and inspected["reasoning"] == "on"
        found = await ok(c, "workspace_search", workspace=ws, query="hiking")
        assert {m["session"] for m in found["messages"]} == {"s1", "s2"}
        assert (await ok(c, "workspace_metadata_set", workspace=ws, metadata={"team": "blue"}))["metadata"] == \
            {"team": "blue"}
        assert (await ok(c, "workspace_metadata_get", workspace=ws))["metadata"] == {"team": "blue"}
        assert "totals" in await ok(c, "queue_status", workspace=ws)
        assert (await ok(c, "peer_create", workspace=ws, peer="dave", metadata={"role": "guide"}))["created"]
        assert {p["id"] for p in (await ok(c, "peer_list", workspace=ws))["peers"]} == {"alice", "bob", "carol",
                                                                                        "dave"}
        assert await ok(c, "peer_chat", workspace=ws, peer="alice", query="What do I like?") == "Alice likes hiking."
        assert await ok(c, "peer_card_set", workspace=ws, peer="alice", card=["Likes tea"]) == \
            {"peer": "alice", "target": "alice", "card": ["Likes tea"]}
        assert (await ok(c, "peer_card_get", workspace=ws, peer="alice"))["card"] == ["Likes tea"]
        context = await ok(c, "peer_context", workspace=ws, peer="alice")
        assert context["card"] == ["Likes tea"] and world.marker("conclusion") in context["representation"]
        assert world.marker("conclusion") in await ok(c, "peer_representation", workspace=ws, peer="alice")
        assert (await ok(c, "session_create", workspace=ws, session="s3", peers=["alice", "dave"]))["created"]
        assert {s["id"] for s in (await ok(c, "session_list", workspace=ws))["sessions"]} == {"s1", "s2", "s3"}
        assert {s["id"] for s in (await ok(c, "session_list", workspace=ws, peer="alice"))["sessions"]} == \
            {"s1", "s3"}
        stored = await ok(c, "session_add_messages", workspace=ws, session="s3", messages=[
            {"peer": "alice", "content": "Shall we go to the lake?"}, {"peer": "dave", "content": "Yes, Sunday."}])
        assert stored["stored"] == 2
        listed = await ok(c, "session_messages", workspace=ws, session="s3")
        assert [m["content"] for m in listed["messages"]] == ["Yes, Sunday.", "Shall we go to the lake?"]
        one = await ok(c, "session_message", workspace=ws, session="s3", message_id=stored["ids"][0])
        assert one["content"] == "Shall we go to the lake?" and one["peer"] == "alice"
        inspected = await ok(c, "session_inspect", workspace=ws, session="s3")
        assert inspected["messages"] == 2 and set(inspected["members"]) == {"alice", "dave"}
        context = await ok(c, "session_context", workspace=ws, session="s3", peer_target="alice")
        assert [m["peer"] for m in context["messages"]] == ["alice", "dave"] and context["peer_card"] == ["Likes tea"]
        assert "dave" not in (await ok(c, "session_remove_peers", workspace=ws, session="s3", peers=["dave"]))[
            "members"]
        assert set((await ok(c, "session_add_peers", workspace=ws, session="s3", peers=["bob"]))["members"]) == \
            {"alice", "bob"}
        assert {p["id"] for p in (await ok(c, "session_peers", workspace=ws, session="s3"))["peers"]} == \
            {"alice", "bob"}
        clone = await ok(c, "session_clone", workspace=ws, session="s3")
        assert clone["id"] not in ("s3", "") and clone["active"]
        assert "deleted" in await ok(c, "session_delete", workspace=ws, session=clone["id"])
        created = await ok(c, "conclusion_create", workspace=ws, observer="alice", observed="alice",
                           content="Alice swims on Sundays")
        assert created["level"] == "explicit"
        listed = await ok(c, "conclusion_list", workspace=ws, observer="alice")
        assert created["id"] in {x["id"] for x in listed["conclusions"]}
        queried = await ok(c, "conclusion_query", workspace=ws, observer="alice", observed="alice", query="swims")
        assert created["id"] in {x["id"] for x in queried["conclusions"]}
        assert created["id"] in (await ok(c, "conclusion_delete", workspace=ws, conclusion_id=created["id"]))[
            "removed"]
        assert "queued" in await ok(c, "schedule_dream", workspace=ws, observer="alice")


async def test_long_results_are_clipped_and_paged(app: Any) -> None:
    async with http_client(app) as http:
        world = await build_world(http)
    long_text = "word " * 2_000  # 10,000 characters
    async with mcp_client(app, ADMIN) as c:
        await ok(c, "session_add_messages", workspace=world.ws, session="s1",
                 messages=[{"peer": "alice", "content": f"{i} {long_text}"} for i in range(30)])
        page = await ok(c, "session_messages", workspace=world.ws, session="s1", size=50)
        assert page["total"] == 31 and page["pages"] == 1
        assert "note" in page and len(page["messages"]) < 31  # items left out rather than a 300k-character dump
        first = page["messages"][0]
        assert "more characters; call session_message with message_id=" in first["content"]
        whole = await ok(c, "session_message", workspace=world.ws, session="s1", message_id=first["id"])
        assert len(whole["content"]) > 10_000
        paged = await ok(c, "session_messages", workspace=world.ws, session="s1", size=2)
        assert paged["more"] == "call again with page=2" and paged["pages"] == 16


async def test_errors_are_mcp_errors(app: Any) -> None:
    async with http_client(app) as http:
        world = await build_world(http)
    async with mcp_client(app, ADMIN) as c:
        is_error, text = await call(c, "session_inspect", {"workspace": world.ws, "session": "nope"})
        assert is_error and "not found: Session nope not found" in text
        is_error, text = await call(c, "session_messages", {"workspace": world.ws, "session": "s1", "size": 500})
        assert is_error and "less than or equal to 50" in text
        is_error, text = await call(c, "peer_create", {"workspace": world.ws})
        assert is_error and "peer" in text and "required" in text.lower()
        is_error, text = await call(c, "peer_create", {"workspace": world.ws, "peer": "bad name!"})
        assert is_error and text.count("bad input") == 1
        is_error, text = await call(c, "conclusion_delete", {"workspace": world.ws, "conclusion_id": "nope"})
        assert is_error and "not found" in text
        is_error, text = await call(c, "no_such_tool", {})
        assert is_error and "no_such_tool" in text
        is_error, text = await call(c, "peer_card_get", {"workspace": world.ws, "peer": "alice"})
        assert not is_error  # the session goes on after errors


async def test_resources_and_prompts(app: Any) -> None:
    async with http_client(app) as http:
        world = await build_world(http)
    base = f"honcho://workspaces/{world.ws}"
    async with mcp_client(app, ADMIN) as c:
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert templates == {"honcho://workspaces/{workspace}/peers/{peer}/card",
                             "honcho://workspaces/{workspace}/peers/{peer}/representation",
                             "honcho://workspaces/{workspace}/sessions/{session}/summary"}
        is_error, card = await read(c, f"{base}/peers/alice/card")
        assert not is_error and card == f"- Likes hiking {world.marker('card')}"
        is_error, known = await read(c, f"{base}/peers/alice/representation")
        assert not is_error and world.marker("conclusion") in known
        is_error, summary = await read(c, f"{base}/sessions/s1/summary")
        assert not is_error and summary.startswith("(no summary yet")
        assert {p.name for p in (await c.list_prompts()).prompts} == {"recall_peer", "catch_up_on_session"}
        is_error, text = await prompt(c, "recall_peer", {"workspace": world.ws, "peer": "alice",
                                                         "question": "Where should I hike?"})
        assert not is_error and world.marker("card") in text and world.marker("conclusion") in text
        assert text.endswith("answer alice: Where should I hike?")
        is_error, text = await prompt(c, "catch_up_on_session", {"workspace": world.ws, "session": "s1"})
        assert not is_error and f"alice: I love hiking {world.marker('s1')}" in text
    async with mcp_client(app, _peer_key(world.ws, "carol")) as c:
        is_error, text = await read(c, f"{base}/peers/alice/card")
        assert is_error and "forbidden" in text and world.marker("card") not in text
        is_error, text = await prompt(c, "recall_peer", {"workspace": world.ws, "peer": "alice", "question": "?"})
        assert is_error and "forbidden" in text


def _peer_key(ws: str, peer: str) -> str:
    from api_helpers import sign

    return sign(w=ws, p=peer)


async def _post_mcp(app: Any, headers: dict[str, str]) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        return await http.post("/mcp", json=body, headers={"Accept": "application/json, text/event-stream",
                                                           **headers})


async def test_mcp_endpoint_needs_a_valid_key_when_auth_is_on(app: Any) -> None:
    for headers, detail in (({}, "No access token provided"), (bearer("not-a-jwt"), "Invalid JWT")):
        response = await _post_mcp(app, headers)
        assert response.status_code == 401 and response.json() == {"detail": detail}


async def test_auth_off_on_loopback_is_admin_and_limits_are_the_servers(deps: Deps) -> None:
    async with mcp_app(deps, auth=False, max_metadata_bytes=100) as app, mcp_client(app, None) as c:
        is_error, text = await call(c, "workspace_list", {})
        assert not is_error and json.loads(text)["total"] >= 0
        ws = f"small-{uuid.uuid4().hex[:8]}"
        is_error, text = await call(c, "peer_create", {"workspace": ws, "peer": "p", "metadata": {"k": "v" * 50}})
        assert not is_error, text
        is_error, text = await call(c, "peer_create", {"workspace": ws, "peer": "p", "metadata": {"k": "v" * 150}})
        assert is_error and "100" in text, text  # the configured limit, not the default 65,536 bytes


async def test_a_loopback_server_refuses_other_hosts(app: Any) -> None:
    """DNS rebinding: a web page whose name points at 127.0.0.1 must not reach the tools of a loopback server."""
    response = await _post_mcp(app, {**bearer(ADMIN), "Host": "evil.example"})
    assert response.status_code in (403, 421), response.text
    response = await _post_mcp(app, {**bearer(ADMIN), "Origin": "http://evil.example"})
    assert response.status_code == 403, response.text


async def test_without_the_sdk_mcp_answers_501(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if `pip install 'honcho-server[mcp]'` had not been run
    app = create_app(deps.settings, deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 501
    assert response.json() == {"detail": INSTALL_HINT}
    assert "pip install 'honcho-server[mcp]'" in INSTALL_HINT


async def _raw_tool_call(app: Any, tool: str, arguments_json: str) -> dict[str, Any]:
    """A tools/call sent as raw JSON text (the SDK's client cannot even encode some of what other clients may send)."""
    body = f'{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments_json}}}}}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        response = await http.post("/mcp", content=body, headers={
            **bearer(ADMIN), "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18"})
    assert response.status_code < 500, response.text
    return response.json()


async def test_hostile_input_is_bad_input(app: Any) -> None:
    """What the HTTP layer screens out before a route runs (api/deps.py) is refused as bad input here too: a NUL in
    an id, an unpaired surrogate in a text or in metadata, nesting deeper than any payload needs."""
    async with http_client(app) as http:
        world = await build_world(http)
    ws = json.dumps(world.ws)
    deep = '{"k":' * 150 + "1" + "}" * 150
    for tool, arguments in (
            ("peer_card_get", '{"workspace": "w\\u0000x", "peer": "alice"}'),
            ("session_messages", f'{{"workspace": {ws}, "session": "s\\u0000"}}'),
            ("session_add_messages", f'{{"workspace": {ws}, "session": "s1", "messages": '
                                     '[{"peer": "alice", "content": "half \\ud800 a pair"}]}'),
            ("peer_create", f'{{"workspace": {ws}, "peer": "alice", "metadata": {{"k": "\\udfff"}}}}'),
            ("workspace_metadata_set", f'{{"workspace": {ws}, "metadata": {deep}}}')):
        answer = await _raw_tool_call(app, tool, arguments)
        text = json.dumps(answer)
        # A tool error, or a JSON-RPC error when the SDK's JSON parser refuses the text itself (lone surrogates).
        refused = answer.get("result", {}).get("isError") is True or answer.get("error", {}).get("code") == -32700
        assert refused and "internal error" not in text, (tool, text[:500])
    async with mcp_client(app, ADMIN) as c:
        is_error, text = await call(c, "session_messages", {"workspace": world.ws, "session": "s1"})
        assert not is_error and "half" not in text  # nothing of the refused batch was stored


async def test_derived_reads_can_name_a_generation(app: Any, deps: Deps) -> None:
    """conclusion_list, conclusion_query, peer_card_get, peer_context and peer_representation read the generation
    `generation` names (docs/generations.md), the active one by default."""
    async with http_client(app) as http:
        world = await build_world(http)
    ws = world.ws
    [vector] = await conclusion_blobs(deps.embedder, ["g2 says alice sails"])
    async with deps.db.write() as conn:
        workspace = await workspace_repo.find(conn, ws)
        assert workspace is not None
        alice = (await peer_repo.find(conn, workspace.pk, "alice", ws)).pk  # type: ignore[union-attr]
        other = await generation_repo.create(conn, workspace.pk, number=2, name="trial", recipe={}, fingerprint="",
                                             scope={}, started_by="test", estimate=None, max_cost_usd=None,
                                             now=deps.now())
        await conclusion_repo.insert(conn, workspace.pk, other.pk, [NewConclusion(
            observer_pk=alice, observed_pk=alice, session_pk=None, content="g2 says alice sails",
            observed_at=deps.now(), embedding=vector)], deps.now())
        await card_repo.put(conn, deps.db.dialect, workspace.pk, other.pk, alice, alice, ["g2 card"], deps.now())
    async with mcp_client(app, ADMIN) as c:
        for generation, seen, unseen in ((None, world.marker("conclusion"), "g2 says"),
                                         ("g2", "g2 says", world.marker("conclusion")),
                                         ("trial", "g2 says", world.marker("conclusion"))):
            args = {"generation": generation} if generation else {}
            listed = json.dumps(await ok(c, "conclusion_list", workspace=ws, **args))
            assert seen in listed and unseen not in listed
            context = json.dumps(await ok(c, "peer_context", workspace=ws, peer="alice", **args))
            assert seen in context and unseen not in context
            assert seen in await ok(c, "peer_representation", workspace=ws, peer="alice", **args)
            card = (await ok(c, "peer_card_get", workspace=ws, peer="alice", **args))["card"]
            assert (card == ["g2 card"]) == (generation is not None)
        found = json.dumps(await ok(c, "conclusion_query", workspace=ws, observer="alice", observed="alice",
                                    query="alice sails", generation="g2"))
        assert "g2 says" in found and world.marker("conclusion") not in found
        is_error, text = await call(c, "peer_card_get", {"workspace": ws, "peer": "alice", "generation": "g9"})
        assert is_error and "Generation g9 not found" in text
