"""The authorization matrix (issue 12, "Proof in the suite" 1): every operation of `/openapi.json` x every kind of
token x the resources of two workspaces, with the expectations written out in ONE table (`EXPECTATIONS`), and body-
level probes of the rules that a route's policy alone cannot state.

The rules, as documented (spec 13.2 and the tables of §§5-10; README "Authentication"):

* Token kinds: admin; workspace A; workspace B; peer A/alice; peer A/bob; session A/s1; an expired workspace-A key;
  an admin key signed with the wrong secret; no token. Expired, wrong-secret and missing tokens get 401 on
  everything but the public routes (`/health`, `/ready`; the documentation needs any valid key with
  `server.docs = "token"`, `/metrics` an admin key with `server.metrics = "token"`).
* `EXPECTATIONS` gives each operation its rule in the spec's notation: `public`, `admin`, `ws` (admin or the
  workspace's key), `ws+peer` (also the key of the peer in the path), `ws+sess` (also the key of the session in the
  path), `ws+sess+member` (also a peer key whose peer is an active member of that session), `own-config` (7.10:
  `ws+sess+member`, a peer key for its own peer only), and the self-authorising `self:workspace` (any key of the
  workspace named in the body), `self:peer` (admin, the workspace key, the named peer's key, and a session key since
  the peer exists and the body changes nothing) and `self:session` (admin, the workspace key, the named session's
  key, and a peer key of an active member since the body changes nothing). Whoever the rule does not name gets 401.
* Workspace B's resources with workspace A's keys (and A's with B's key) are always 401, never 404: the workspace
  check runs before any lookup, so a key learns nothing about another workspace's ids. All refusals are 401 (never
  403), and a refused request writes nothing: a fingerprint of the database (row counts of every table, and every
  row of both workspaces) is the same before and after each operation's refused probes.
* Allowed probes must succeed (2xx) with the small bodies of `_request`, so an over-denial cannot hide behind a 4xx.
  Destructive operations (`DESTRUCTIVE`) run their allowed probes on a throwaway copy of the world (same shape, the
  keys minted for it), so the shared world stays intact for the other probes.
* Nothing outside a key's reach is ever returned: every seeded message, conclusion and card carries a marker, and
  each response (allowed or refused, matrix and body-level probes alike) is checked for the markers the key may
  not see (`_visible`). Chats answer with everything the scripted model was shown, so the same check covers them.

Each operation is probed per path binding: session routes for s1 (alice, bob) and s2 (bob), peer routes for alice
and bob. Both databases run everything (about 1,600 matrix requests each).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from api_helpers import JWT_SECRET, bearer, expect, sign
from sqlalchemy import func, select, update

from agent_fakes import ScriptedModel, Turn, answer, call, with_model
from honcho_server.config import AuthSettings
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.repos import generations as generation_repo
from support import api_client

NOT_PERMITTED = "JWT not permissioned for this resource"
W = "/v3/workspaces/{workspace_id}"
S = W + "/sessions/{session_id}"
P = W + "/peers/{peer_id}"
V1 = "/v1/apps"  # the v1 API (docs/v1-api.md §3.9): an app is a workspace, a user a peer
A = V1 + "/{app_id}"
U = A + "/users/{user_id}"
VS = U + "/sessions/{session_id}"
SM = U + "/sessions/{session_id}/metamessages"
C = U + "/collections"
D = C + "/{collection_id}/documents"

# ---- the one table -----------------------------------------------------------------------------------------------

EXPECTATIONS: dict[tuple[str, str], str] = {
    ("GET", "/health"): "public",
    ("GET", "/ready"): "public",
    ("GET", "/metrics"): "admin",  # with server.metrics = "token" (as here); public and off: test_metrics.py
    ("POST", "/v3/keys"): "admin",
    ("POST", "/v3/workspaces"): "self:workspace",
    ("POST", "/v3/workspaces/list"): "admin",
    ("PUT", W): "ws",
    ("DELETE", W): "ws",
    ("GET", W + "/queue/status"): "ws",
    ("GET", W + "/usage"): "ws",
    ("POST", W + "/search"): "ws",
    ("POST", W + "/chat"): "ws",
    ("POST", W + "/schedule_dream"): "ws",
    ("POST", W + "/peers/list"): "ws",
    ("POST", W + "/peers"): "self:peer",
    ("PUT", P): "ws+peer",
    ("POST", P + "/sessions"): "ws+peer",
    ("POST", P + "/search"): "ws+peer",
    ("POST", P + "/representation"): "ws+peer",
    ("GET", P + "/card"): "ws+peer",
    ("PUT", P + "/card"): "ws+peer",
    ("GET", P + "/context"): "ws+peer",
    ("POST", P + "/chat"): "ws+peer",
    ("POST", W + "/sessions/list"): "ws",
    ("POST", W + "/sessions"): "self:session",
    ("PUT", S): "ws+sess",
    ("DELETE", S): "ws+sess",
    ("POST", S + "/clone"): "ws+sess",
    ("POST", S + "/peers"): "ws+sess",
    ("PUT", S + "/peers"): "ws+sess",
    ("DELETE", S + "/peers"): "ws+sess",
    ("GET", S + "/peers"): "ws+sess+member",
    ("GET", S + "/peers/{peer_id}/config"): "own-config",
    ("PUT", S + "/peers/{peer_id}/config"): "ws+sess",
    ("GET", S + "/context"): "ws+sess+member",
    ("GET", S + "/summaries"): "ws+sess+member",
    ("POST", S + "/search"): "ws+sess+member",
    ("POST", S + "/messages"): "ws+sess",
    ("POST", S + "/messages/upload"): "ws+sess",
    ("POST", S + "/messages/list"): "ws+sess+member",
    ("GET", S + "/messages/{message_id}"): "ws+sess+member",
    ("PUT", S + "/messages/{message_id}"): "ws+sess",
    ("DELETE", S + "/messages/{message_id}"): "ws+sess",
    ("POST", W + "/conclusions"): "ws",
    ("POST", W + "/conclusions/list"): "ws",
    ("POST", W + "/conclusions/query"): "ws",
    ("GET", W + "/conclusions/{conclusion_id}"): "ws",
    ("DELETE", W + "/conclusions/{conclusion_id}"): "ws",
    ("GET", W + "/conclusions/{conclusion_id}/provenance"): "ws",  # the memory explorer's extensions
    ("GET", W + "/queue/failed"): "admin",
    ("POST", W + "/queue/redrive"): "admin",
    ("GET", W + "/usage/daily"): "ws",
    ("POST", W + "/scopes"): "ws",
    ("POST", W + "/scopes/list"): "ws",
    ("GET", W + "/scopes/{scope_id}"): "ws",
    ("GET", W + "/scopes/{scope_id}/status"): "ws",
    ("POST", W + "/scopes/{scope_id}/sessions"): "ws",
    ("POST", W + "/scopes/{scope_id}/sessions/list"): "ws",
    ("DELETE", W + "/scopes/{scope_id}/sessions/{session_id}"): "ws",
    ("POST", W + "/webhooks"): "ws",
    ("GET", W + "/webhooks"): "ws",
    ("GET", W + "/webhooks/test"): "ws",
    ("DELETE", W + "/webhooks/{endpoint_id}"): "ws",
    ("GET", W + "/webhooks/{endpoint_id}/deliveries"): "ws",
    ("GET", W + "/generations"): "ws",  # docs/generations.md: workspace-level keys only
    ("POST", W + "/generations"): "ws",
    ("GET", W + "/generations/compare"): "ws",
    ("POST", W + "/generations/rollback"): "ws",
    ("GET", W + "/generations/{generation_id}"): "ws",
    ("POST", W + "/generations/{generation_id}/activate"): "ws",
    ("POST", W + "/generations/{generation_id}/retire"): "ws",
    ("DELETE", W + "/generations/{generation_id}"): "ws",
    # v1 metamessages, user collections and documents: the app's key or the user's own (docs/v1-api.md §3.9); the
    # reserved collection `honcho` (conclusions) takes workspace keys only: see the body-level probes.
    ("POST", SM): "ws+peer",
    ("POST", SM + "/list"): "ws+peer",
    ("GET", SM + "/{metamessage_id}"): "ws+peer",
    ("PUT", SM + "/{metamessage_id}"): "ws+peer",
    ("POST", U + "/metamessages"): "ws+peer",
    ("POST", U + "/metamessages/list"): "ws+peer",
    ("GET", U + "/metamessages/{metamessage_id}"): "ws+peer",
    ("PUT", U + "/metamessages/{metamessage_id}"): "ws+peer",
    ("POST", C): "ws+peer",
    ("GET", C): "ws+peer",
    ("POST", C + "/list"): "ws+peer",
    ("GET", C + "/name/{name}"): "ws+peer",
    ("GET", C + "/{collection_id}"): "ws+peer",
    ("PUT", C + "/{collection_id}"): "ws+peer",
    ("DELETE", C + "/{collection_id}"): "ws+peer",
    ("POST", D): "ws+peer",
    ("POST", D + "/list"): "ws+peer",
    ("POST", D + "/query"): "ws+peer",
    ("GET", D + "/{document_id}"): "ws+peer",
    ("PUT", D + "/{document_id}"): "ws+peer",
    ("DELETE", D + "/{document_id}"): "ws+peer",
    ("POST", "/v1/keys"): "admin",
    ("POST", V1): "admin",  # the probe names a new app: only its own workspace's key could create it
    ("GET", V1): "ws",  # the app in the query
    ("POST", V1 + "/list"): "admin",
    ("GET", V1 + "/name/{name}"): "ws",
    ("GET", V1 + "/get_or_create/{name}"): "self:workspace",
    ("GET", A): "ws",
    ("PUT", A): "ws",
    ("POST", A + "/users"): "ws",  # the probe names a new user: a peer key creates no other peer
    ("GET", A + "/users"): "ws+peer",  # the user in the query
    ("POST", A + "/users/list"): "ws",
    ("GET", A + "/users/name/{name}"): "ws+peer",
    ("GET", A + "/users/get_or_create/{name}"): "self:peer",
    ("GET", U): "ws+peer",
    ("PUT", U): "ws+peer",
    ("POST", U + "/sessions"): "ws+peer",
    ("GET", U + "/sessions"): "ws+sess+member",  # the session in the query
    ("POST", U + "/sessions/list"): "ws+peer",
    ("GET", VS): "ws+sess+member",
    ("PUT", VS): "ws+sess",
    ("DELETE", VS): "ws+sess",
    ("GET", VS + "/clone"): "ws+sess",
    ("POST", VS + "/chat"): "ws+peer|sess",  # the user's key, or the session's (then confined to it)
    ("POST", VS + "/chat/stream"): "ws+peer|sess",
    ("POST", VS + "/messages"): "ws+sess",
    ("POST", VS + "/messages/batch"): "ws+sess",
    ("POST", VS + "/messages/list"): "ws+sess+member",
    ("GET", VS + "/messages/{message_id}"): "ws+sess+member",
    ("PUT", VS + "/messages/{message_id}"): "ws+sess",
}
# v1 routes whose ids arrive in the query or as a name: probed per session or per peer like path-bound routes.
BOUND_BY_SESSION = {("GET", U + "/sessions")}
BOUND_BY_PEER = {("GET", A + "/users"), ("GET", A + "/users/name/{name}")}

# Allowed probes of these run on a throwaway world: they delete, copy, or change who is a member of what.
DESTRUCTIVE = {
    ("DELETE", W), ("DELETE", S), ("POST", S + "/clone"), ("DELETE", S + "/peers"),
    ("DELETE", S + "/messages/{message_id}"), ("DELETE", W + "/conclusions/{conclusion_id}"),
    ("DELETE", W + "/scopes/{scope_id}/sessions/{session_id}"), ("DELETE", W + "/webhooks/{endpoint_id}"),
    ("POST", W + "/generations/rollback"), ("POST", W + "/generations/{generation_id}/activate"),
    ("POST", W + "/generations/{generation_id}/retire"), ("DELETE", W + "/generations/{generation_id}"),
    ("DELETE", C + "/{collection_id}"), ("DELETE", D + "/{document_id}"),
    ("DELETE", VS), ("GET", VS + "/clone"),
}

TOKENS = ["admin", "ws_A", "ws_B", "alice_A", "bob_A", "s1_A", "expired", "wrong_secret", "none"]
MEMBERS = {"s1": {"alice", "bob"}, "s2": {"bob"}}  # the world's sessions and their active members
PEER_OF = {"s1": "alice", "s2": "bob"}  # the peer bound with a session (session peer config)
WEBHOOK_URL = "https://example.com/x"


# ---- the world ---------------------------------------------------------------------------------------------------


def marker(ws: str, what: str) -> str:
    return f"{ws}~{what}~"


MARKED = ["s1~alice", "s1~bob", "s2~bob", "c~alice~bob~s1", "c~alice~alice~all", "c~bob~bob~s1", "c~bob~bob~s2",
          "c~bob~bob~all", "card~alice", "card~bob"]
VISIBLE = {  # what each key below workspace level may see of its workspace's markers (README "Authentication")
    "alice": {"s1~alice", "s1~bob", "c~alice~bob~s1", "c~alice~alice~all", "card~alice"},
    "bob": {"s1~alice", "s1~bob", "s2~bob", "c~bob~bob~s1", "c~bob~bob~s2", "c~bob~bob~all", "card~bob"},
    "s1": {"s1~alice", "s1~bob", "c~alice~bob~s1", "c~bob~bob~s1"},  # explicit conclusions learned in s1
}


@dataclass
class World:
    ws: str
    messages: dict[str, list[str]] = field(default_factory=dict)  # session -> message ids
    conclusions: list[str] = field(default_factory=list)
    endpoint: str = ""
    # v1 data of each user (alice's tied to s1, bob's to s2): a metamessage, a collection `notes`, a document in it
    metamessages: dict[str, str] = field(default_factory=dict)
    collections: dict[str, str] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)


ADMIN = bearer(sign(ad=True))


async def build_world(c: httpx.AsyncClient, ws: str, *, carol: bool = False) -> World:
    """Peers alice and bob (and carol), sessions s1 (alice, bob) and s2 (bob) with marked messages, marked
    conclusions and cards, a scope holding both sessions, a webhook endpoint."""
    world = World(ws)

    async def do(method: str, path: str, status: int | tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        response = await c.request(method, f"/v3/workspaces/{ws}{path}", headers=ADMIN, **kw)
        assert response.status_code in ((status,) if isinstance(status, int) else status), response.text
        return response.json() if response.content else None

    expect(await c.post("/v3/workspaces", json={"id": ws}, headers=ADMIN), 201)
    if carol:
        await do("POST", "/peers", json={"id": "carol"})
    await do("POST", "/sessions", json={"id": "s1", "peers": {"alice": {}, "bob": {}}})
    await do("POST", "/sessions", json={"id": "s2", "peers": {"bob": {}}})
    for session, authors in (("s1", ["alice", "bob"]), ("s2", ["bob"])):
        sent = await do("POST", f"/sessions/{session}/messages", json={"messages": [
            {"peer_id": a, "content": f"secret {marker(ws, f'{session}~{a}')}"} for a in authors]})
        world.messages[session] = [m["id"] for m in sent]
    made = await do("POST", "/conclusions", json={"conclusions": [
        {"content": f"secret {marker(ws, 'c~alice~bob~s1')}", "observer_id": "alice", "observed_id": "bob",
         "session_id": "s1"},
        {"content": f"secret {marker(ws, 'c~alice~alice~all')}", "observer_id": "alice", "observed_id": "alice"},
        {"content": f"secret {marker(ws, 'c~bob~bob~s1')}", "observer_id": "bob", "observed_id": "bob",
         "session_id": "s1"},
        {"content": f"secret {marker(ws, 'c~bob~bob~s2')}", "observer_id": "bob", "observed_id": "bob",
         "session_id": "s2"},
        {"content": f"secret {marker(ws, 'c~bob~bob~all')}", "observer_id": "bob", "observed_id": "bob"}]})
    world.conclusions = [c["id"] for c in made]
    for peer in ("alice", "bob"):
        await do("PUT", f"/peers/{peer}/card", json={"peer_card": [f"secret {marker(ws, f'card~{peer}')}"]})
    await do("POST", "/scopes", json={"id": "team"})
    await do("POST", "/scopes/team/sessions", 204, json={"session_ids": ["s1", "s2"]})
    world.endpoint = (await do("POST", "/webhooks", json={"url": WEBHOOK_URL}))["id"]
    for session, peer in PEER_OF.items():
        user = f"/v1/apps/{ws}/users/{peer}"
        world.metamessages[peer] = expect(await c.post(f"{user}/metamessages", headers=ADMIN, json={
            "content": "note", "metamessage_type": "t", "message_id": world.messages[session][0]}), 200)["id"]
        world.collections[peer] = expect(await c.post(f"{user}/collections", headers=ADMIN,
                                                      json={"name": "notes"}), 200)["id"]
        world.documents[peer] = expect(await c.post(f"{user}/collections/{world.collections[peer]}/documents",
                                                    headers=ADMIN, json={"content": "a note"}), 200)["id"]
    return world


def everything_seen(turn: Turn) -> list[Any]:
    """The scripted model looks through every memory tool once, then answers with all it was shown: a chat's
    answer then holds whatever the chat could read, and the marker check covers chats like any route."""
    if not turn.results():
        return [call("search_messages", query="secret"), call("search_conclusions", query="secret"),
                call("messages_by_date", limit=50), call("peer_card"), call("peer_card", peer_id="bob"),
                call("peer_card", peer_id="alice")]
    return [answer(turn.seen)]


@dataclass
class Matrix:
    client: httpx.AsyncClient
    deps: Deps
    a: World
    b: World


@pytest.fixture(scope="module")
async def matrix(deps: Deps) -> AsyncIterator[Matrix]:
    """An app with auth on (metrics and documentation behind a key, a scripted model for chats) and two worlds."""
    app_deps = with_model(deps, ScriptedModel([everything_seen]))
    app_deps.settings.auth = AuthSettings(enabled=True, jwt_secret=JWT_SECRET)
    app_deps.settings.server.metrics = "token"
    app_deps.settings.server.docs = "token"
    app_deps.settings.ready.require_worker = False  # no worker runs here: /ready would rightly say 503
    tag = uuid.uuid4().hex[:10]
    async with api_client(app_deps) as c:
        a = await build_world(c, f"mxa-{tag}")
        b = await build_world(c, f"mxb-{tag}", carol=True)
        for world in (a, b):
            await seed_generation(deps, world.ws)
        yield Matrix(c, deps, a, b)


async def seed_generation(deps: Deps, ws: str, *, activate: bool = False) -> None:
    """A second generation of the workspace's memory, g2, built (`ready`), as the generations routes need one; with
    `activate` it is the active one and g1 what a rollback returns to. Written through the repository: building one
    for real runs the rederive jobs, which these probes do not exercise."""
    async with deps.db.write() as conn:
        w = tables.workspaces
        pk = (await conn.execute(select(w.c.id).where(w.c.name == ws))).scalar_one()
        made = await generation_repo.create(conn, pk, number=2, name=None, recipe={}, fingerprint="", scope={},
                                            started_by="test", estimate=None, max_cost_usd=None, now=deps.now())
        await conn.execute(update(tables.generations).where(tables.generations.c.id == made.pk)
                           .values(state="ready", progress={"total": 0, "done": 0}))
        if activate:
            await generation_repo.activate(conn, pk, made.pk, deps.now())


# ---- tokens and their reach --------------------------------------------------------------------------------------


def headers(kind: str, a: str, b: str) -> dict[str, str]:
    """The key of a kind, minted for workspace `a` (the A-keys) or `b` (the B-key)."""
    if kind == "none":
        return {}
    if kind == "wrong_secret":
        return bearer(jwt.encode({"ad": True}, "a-different-secret-that-is-long-enough!!", algorithm="HS256"))
    claims = {
        "admin": {"ad": True}, "ws_A": {"w": a}, "ws_B": {"w": b}, "alice_A": {"w": a, "p": "alice"},
        "bob_A": {"w": a, "p": "bob"}, "s1_A": {"w": a, "s": "s1"}, "expired": {"w": a, "exp": 978307200},
    }[kind]
    return bearer(sign(**claims))


def _role(kind: str, owner: str, a: str, b: str) -> str | None:
    """What the key is to the owner's workspace: admin, ws, alice, bob, s1, or None (invalid or foreign)."""
    if kind == "admin":
        return "admin"
    home = {"ws_A": a, "alice_A": a, "bob_A": a, "s1_A": a, "ws_B": b}.get(kind)
    if home is None or home != owner:
        return None
    return {"ws_A": "ws", "ws_B": "ws", "alice_A": "alice", "bob_A": "bob", "s1_A": "s1"}[kind]


def allowed(rule: str, role: str | None, binding: dict[str, str]) -> bool:
    """The documented rule, evaluated for one key on one binding of the path (and body) identifiers."""
    if rule == "public":
        return True
    if role is None:
        return False
    if role == "admin" or (role == "ws" and rule != "admin"):
        return True
    session, peer = binding.get("session_id"), binding.get("peer_id")
    member = session is not None and role in MEMBERS.get(session, set())
    return {
        "admin": False,
        "ws": False,
        "ws+peer": role == peer,
        "ws+sess": role == session,
        "ws+sess+member": role == session or member,
        "ws+peer|sess": role in (peer, session),
        "own-config": role == session or (member and role == peer),
        "self:workspace": True,
        "self:peer": role in (peer, "s1"),
        "self:session": role == session or member,
    }[rule]


def _visible(kind: str, m: Matrix) -> set[str]:
    """The markers of both worlds a key may see."""
    everything = {marker(w, x) for w in (m.a.ws, m.b.ws) for x in MARKED}
    if kind == "admin":
        return everything
    if kind == "ws_A":
        return {marker(m.a.ws, x) for x in MARKED}
    if kind == "ws_B":
        return {marker(m.b.ws, x) for x in MARKED}
    role = {"alice_A": "alice", "bob_A": "bob", "s1_A": "s1"}.get(kind)
    return {marker(m.a.ws, x) for x in VISIBLE[role]} if role else set()


def leaks(response: httpx.Response, kind: str, m: Matrix) -> list[str]:
    everything = {marker(w, x) for w in (m.a.ws, m.b.ws) for x in MARKED}
    return sorted(x for x in everything - _visible(kind, m) if x in response.text)


# ---- the database fingerprint ------------------------------------------------------------------------------------


async def fingerprint(deps: Deps, names: list[str]) -> dict[str, Any]:
    """Row counts of every table, and every row of the named workspaces: any write shows."""
    found: dict[str, Any] = {}
    async with deps.db.read() as conn:
        w = tables.workspaces
        pks = list((await conn.execute(select(w.c.id).where(w.c.name.in_(names)))).scalars())
        for table in tables.metadata.sorted_tables:
            found[table.name] = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            column = table.c.id if table is w else table.c.get("workspace_id")
            if column is not None:
                rows = (await conn.execute(select(table).where(column.in_(pks)))).all()
                found[table.name + " rows"] = sorted(repr(tuple(r)) for r in rows)
            elif "updated_at" in table.c:
                found[table.name + " updated"] = (await conn.execute(select(func.max(table.c.updated_at)))).scalar()
    return found


# ---- operations, bindings, requests ------------------------------------------------------------------------------


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def bindings(path: str, rule: str, method: str = "") -> list[dict[str, str]]:
    """The identifiers each probe of the operation names: both sessions for session routes, both peers for peer
    routes (in the path, or in the body of a self-authorising route; v1: also in the query or as a name)."""
    if "{session_id}" in path or rule == "self:session" or (method, path) in BOUND_BY_SESSION:
        return [{"session_id": s, "peer_id": PEER_OF[s]} for s in ("s1", "s2")]
    if "{peer_id}" in path or "{user_id}" in path or rule == "self:peer" or (method, path) in BOUND_BY_PEER:
        return [{"peer_id": p} for p in ("alice", "bob")]
    return [{}]


def _request(method: str, path: str, world: World, binding: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The URL (path identifiers of `world`) and a small valid request for the operation."""
    session, peer = binding.get("session_id", "s1"), binding.get("peer_id", "alice")
    values = {"workspace_id": world.ws, "session_id": session, "peer_id": peer, "scope_id": "team",
              "message_id": world.messages[session][0], "conclusion_id": world.conclusions[0],
              "endpoint_id": world.endpoint, "generation_id": "g2", "app_id": world.ws, "user_id": peer,
              "metamessage_id": world.metamessages.get(peer, "-"), "collection_id": world.collections.get(peer, "-"),
              "document_id": world.documents.get(peer, "-"),
              "name": "notes" if "/collections/" in path else peer if "/users/" in path else world.ws}
    url = path.format(**values)
    route = (method, path)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v3/keys"): {"params": {"workspace_id": world.ws}},
        ("POST", "/v3/workspaces"): {"json": {"id": world.ws}},
        ("PUT", W): {"json": {"metadata": {"probed": True}}},
        ("POST", W + "/search"): {"json": {"query": "secret"}},
        ("POST", W + "/chat"): {"json": {"query": "secret?"}},
        ("POST", W + "/schedule_dream"): {"json": {"observer": "alice", "dream_type": "omni"}},
        ("POST", W + "/peers"): {"json": {"id": peer}},
        ("PUT", P): {"json": {"metadata": {"probed": True}}},
        ("POST", P + "/search"): {"json": {"query": "secret"}},
        ("PUT", P + "/card"): {"json": {"peer_card": [f"secret {marker(world.ws, f'card~{peer}')}"]}},
        ("POST", P + "/chat"): {"json": {"query": "secret?"}},
        ("POST", W + "/sessions"): {"json": {"id": session}},
        ("PUT", S): {"json": {"metadata": {"probed": True}}},
        ("POST", S + "/peers"): {"json": {peer: {}}},
        ("PUT", S + "/peers"): {"json": {name: {} for name in sorted(MEMBERS[session])}},
        ("DELETE", S + "/peers"): {"json": ["bob"]},
        ("PUT", S + "/peers/{peer_id}/config"): {"json": {}},
        ("POST", S + "/search"): {"json": {"query": "secret"}},
        ("POST", S + "/messages"): {"json": {"messages": [{"peer_id": peer, "content": "probe"}]}},
        ("POST", S + "/messages/upload"): {"files": {"file": ("probe.txt", b"probe upload", "text/plain")},
                                           "data": {"peer_id": peer}},
        ("PUT", S + "/messages/{message_id}"): {"json": {"metadata": {"probed": True}}},
        ("POST", W + "/conclusions"): {"json": {"conclusions": [
            {"content": "probe conclusion", "observer_id": "alice", "observed_id": "bob"}]}},
        ("POST", W + "/conclusions/query"): {"json": {"query": "secret", "filters": {"observer_id": "alice",
                                                                                     "observed_id": "bob"}}},
        ("POST", W + "/scopes"): {"json": {"id": "team"}},
        ("POST", W + "/scopes/{scope_id}/sessions"): {"json": {"session_ids": ["s1"]}},
        ("POST", W + "/webhooks"): {"json": {"url": WEBHOOK_URL}},
        ("POST", W + "/generations"): {"json": {"dry_run": True}},  # an estimate: the same world for every key
        ("GET", W + "/generations/compare"): {"params": {"a": "g1", "b": "g2"}},
        ("POST", W + "/generations/rollback"): {},
        ("POST", W + "/generations/{generation_id}/activate"): {},
        ("POST", W + "/generations/{generation_id}/retire"): {},
        ("POST", SM): {"json": {"content": "probe", "metamessage_type": "t", "message_id": values["message_id"]}},
        ("GET", SM + "/{metamessage_id}"): {"params": {"message_id": values["message_id"]}},
        ("PUT", SM + "/{metamessage_id}"): {"json": {"message_id": values["message_id"]}},
        ("POST", U + "/metamessages"): {"json": {"content": "probe", "metamessage_type": "t"}},
        ("PUT", U + "/metamessages/{metamessage_id}"): {"json": {"metadata": {"probed": True}}},
        ("POST", C): {"json": {"name": f"probe-{uuid.uuid4().hex[:12]}"}},  # names are unique per user
        ("GET", C): {"params": {"collection_id": values["collection_id"]}},
        ("PUT", C + "/{collection_id}"): {"json": {"metadata": {"probed": True}}},
        ("POST", D): {"json": {"content": "probe"}},
        ("POST", D + "/query"): {"json": {"query": "probe"}},
        ("PUT", D + "/{document_id}"): {"json": {"metadata": {"probed": True}}},
        ("POST", "/v1/keys"): {"params": {"app_id": world.ws}},
        ("POST", V1): {"json": {"name": f"mxp-{uuid.uuid4().hex[:12]}"}},
        ("GET", V1): {"params": {"app_id": world.ws}},
        ("PUT", A): {"json": {"metadata": {"probed": True}}},
        ("POST", A + "/users"): {"json": {"name": f"probe-{uuid.uuid4().hex[:12]}"}},
        ("GET", A + "/users"): {"params": {"user_id": peer}},
        ("PUT", U): {"json": {"metadata": {"probed": True}}},
        ("GET", U + "/sessions"): {"params": {"session_id": session}},
        ("PUT", VS): {"json": {"metadata": {"probed": True}}},
        ("POST", VS + "/chat"): {"json": {"queries": "secret?"}},
        ("POST", VS + "/chat/stream"): {"json": {"queries": "secret?"}},
        ("POST", VS + "/messages"): {"json": {"content": "probe", "is_user": True}},
        ("POST", VS + "/messages/batch"): {"json": {"messages": [{"content": "probe", "is_user": True}]}},
        ("PUT", VS + "/messages/{message_id}"): {"json": {"metadata": {"probed": True}}},
    }
    if route in bodies:
        return url, bodies[route]
    if method == "POST" and "/scopes" not in path and route != ("POST", S + "/clone"):
        return url, {"json": {}}  # the list routes' optional body
    return url, {}


async def throwaway(m: Matrix, path: str) -> World:
    """A fresh world for one allowed destructive probe (a bare workspace to delete the workspace itself)."""
    ws = f"mxf-{uuid.uuid4().hex[:12]}"
    if path == W:
        expect(await m.client.post("/v3/workspaces", json={"id": ws}, headers=ADMIN), 201)
        return World(ws, messages={"s1": ["-"], "s2": ["-"]}, conclusions=["-"])
    world = await build_world(m.client, ws)
    if path.startswith(W + "/generations"):  # g2 made ready; active (g1 its previous) for a rollback to undo
        await seed_generation(m.deps, ws, activate=path.endswith("/rollback"))
    return world


# ---- the tests ---------------------------------------------------------------------------------------------------


async def test_every_operation_has_an_expectation(matrix: Matrix) -> None:
    """A new route fails here until its rule is written into EXPECTATIONS (and a removed one until it leaves)."""
    doc = expect(await matrix.client.get("/openapi.json", headers=ADMIN), 200)
    found = operations(doc)
    assert found - set(EXPECTATIONS) == set(), "operations without an expectation"
    assert set(EXPECTATIONS) - found == set(), "expectations of operations that no longer exist"
    assert set(EXPECTATIONS) >= DESTRUCTIVE


async def test_the_authorization_matrix(matrix: Matrix) -> None:
    """Every v3 (and service) operation; the v1 ones are probed by test_authz_matrix_v1.py (a file of its own so
    the two halves run on two workers)."""
    assert await probe_operations(matrix, lambda path: not path.startswith("/v1/")) > 1500


async def probe_operations(m: Matrix, chosen: Callable[[str], bool]) -> int:
    """Probe every operation whose path is `chosen` with every token kind; returns how many probes were made."""
    doc = expect(await m.client.get("/openapi.json", headers=ADMIN), 200)
    failures: list[str] = []
    probed = 0
    for method, path in sorted((op for op in operations(doc) if chosen(op[1])),
                               key=lambda op: (op in DESTRUCTIVE, op)):
        rule = EXPECTATIONS.get((method, path))
        if rule is None:
            failures.append(f"{method} {path}: no expectation")
            continue
        for owner in (m.a, m.b):
            for binding in bindings(path, rule, method):
                where = f"{method} {path} [{'A' if owner is m.a else 'B'} {binding}]"
                grant = {k: allowed(rule, _role(k, owner.ws, m.a.ws, m.b.ws), binding) for k in TOKENS}
                # Refused first, on the shared world, inside one fingerprint.
                before = await fingerprint(m.deps, [m.a.ws, m.b.ws])
                for kind in (k for k in TOKENS if not grant[k]):
                    url, request = _request(method, path, owner, binding)
                    response = await m.client.request(method, url, headers=headers(kind, m.a.ws, m.b.ws), **request)
                    probed += 1
                    if response.status_code != 401:
                        failures.append(f"{where} {kind}: unauthorized success {response.status_code} "
                                        f"{response.text[:200]}")
                    if found := leaks(response, kind, m):
                        failures.append(f"{where} {kind}: refused but leaked {found}")
                if (after := await fingerprint(m.deps, [m.a.ws, m.b.ws])) != before:
                    changed = sorted(k for k in before if before[k] != after.get(k))
                    failures.append(f"{where}: a refused probe wrote to the database ({changed})")
                for kind in (k for k in TOKENS if grant[k]):
                    a, b, world = m.a.ws, m.b.ws, owner
                    if (method, path) in DESTRUCTIVE:
                        world = await throwaway(m, path)
                        a, b = (world.ws, b) if owner is m.a else (a, world.ws)
                    url, request = _request(method, path, world, binding)
                    response = await m.client.request(method, url, headers=headers(kind, a, b), **request)
                    probed += 1
                    if not 200 <= response.status_code < 300:
                        label = "over-denial" if response.status_code in (401, 403) else "allowed probe failed"
                        failures.append(f"{where} {kind}: {label} {response.status_code} {response.text[:200]}")
                    if found := leaks(response, kind, m):
                        failures.append(f"{where} {kind}: leaked {found}")
    assert not failures, f"{len(failures)} of {probed} probes:\n" + "\n".join(failures)
    return probed


async def test_the_documentation_needs_a_valid_key(matrix: Matrix) -> None:
    """`server.docs = "token"`: any valid key reads the documents (they describe the API, not anyone's data)."""
    m = matrix
    for path in ("/openapi.json", "/docs", "/redoc"):
        for kind in TOKENS:
            response = await m.client.get(path, headers=headers(kind, m.a.ws, m.b.ws))
            valid = kind not in ("expired", "wrong_secret", "none")
            assert response.status_code == (200 if valid else 401), (path, kind, response.text[:200])


# ---- body-level probes -------------------------------------------------------------------------------------------

REFUSED, CONFINED, UNCHANGED = "refused", "confined", "unchanged"  # unchanged: 2xx, confined, writes nothing


@dataclass(frozen=True)
class Probe:
    token: str
    method: str
    path: str  # relative to the workspace; {a}/{b} are the two workspaces' names, {s2m} a message id of s2, ...
    expectation: str
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    upload: bool = False
    sees: tuple[str, ...] = ()  # markers a confined answer must hold (the probe reaches what it may see)


HONCHO = "/v1/apps/{a}/users/alice/collections/honcho/documents"


def _probes() -> list[Probe]:
    ctx = "/sessions/s1/context"
    return [
        # filters naming other sessions, peers or workspaces: confined to the path's session, peer or workspace
        *[Probe(t, "POST", "/sessions/s1/messages/list", CONFINED, {"filters": f})
          for t in ("alice_A", "s1_A") for f in ({"session_id": "s2"}, {"workspace_id": "{b}"}, {"peer_id": "bob"},
                                                 {"session_id": {"in": ["s1", "s2"]}})],
        *[Probe(t, "POST", "/sessions/s1/search", CONFINED, {"query": "secret", "filters": f})
          for t in ("alice_A", "s1_A") for f in ({"session_id": "s2"}, {"workspace_id": "{b}"},
                                                 {"peer_perspective": "bob"}, {"session_id": {"in": ["s2"]}})],
        *[Probe("alice_A", "POST", "/peers/alice/search", CONFINED, {"query": "secret", "filters": f})
          for f in ({"session_id": "s2"}, {"peer_id": "bob"}, {"workspace_id": "{b}"}, {"peer_perspective": "bob"})],
        *[Probe("alice_A", "POST", "/peers/alice/sessions", CONFINED, {"filters": f})
          for f in ({"id": "s2"}, {"workspace_id": "{b}"}, {"id": {"in": ["s1", "s2"]}})],
        *[Probe("ws_A", method, path, CONFINED, body) for method, path, body in (
            ("POST", "/search", {"query": "secret", "filters": {"workspace_id": "{b}"}}),
            ("POST", "/search", {"query": "secret", "scope": "team"}),  # (its own scope: nothing of B)
            ("POST", "/sessions/list", {"filters": {"workspace_id": "{b}"}}),
            ("POST", "/peers/list", {"filters": {"workspace_id": "{b}"}}),
            ("POST", "/conclusions/list", {"filters": {"workspace_id": "{b}"}}),
            ("POST", "/conclusions/query", {"query": "secret", "filters": {
                "observer_id": "bob", "observed_id": "bob", "workspace_id": "{b}"}}))],
        # representation, card and context of a peer key: its own memory only; no scope
        *[Probe("alice_A", "POST", "/peers/alice/representation", CONFINED, body) for body in (
            {"session_id": "s2"}, {"filters": {"session_id": ["s1", "s2"]}})],
        *[Probe("alice_A", "POST", "/peers/alice/representation", CONFINED, body, sees=("c~alice~bob~s1",))
          for body in ({"target": "bob"}, {"target": "bob", "search_query": "secret", "include_most_frequent": True},
                       {"target": "bob", "session_id": "s1"})],
        Probe("alice_A", "POST", "/peers/alice/representation", REFUSED, {"scope": "team"}),
        Probe("alice_A", "GET", "/peers/alice/card", CONFINED, params={"target": "bob"}),
        Probe("alice_A", "GET", "/peers/alice/context", CONFINED, params={"target": "bob", "search_query": "secret"},
              sees=("c~alice~bob~s1",)),
        Probe("alice_A", "PUT", "/peers/alice/card", REFUSED, {"peer_card": ["x"]}, params={"target": "mallory"}),
        # session context: peer_target, peer_perspective, sessions, scope
        *[Probe("alice_A", "GET", ctx, REFUSED, params=p) for p in (
            {"peer_target": "bob"}, {"peer_target": "alice", "peer_perspective": "bob"},
            {"peer_target": "alice", "sessions": ["s1", "s2"]},
            {"peer_target": "alice", "scope": "team"})],
        Probe("alice_A", "GET", ctx, CONFINED, params={"peer_target": "alice", "sessions": ["s1"]}),
        *[Probe("alice_A", "GET", ctx, CONFINED, params=p, sees=("c~alice~bob~s1", "s1~bob")) for p in (
            {"peer_target": "bob", "peer_perspective": "alice"},
            {"peer_target": "bob", "peer_perspective": "alice", "limit_to_session": "false",
             "search_query": "secret", "include_most_frequent": "true"})],
        *[Probe("bob_A", "GET", "/sessions/s2/context", REFUSED, params=p) for p in (
            {"peer_target": "alice", "peer_perspective": "alice"}, {"peer_target": "bob", "scope": "team"})],
        *[Probe("s1_A", "GET", ctx, REFUSED, params=p) for p in (
            {"peer_target": "bob", "sessions": ["s1", "s2"]}, {"peer_target": "bob", "scope": "team"})],
        *[Probe("s1_A", "GET", ctx, CONFINED, params=p, sees=("c~bob~bob~s1",)) for p in (
            {"peer_target": "bob"}, {"peer_target": "bob", "limit_to_session": "false"},
            {"peer_target": "bob", "sessions": ["s1"]}, {"peer_target": "bob", "include_most_frequent": "true"})],
        Probe("s1_A", "GET", ctx, CONFINED, params={"peer_target": "bob", "peer_perspective": "alice",
                                                    "search_query": "secret"}, sees=("c~alice~bob~s1",)),
        Probe("s1_A", "GET", ctx, CONFINED, params={"peer_target": "alice", "include_most_frequent": "true"}),
        # chat: session_id, filters, scope, target
        *[Probe("alice_A", "POST", "/peers/alice/chat", REFUSED, {"query": "secret?", **body}) for body in (
            {"session_id": "s2"}, {"filters": {"session_id": ["s1", "s2"]}}, {"scope": "team"},
            {"scope": ["team"]})],
        Probe("alice_A", "POST", "/peers/alice/chat", CONFINED, {"query": "secret?"},
              sees=("s1~bob", "c~alice~alice~all", "card~alice")),
        *[Probe("alice_A", "POST", "/peers/alice/chat", CONFINED, {"query": "secret?", **body},
                sees=("s1~bob", "c~alice~bob~s1")) for body in (
            {"target": "bob"}, {"session_id": "s1", "target": "bob"}, {"filters": {"session_id": ["s1"]},
                                                                      "target": "bob", "include_evidence": True})],
        Probe("bob_A", "POST", "/peers/bob/chat", CONFINED, {"query": "secret?", "session_id": "s2"},
              sees=("s2~bob",)),
        Probe("s1_A", "POST", "/peers/alice/chat", REFUSED, {"query": "secret?", "session_id": "s1"}),
        Probe("alice_A", "POST", "/chat", REFUSED, {"query": "secret?", "filters": {"session_id": ["s1"]}}),
        # ids in bodies: message authors, conclusions' observers, session members, peers, workspaces, scopes
        Probe("s1_A", "POST", "/sessions/s1/messages", REFUSED, {"messages": [{"peer_id": "carol", "content": "x"}]}),
        Probe("s1_A", "POST", "/sessions/s1/messages/upload", REFUSED, data={"peer_id": "carol"}, upload=True),
        Probe("alice_A", "POST", "/sessions/s1/messages", REFUSED,
              {"messages": [{"peer_id": "alice", "content": "x"}]}),
        Probe("alice_A", "POST", "/sessions/s1/messages/upload", REFUSED, data={"peer_id": "alice"}, upload=True),
        Probe("alice_A", "POST", "/conclusions", REFUSED, {"conclusions": [
            {"content": "x", "observer_id": "alice", "observed_id": "alice"}]}),
        Probe("s1_A", "POST", "/conclusions", REFUSED, {"conclusions": [
            {"content": "x", "observer_id": "bob", "observed_id": "alice", "session_id": "s1"}]}),
        *[Probe("alice_A", "POST", "/sessions", REFUSED, body) for body in (
            {"id": "s2"}, {"id": "s1", "peers": {"carol": {}}}, {"id": "s1", "metadata": {"x": 1}},
            {"id": "s1", "scopes": ["team"]}, {"id": "s1", "peers": {"bob": {}, "carol": {}}})],
        # a member's get-or-create of its session, naming members that are there already: answered, unchanged
        *[Probe("alice_A", "POST", "/sessions", UNCHANGED, body) for body in (
            {"id": "s1"}, {"id": "s1", "peers": {"alice": {}, "bob": {}}},
            {"id": "s1", "peers": {"alice": {"observe_others": True}}})],
        Probe("s1_A", "POST", "/peers", UNCHANGED, {"id": "bob"}),
        *[Probe("s1_A", "POST", "/sessions", REFUSED, body) for body in (
            {"id": "s2"}, {"id": "s1", "peers": {"carol": {}}}, {"id": "s1", "scopes": ["team"]})],
        *[Probe("s1_A", method, "/sessions/s1/peers", REFUSED, {"carol": {}}) for method in ("POST", "PUT")],
        Probe("alice_A", "POST", "/peers", REFUSED, {"id": "bob"}),
        Probe("s1_A", "POST", "/peers", REFUSED, {"id": "carol"}),
        Probe("s1_A", "POST", "/peers", REFUSED, {"id": "bob", "metadata": {"x": 1}}),
        *[Probe(t, "POST", "/v3/workspaces", REFUSED, {"id": "{b}"}) for t in ("ws_A", "alice_A", "s1_A")],
        *[Probe(t, "POST", "/scopes/team/sessions", REFUSED, {"session_ids": ["s1"]}) for t in ("alice_A", "s1_A")],
        Probe("alice_A", "GET", "/queue/status", REFUSED, params={"session_id": "s1"}),
        Probe("alice_A", "POST", "/schedule_dream", REFUSED, {"observer": "alice", "dream_type": "omni"}),
        # v1: the reserved collection `honcho` is the user's conclusions about itself: workspace keys only
        *[Probe("alice_A", method, HONCHO + path, REFUSED, body) for method, path, body in (
            ("POST", "/list", {}), ("POST", "/query", {"query": "secret"}), ("GET", "/{alice_self}", None),
            ("POST", "", {"content": "x"}), ("DELETE", "/{alice_self}", None), ("PUT", "/{alice_self}", {}))],
        Probe("ws_A", "POST", HONCHO + "/list", CONFINED, {}, sees=("c~alice~alice~all",)),
    ]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def _returned(body: Any) -> list[dict[str, Any]]:
    """Every object of the answer (pages, lists, nested)."""
    found: list[dict[str, Any]] = []
    if isinstance(body, dict):
        found.append(body)
        for value in body.values():
            found += _returned(value)
    elif isinstance(body, list):
        for value in body:
            found += _returned(value)
    return found


async def test_body_level_probes(matrix: Matrix) -> None:
    """Identifiers in bodies and query strings: refused (401, nothing written) or confined (2xx, nothing returned
    from outside the key's reach: no marker it may not see, no object of another workspace, no message of a
    session it may not read)."""
    m = matrix
    names = {"a": m.a.ws, "b": m.b.ws, "alice_self": m.a.conclusions[1]}  # c~alice~alice~all
    readable = {"alice_A": {"s1"}, "bob_A": {"s1", "s2"}, "s1_A": {"s1"}, "ws_A": {"s1", "s2"}}
    failures: list[str] = []
    probes = _probes()
    for probe in probes:
        url = _fill(probe.path, names) if probe.path.startswith(("/v3/", "/v1/")) else \
            f"/v3/workspaces/{m.a.ws}{probe.path}"
        request: dict[str, Any] = {"params": probe.params, "data": probe.data}
        if probe.json is not None:
            request["json"] = _fill(probe.json, names)
        if probe.upload:
            request["files"] = {"file": ("probe.txt", b"probe upload", "text/plain")}
        where = f"{probe.token} {probe.method} {probe.path} {probe.json or ''} {probe.params or ''} {probe.data or ''}"
        before = await fingerprint(m.deps, [m.a.ws, m.b.ws])
        response = await m.client.request(probe.method, url, headers=headers(probe.token, m.a.ws, m.b.ws),
                                          **request)
        if probe.expectation == REFUSED and response.status_code != 401:
            failures.append(f"{where}: expected 401, got {response.status_code} {response.text[:300]}")
        elif probe.expectation != REFUSED and not 200 <= response.status_code < 300:
            failures.append(f"{where}: expected a confined success, got {response.status_code} "
                            f"{response.text[:300]}")
        if probe.expectation != CONFINED and (after := await fingerprint(m.deps, [m.a.ws, m.b.ws])) != before:
            failures.append(f"{where}: wrote ({sorted(k for k in before if before[k] != after[k])})")
        if found := leaks(response, probe.token, m):
            failures.append(f"{where}: leaked {found}")
        if missing := [x for x in probe.sees if marker(m.a.ws, x) not in response.text]:
            failures.append(f"{where}: does not see {missing}")
        if response.status_code < 300 and response.headers.get("content-type", "").startswith("application/json"):
            for item in _returned(response.json()):
                if item.get("workspace_id") not in (None, m.a.ws):
                    failures.append(f"{where}: returned an object of workspace {item['workspace_id']}")
                # (a message always has a session; the reserved collection's documents may have none)
                if item.get("session_id") is not None and "content" in item \
                        and item["session_id"] not in readable[probe.token] \
                        and item.get("peer_id") != probe.token.removesuffix("_A"):
                    failures.append(f"{where}: returned a message of session {item['session_id']}")
    assert not failures, f"{len(failures)} of {len(probes)} probes:\n" + "\n".join(failures)


async def test_ids_from_elsewhere_in_paths(matrix: Matrix) -> None:
    """A path naming the key's own session or workspace but another one's message, conclusion, endpoint or clone
    cutoff finds nothing (404) and changes nothing; the key's own ids work."""
    m = matrix
    a, b = m.a, m.b
    s2_message, b_message = a.messages["s2"][0], b.messages["s1"][0]
    probes = [
        ("s1_A", "GET", f"/sessions/s1/messages/{s2_message}", {}),
        ("alice_A", "GET", f"/sessions/s1/messages/{s2_message}", {}),
        ("s1_A", "PUT", f"/sessions/s1/messages/{s2_message}", {"json": {"metadata": {"x": 1}}}),
        ("s1_A", "DELETE", f"/sessions/s1/messages/{s2_message}", {}),
        ("s1_A", "GET", f"/sessions/s1/messages/{b_message}", {}),
        ("s1_A", "DELETE", f"/sessions/s1/messages/{b_message}", {}),
        ("s1_A", "POST", "/sessions/s1/clone", {"params": {"message_id": s2_message}}),
        ("s1_A", "POST", "/sessions/s1/clone", {"params": {"message_id": b_message}}),
        ("ws_A", "POST", "/sessions/s1/clone", {"params": {"message_id": b_message}}),
        ("ws_A", "GET", f"/conclusions/{b.conclusions[0]}", {}),
        ("ws_A", "DELETE", f"/conclusions/{b.conclusions[0]}", {}),
        ("ws_A", "DELETE", f"/webhooks/{b.endpoint}", {}),
        ("ws_A", "GET", f"/webhooks/{b.endpoint}/deliveries", {}),
    ]
    failures: list[str] = []
    for token, method, path, request in probes:
        before = await fingerprint(m.deps, [a.ws, b.ws])
        response = await m.client.request(method, f"/v3/workspaces/{a.ws}{path}",
                                          headers=headers(token, a.ws, b.ws), **request)
        if response.status_code != 404:
            failures.append(f"{token} {method} {path} {request}: expected 404, got {response.status_code} "
                            f"{response.text[:200]}")
        if (after := await fingerprint(m.deps, [a.ws, b.ws])) != before:
            failures.append(f"{token} {method} {path}: wrote ({sorted(k for k in before if before[k] != after[k])})")
        if found := leaks(response, token, m):
            failures.append(f"{token} {method} {path}: leaked {found}")
    assert not failures, "\n".join(failures)
    # the same routes with the key's own ids do work (so the 404s above are about the ids, not the routes)
    own = a.messages["s1"][0]
    s1 = headers("s1_A", a.ws, b.ws)
    expect(await m.client.get(f"/v3/workspaces/{a.ws}/sessions/s1/messages/{own}", headers=s1), 200)
    clone = expect(await m.client.post(f"/v3/workspaces/{a.ws}/sessions/s1/clone", params={"message_id": own},
                                       headers=s1), 201)
    copied = expect(await m.client.post(f"/v3/workspaces/{a.ws}/sessions/{clone['id']}/messages/list",
                                        headers=ADMIN), 200)["items"]
    assert [x["content"] for x in copied] == [f"secret {marker(a.ws, 's1~alice')}"]
    expect(await m.client.request("DELETE", f"/v3/workspaces/{a.ws}/sessions/{clone['id']}", headers=ADMIN), 202)


def test_the_rules_name_every_token_kind() -> None:
    """The evaluator of the table: a refusal for every invalid key, and the spec's examples."""
    for rule in set(EXPECTATIONS.values()) - {"public"}:
        assert not allowed(rule, None, {"session_id": "s1", "peer_id": "alice"})
    assert allowed("ws+sess+member", "bob", {"session_id": "s2", "peer_id": "bob"})
    assert not allowed("ws+sess+member", "alice", {"session_id": "s2", "peer_id": "bob"})
    assert not allowed("own-config", "bob", {"session_id": "s1", "peer_id": "alice"})
    assert not allowed("ws+sess", "alice", {"session_id": "s1", "peer_id": "alice"})
