"""Auth confinement of MCP, generated over every tool, resource and prompt x every kind of key: an MCP call is
refused ("forbidden") exactly when the HTTP request it stands for is refused (401) with the same key, on the same
data, at the same moment. So a peer key's agent reaches only what that peer key reaches over HTTP (another peer's
data, other sessions, other workspaces stay out of reach), and a session key stays in its session.

Each row gets a fresh world (build_world); the keys run from the most confined to admin, each making the HTTP
request and then the MCP call. On top of the parity, outputs are checked for markers the key may not see, and the
table is not vacuous: admin is never refused and another workspace's key always is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_helpers import bearer
from mcp_helpers import KEY_KINDS, World, build_world, call, http_client, key, mcp_app, mcp_client, prompt, read

from honcho_server.domain.credentials import Principal
from honcho_server.mcp import caller, server
from honcho_server.services.deps import Deps

Args = Callable[[World], dict[str, Any]]
Http = Callable[[World], tuple[str, str, dict[str, Any]]]


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # tool | resource | prompt
    target: str  # tool or prompt name, or resource URI template
    args: Args
    http: Http


def W(world: World) -> str:
    return f"/v3/workspaces/{world.ws}"


def tool(name: str, args: Args, http: Http, label: str | None = None) -> Row:
    return Row(label or name, "tool", name, args, http)


def ws_args(w: World) -> dict[str, Any]:
    return {"workspace": w.ws}


def alice(w: World, **more: Any) -> dict[str, Any]:
    return {"workspace": w.ws, "peer": "alice", **more}


def s1(w: World, **more: Any) -> dict[str, Any]:
    return {"workspace": w.ws, "session": "s1", **more}


ROWS = [
    tool("workspace_list", lambda w: {}, lambda w: ("POST", "/v3/workspaces/list", {"json": {}})),
    tool("workspace_inspect", ws_args, lambda w: ("GET", f"{W(w)}/queue/status", {})),
    tool("workspace_search", lambda w: {"workspace": w.ws, "query": "hiking"},
         lambda w: ("POST", f"{W(w)}/search", {"json": {"query": "hiking"}})),
    tool("workspace_metadata_get", ws_args, lambda w: ("POST", "/v3/workspaces", {"json": {"id": w.ws}})),
    tool("workspace_metadata_set", lambda w: {"workspace": w.ws, "metadata": {"k": 1}},
         lambda w: ("PUT", W(w), {"json": {"metadata": {"k": 1}}})),
    tool("queue_status", ws_args, lambda w: ("GET", f"{W(w)}/queue/status", {})),
    tool("peer_create", alice, lambda w: ("POST", f"{W(w)}/peers", {"json": {"id": "alice"}})),
    tool("peer_create", lambda w: {"workspace": w.ws, "peer": "dave"},
         lambda w: ("POST", f"{W(w)}/peers", {"json": {"id": "dave"}}), "peer_create[new peer]"),
    tool("peer_list", ws_args, lambda w: ("POST", f"{W(w)}/peers/list", {"json": {}})),
    tool("peer_chat", lambda w: alice(w, query="what do I like?"),
         lambda w: ("POST", f"{W(w)}/peers/alice/chat", {"json": {"query": "what do I like?"}})),
    tool("peer_chat", lambda w: alice(w, query="what do I like?", session="s2"),
         lambda w: ("POST", f"{W(w)}/peers/alice/chat", {"json": {"query": "what do I like?", "session_id": "s2"}}),
         "peer_chat[other session]"),
    tool("peer_card_get", alice, lambda w: ("GET", f"{W(w)}/peers/alice/card", {})),
    tool("peer_card_set", lambda w: alice(w, card=["likes tea"]),
         lambda w: ("PUT", f"{W(w)}/peers/alice/card", {"json": {"peer_card": ["likes tea"]}})),
    tool("peer_context", alice, lambda w: ("GET", f"{W(w)}/peers/alice/context", {})),
    tool("peer_representation", alice, lambda w: ("POST", f"{W(w)}/peers/alice/representation", {"json": {}})),
    tool("session_create", lambda w: s1(w, peers=["alice"]),
         lambda w: ("POST", f"{W(w)}/sessions", {"json": {"id": "s1", "peers": {"alice": {}}}})),
    tool("session_list", ws_args, lambda w: ("POST", f"{W(w)}/sessions/list", {"json": {}})),
    tool("session_list", alice, lambda w: ("POST", f"{W(w)}/peers/alice/sessions", {"json": {}}),
         "session_list[peer]"),
    tool("session_inspect", s1, lambda w: ("GET", f"{W(w)}/sessions/s1/summaries", {})),
    tool("session_delete", s1, lambda w: ("DELETE", f"{W(w)}/sessions/s1", {})),
    tool("session_clone", s1, lambda w: ("POST", f"{W(w)}/sessions/s1/clone", {})),
    tool("session_add_peers", lambda w: s1(w, peers=["carol"]),
         lambda w: ("POST", f"{W(w)}/sessions/s1/peers", {"json": {"carol": {}}})),
    tool("session_remove_peers", lambda w: s1(w, peers=["bob"]),
         lambda w: ("DELETE", f"{W(w)}/sessions/s1/peers", {"json": ["bob"]})),
    tool("session_peers", s1, lambda w: ("GET", f"{W(w)}/sessions/s1/peers", {})),
    tool("session_add_messages", lambda w: s1(w, messages=[{"peer": "alice", "content": "hello"}]),
         lambda w: ("POST", f"{W(w)}/sessions/s1/messages",
                    {"json": {"messages": [{"peer_id": "alice", "content": "hello"}]}})),
    tool("session_messages", s1, lambda w: ("POST", f"{W(w)}/sessions/s1/messages/list", {"json": {}})),
    tool("session_message", lambda w: s1(w, message_id=w.messages["s1"]),
         lambda w: ("GET", f"{W(w)}/sessions/s1/messages/{w.messages['s1']}", {})),
    tool("session_context", s1, lambda w: ("GET", f"{W(w)}/sessions/s1/context", {})),
    tool("session_context", lambda w: s1(w, peer_target="alice"),
         lambda w: ("GET", f"{W(w)}/sessions/s1/context", {"params": {"peer_target": "alice"}}),
         "session_context[peer view]"),
    tool("conclusion_list", ws_args, lambda w: ("POST", f"{W(w)}/conclusions/list", {"json": {}})),
    tool("conclusion_query", lambda w: {"workspace": w.ws, "observer": "alice", "observed": "alice",
                                        "query": "hiking"},
         lambda w: ("POST", f"{W(w)}/conclusions/query",
                    {"json": {"query": "hiking", "filters": {"observer_id": "alice", "observed_id": "alice"}}})),
    tool("conclusion_create", lambda w: {"workspace": w.ws, "observer": "alice", "observed": "alice",
                                         "content": "Alice drinks tea"},
         lambda w: ("POST", f"{W(w)}/conclusions", {"json": {"conclusions": [
             {"content": "Alice drinks tea", "observer_id": "alice", "observed_id": "alice"}]}})),
    tool("conclusion_delete", lambda w: {"workspace": w.ws, "conclusion_id": w.conclusion},
         lambda w: ("DELETE", f"{W(w)}/conclusions/{w.conclusion}", {})),
    tool("schedule_dream", lambda w: {"workspace": w.ws, "observer": "alice"},
         lambda w: ("POST", f"{W(w)}/schedule_dream", {"json": {"observer": "alice", "dream_type": "omni"}})),
    Row("resource peer card", "resource", "honcho://workspaces/{ws}/peers/alice/card", lambda w: {},
        lambda w: ("GET", f"{W(w)}/peers/alice/card", {})),
    Row("resource peer representation", "resource", "honcho://workspaces/{ws}/peers/alice/representation",
        lambda w: {}, lambda w: ("POST", f"{W(w)}/peers/alice/representation", {"json": {}})),
    Row("resource session summary", "resource", "honcho://workspaces/{ws}/sessions/s1/summary", lambda w: {},
        lambda w: ("GET", f"{W(w)}/sessions/s1/summaries", {})),
    Row("prompt recall_peer", "prompt", "recall_peer", lambda w: {"workspace": w.ws, "peer": "alice",
                                                                  "question": "where to hike?"},
        lambda w: ("GET", f"{W(w)}/peers/alice/context", {})),
    Row("prompt catch_up_on_session", "prompt", "catch_up_on_session", lambda w: s1(w),
        lambda w: ("GET", f"{W(w)}/sessions/s1/context", {})),
]

# Tools whose HTTP twin, when allowed, leaves nothing for the MCP call to act on (it then answers "not found").
GONE_AFTER_HTTP = {"session_delete", "conclusion_delete"}
# What each kind of key may never see in any answer, whatever it asks (markers of build_world).
HIDDEN = {"peer_carol": ("s1", "card", "conclusion"), "session_s2": ("s1", "card", "conclusion"),
          "peer_alice": ("s2",), "session_s1": ("s2",), "workspace_other": ("s1", "s2", "card", "conclusion")}


async def test_every_tool_resource_and_prompt_is_in_the_matrix(deps: Deps) -> None:
    built = server.build(deps, caller.fixed(Principal.anonymous_admin()))
    tools = {t.name for t in await built.list_tools()}
    assert tools == {r.target for r in ROWS if r.kind == "tool"}
    assert len(tools) >= 30
    templates = {t.uri_template for t in await built.list_resource_templates()}
    assert templates == {r.target.replace("alice", "{peer}").replace("s1", "{session}").replace("{ws}", "{workspace}")
                         for r in ROWS if r.kind == "resource"}
    assert {p.name for p in await built.list_prompts()} == {r.target for r in ROWS if r.kind == "prompt"}


async def _mcp(client: Any, row: Row, world: World) -> tuple[bool, str]:
    if row.kind == "tool":
        return await call(client, row.target, row.args(world))
    if row.kind == "resource":
        return await read(client, row.target.replace("{ws}", world.ws))
    return await prompt(client, row.target, row.args(world))


@pytest.fixture(scope="module")
async def app(deps: Deps) -> AsyncIterator[Any]:
    async with mcp_app(deps) as started:
        yield started


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_mcp_reaches_what_http_reaches(app: Any, row: Row) -> None:
    async with http_client(app) as http:
        world = await build_world(http)
        verdicts = {}
        for kind in KEY_KINDS:
            token = key(kind, world.ws)
            method, path, kw = row.http(world)
            response = await http.request(method, path, headers=bearer(token), **kw)
            async with mcp_client(app, token) as client:
                is_error, text = await _mcp(client, row, world)
            refused = is_error and "forbidden:" in text
            verdicts[kind] = refused
            assert refused == (response.status_code == 401), (
                f"{row.name} with a {kind} key: HTTP {method} {path} answered {response.status_code} "
                f"{response.text[:200]}, MCP answered {text[:300]!r}")
            if 200 <= response.status_code < 300 and row.target not in GONE_AFTER_HTTP:
                assert not is_error, f"{row.name} with a {kind} key: HTTP allowed it, MCP failed: {text[:300]}"
            for hidden in HIDDEN.get(kind, ()):
                assert world.marker(hidden) not in text, f"{row.name} showed a {kind} key {hidden}: {text[:300]}"
        assert not verdicts["admin"] and verdicts["workspace_other"], verdicts
