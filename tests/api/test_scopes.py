"""Scopes (spec 10.A, 2.6, 2.14, 7.2, 5.5, 6.6, 7.12, 11.1) on both databases: the seven routes, joining on
session create, the backfill and removal jobs, derivation for a scope after a session joins, and reads confined
through a scope (workspace search, representation, session context, chat)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from api_helpers import (
    add_messages,
    bearer,
    create_peer,
    create_session,
    expect,
    ids,
    msg,
    session_jobs,
    session_url,
    sign,
    workspace_pk,
    ws_url,
)
from memory_helpers import store_conclusion

from honcho_server.services.deps import Deps
from honcho_server.store.repos import peers as peer_repo
from honcho_server.worker.runtime import Worker

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def scope_url(ws: str, *parts: str) -> str:
    return ws_url(ws, "scopes", *parts)


async def _rep(client: httpx.AsyncClient, ws: str, peer: str, **body: object) -> str:
    return expect(await client.post(ws_url(ws, "peers", peer, "representation"), json=body), 200)["representation"]


async def _conversation(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """alice and bob talk in s1 (therapy) and s2 (work); bob holds one explicit conclusion about alice in each."""
    for session in ("s1", "s2"):
        await create_session(client, ws, session, {"alice": {}, "bob": {"observe_others": True}})
        await add_messages(client, ws, session, [msg("alice", f"hello in {session}")])
    await store_conclusion(deps, ws, "bob", "alice", "alice is anxious about exams", session="s1", observed_at=T0)
    await store_conclusion(deps, ws, "bob", "alice", "alice works at the bakery", session="s2", observed_at=T0)
    await store_conclusion(deps, ws, "alice", "alice", "alice loves rowing", session="s1", observed_at=T0)


# ------------------------------------------------------------------------------------------------ routes


async def test_create_get_list(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await client.post(scope_url(ws), json={"id": "therapy", "metadata": {"k": 1}}), 201)
    assert created["id"] == "therapy" and created["metadata"] == {"k": 1} and created["created_at"].endswith("Z")
    again = expect(await client.post(scope_url(ws), json={"name": "therapy"}), 200)
    assert again["metadata"] == {"k": 1}  # unchanged unless given
    assert expect(await client.post(scope_url(ws), json={"id": "therapy", "metadata": {}}), 200)["metadata"] == {}
    expect(await client.post(scope_url(ws), json={"id": "work"}), 201)
    assert expect(await client.get(scope_url(ws, "therapy")), 200)["id"] == "therapy"
    listed = expect(await client.post(scope_url(ws, "list")), 200)
    assert ids(listed["items"]) == ["therapy", "work"] and listed["total"] == 2
    assert ids(expect(await client.post(scope_url(ws, "list"), params={"reverse": "true"}), 200)["items"]) == \
        ["work", "therapy"]
    assert expect(await client.get(scope_url(ws, "nope")), 404)["detail"] == f"Scope nope not found in workspace {ws}"
    assert expect(await client.post(scope_url(f"{ws}-x", "list")), 200)["items"] == []
    # Scopes are hidden peers: not listed as peers unless asked for.
    await create_peer(client, ws, "alice")
    assert ids(expect(await client.post(ws_url(ws, "peers", "list"), json={}), 200)["items"]) == ["alice"]
    kinds = expect(await client.post(ws_url(ws, "peers", "list"), json={"kind": "scope"}), 200)
    assert ids(kinds["items"]) == ["scope.therapy", "scope.work"]
    assert len(expect(await client.post(ws_url(ws, "peers", "list"), json={"kind": "all"}), 200)["items"]) == 3


@pytest.mark.parametrize("body", [{"id": ""}, {"id": "a.b"}, {"id": "x" * 507}, {"id": "scope.x"}, {}])
async def test_invalid_scope_ids(client: httpx.AsyncClient, ws: str, body: dict) -> None:
    expect(await client.post(scope_url(ws), json=body), 422)


async def test_longest_scope_id(client: httpx.AsyncClient, ws: str) -> None:
    expect(await client.post(scope_url(ws), json={"id": "x" * 506}), 201)


async def test_name_squatted_by_a_peer_is_a_conflict(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_peer(client, ws, "alice")
    async with deps.db.write() as conn:  # only possible outside the API (legacy data)
        await peer_repo.insert_missing(conn, deps.db.dialect, await workspace_pk(deps, ws), ["scope.taken"], deps.now())
    expect(await client.post(scope_url(ws), json={"id": "taken"}), 409)


async def test_memberships(client: httpx.AsyncClient, ws: str) -> None:
    for session in ("s1", "s2", "s3"):
        await create_session(client, ws, session)
    expect(await client.post(scope_url(ws), json={"id": "t"}), 201)
    url = scope_url(ws, "t", "sessions")
    assert (await client.post(url, json={"session_ids": ["s2", "s1"]})).status_code == 204
    assert (await client.post(url, json={"session_ids": ["s2"]})).status_code == 204  # already a member: no-op
    assert ids(expect(await client.post(scope_url(ws, "t", "sessions", "list")), 200)["items"]) == ["s2", "s1"]
    reverse = expect(await client.post(scope_url(ws, "t", "sessions", "list"), params={"reverse": "true"}), 200)
    assert ids(reverse["items"]) == ["s1", "s2"]
    missing = expect(await client.post(url, json={"session_ids": ["s3", "nope"]}), 404)["detail"]
    assert missing == f"Session(s) ['nope'] not found in workspace {ws}"
    expect(await client.delete(session_url(ws, "s3")), 202)
    expect(await client.post(url, json={"session_ids": ["s3"]}), 404)  # inactive
    for body in ({"session_ids": []}, {"session_ids": [f"s{i}" for i in range(101)]}, {}):
        expect(await client.post(url, json=body), 422)
    expect(await client.post(scope_url(ws, "nope", "sessions"), json={"session_ids": ["s1"]}), 404)
    assert (await client.delete(scope_url(ws, "t", "sessions", "s2"))).status_code == 204
    assert ids(expect(await client.post(scope_url(ws, "t", "sessions", "list")), 200)["items"]) == ["s1"]
    expect(await client.delete(scope_url(ws, "t", "sessions", "s2")), 404)  # not a member any more
    expect(await client.delete(scope_url(ws, "t", "sessions", "nope")), 404)
    expect(await client.delete(scope_url(ws, "nope", "sessions", "s1")), 404)
    expect(await client.post(scope_url(ws, "nope", "sessions", "list")), 404)
    expect(await client.get(scope_url(ws, "nope", "status")), 404)
    # Joining again makes the session a member anew (newest member last).
    await client.post(url, json={"session_ids": ["s2"]})
    assert ids(expect(await client.post(scope_url(ws, "t", "sessions", "list")), 200)["items"]) == ["s1", "s2"]
    # A deleted session is no member any more.
    expect(await client.delete(session_url(ws, "s1")), 202)
    assert ids(expect(await client.post(scope_url(ws, "t", "sessions", "list")), 200)["items"]) == ["s2"]


async def test_session_create_joins_scopes(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    body = expect(await client.post(ws_url(ws, "sessions"), json={"id": "s1", "scopes": ["a", "b", "a"]}), 201)
    assert body["id"] == "s1"
    assert ids(expect(await client.post(scope_url(ws, "list")), 200)["items"]) == ["a", "b"]
    for name in ("a", "b"):
        assert ids(expect(await client.post(scope_url(ws, name, "sessions", "list")), 200)["items"]) == ["s1"]
        # A new session has nothing to backfill.
        assert expect(await client.get(scope_url(ws, name, "status")), 200) == {"backfill_status": {}}
    # Scopes are silent members: not session peers, not counted as observers.
    assert expect(await client.get(session_url(ws, "s1", "peers")), 200)["items"] == []
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "s2", "scopes": ["x" * 507]}), 422)
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "s2", "scopes": [f"x{i}" for i in range(101)]}), 422)


async def test_scope_routes_need_a_workspace_key(auth_client: httpx.AsyncClient, ws: str) -> None:
    admin = bearer(sign(ad=True))
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s1"}, headers=admin), 201)
    workspace = bearer(sign(w=ws))
    expect(await auth_client.post(scope_url(ws), json={"id": "t"}, headers=workspace), 201)
    for headers in (bearer(sign(w=ws, p="alice")), bearer(sign(w=ws, s="s1")), bearer(sign(w=f"{ws}-other"))):
        expect(await auth_client.post(scope_url(ws), json={"id": "t"}, headers=headers), 401)
        expect(await auth_client.get(scope_url(ws, "t"), headers=headers), 401)
        expect(await auth_client.post(scope_url(ws, "list"), headers=headers), 401)
        expect(await auth_client.get(scope_url(ws, "t", "status"), headers=headers), 401)
        expect(await auth_client.post(scope_url(ws, "t", "sessions"), json={"session_ids": ["s1"]}, headers=headers),
               401)
        expect(await auth_client.post(scope_url(ws, "t", "sessions", "list"), headers=headers), 401)
        expect(await auth_client.delete(scope_url(ws, "t", "sessions", "s1"), headers=headers), 401)
    expect(await auth_client.post(scope_url(ws, "t", "sessions"), json={"session_ids": ["s1"]}, headers=workspace),
           204)
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s1", "scopes": ["t"]},
                                  headers=bearer(sign(w=ws, s="s1"))), 401)


# -------------------------------------------------------------------------------- backfill and removal


async def test_backfill_then_removal(client: httpx.AsyncClient, deps: Deps, worker: Worker, ws: str) -> None:
    await _conversation(client, deps, ws)
    await worker.drain()
    expect(await client.post(scope_url(ws), json={"id": "therapy"}), 201)
    assert (await client.post(scope_url(ws, "therapy", "sessions"), json={"session_ids": ["s1"]})).status_code == 204
    pending = expect(await client.get(scope_url(ws, "therapy", "status")), 200)["backfill_status"]
    assert pending["s1"]["state"] == "pending" and "docs_copied" not in pending["s1"]
    assert datetime.fromisoformat(pending["s1"]["updated_at"]).utcoffset() is not None
    assert await _rep(client, ws, "bob", target="alice", scope="therapy") == ""  # not copied yet
    await worker.drain()
    done = expect(await client.get(scope_url(ws, "therapy", "status")), 200)["backfill_status"]
    assert done["s1"]["state"] == "completed" and done["s1"]["docs_copied"] == 2
    # The scope's own view holds what was learned in s1 only, whoever learned it; the path peer does not matter.
    seen = await _rep(client, ws, "bob", target="alice", scope="therapy")
    assert "anxious about exams" in seen and "rowing" in seen and "bakery" not in seen
    assert await _rep(client, ws, "carol", target="alice", scope="therapy") == seen
    # The peers' own views are untouched.
    assert "bakery" in await _rep(client, ws, "bob", target="alice")
    # A second run of the backfill copies nothing twice.
    await client.post(scope_url(ws, "therapy", "sessions"), json={"session_ids": ["s1"]})
    await worker.drain()
    assert (await _rep(client, ws, "bob", target="alice", scope="therapy")).count("anxious") == 1
    # Removal confines reads at once, and the removal job deletes the copies.
    assert (await client.delete(scope_url(ws, "therapy", "sessions", "s1"))).status_code == 204
    assert expect(await client.get(scope_url(ws, "therapy", "status")), 200) == {"backfill_status": {}}
    assert await _rep(client, ws, "bob", target="alice", scope="therapy") == ""
    assert [j.kind for j in await session_jobs(deps, ws, "s1", "scope_removal")] == ["scope_removal"]
    await worker.drain()
    listed = expect(await client.post(ws_url(ws, "conclusions", "list"),
                                      json={"filters": {"observer_id": "scope.therapy"}}), 200)
    assert listed["items"] == []
    # Joining again backfills again.
    await client.post(scope_url(ws, "therapy", "sessions"), json={"session_ids": ["s1"]})
    await worker.drain()
    assert "anxious" in await _rep(client, ws, "bob", target="alice", scope="therapy")


async def test_messages_after_joining_are_derived_for_the_scope(client: httpx.AsyncClient, deps: Deps,
                                                                ws: str) -> None:
    await create_session(client, ws, "s1", {"alice": {}, "bob": {}}, scopes=["t"])
    await add_messages(client, ws, "s1", [msg("alice", "I row every morning")])
    jobs = await session_jobs(deps, ws, "s1", "representation")
    assert [j.observers for j in jobs] == [["alice", "scope.t"]]
    # Not when the sender is not observed.
    await client.put(session_url(ws, "s1", "peers", "bob", "config"), json={"observe_me": False})
    await add_messages(client, ws, "s1", [msg("bob", "ok")])
    assert len(await session_jobs(deps, ws, "s1", "representation")) == 1
    # After leaving, new messages are not derived for the scope.
    await client.delete(scope_url(ws, "t", "sessions", "s1"))
    await add_messages(client, ws, "s1", [msg("alice", "and swim")])
    assert (await session_jobs(deps, ws, "s1", "representation"))[-1].observers == ["alice"]
    # The observer limit does not count scopes.
    peers = {f"p{i}": {"observe_others": True} for i in range(10)}
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "s2", "peers": peers, "scopes": ["t", "u"]}), 201)


# ------------------------------------------------------------------------------------------------ reads


async def test_workspace_search_through_a_scope(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _conversation(client, deps, ws)
    expect(await client.post(scope_url(ws), json={"id": "empty"}), 201)
    await create_session(client, ws, "s3", scopes=["t"])
    await client.post(scope_url(ws, "t", "sessions"), json={"session_ids": ["s1"]})
    url = ws_url(ws, "search")
    found = expect(await client.post(url, json={"query": "hello", "scope": "t"}), 200)
    assert [m["session_id"] for m in found] == ["s1"]
    assert len(expect(await client.post(url, json={"query": "hello"}), 200)) == 2
    assert expect(await client.post(url, json={"query": "hello", "scope": "empty"}), 200) == []
    expect(await client.post(url, json={"query": "hello", "scope": "nope"}), 404)
    expect(await client.post(url, json={"query": "hello", "scope": "t", "filters": {"session_id": "s2"}}), 422)
    # Other filters still apply inside the scope.
    assert expect(await client.post(url, json={"query": "hello", "scope": "t", "filters": {"peer_id": "bob"}}),
                  200) == []


async def test_representation_through_scopes(client: httpx.AsyncClient, deps: Deps, worker: Worker,
                                             ws: str) -> None:
    await _conversation(client, deps, ws)
    await client.post(scope_url(ws), json={"id": "work"})
    await client.post(scope_url(ws, "work", "sessions"), json={"session_ids": ["s2"]})
    # A list of scopes confines the peer's own view to their sessions.
    confined = await _rep(client, ws, "bob", target="alice", scope=["work"])
    assert "bakery" in confined and "anxious" not in confined
    await client.post(scope_url(ws), json={"id": "nothing"})
    assert await _rep(client, ws, "bob", target="alice", scope=["nothing"]) == ""
    expect(await client.post(ws_url(ws, "peers", "bob", "representation"), json={"scope": ["work", "nope"]}), 404)
    expect(await client.post(ws_url(ws, "peers", "bob", "representation"),
                             json={"scope": "work", "filters": {"session_id": "s2"}}), 422)
    expect(await client.post(ws_url(ws, "peers", "bob", "representation"), json={"scope": ["x"] * 101}), 422)
    await worker.drain()
    assert "bakery" in await _rep(client, ws, "bob", target="alice", scope="work")


async def test_session_context_through_a_scope(client: httpx.AsyncClient, deps: Deps, worker: Worker,
                                               auth_client: httpx.AsyncClient, ws: str) -> None:
    await _conversation(client, deps, ws)
    await client.post(scope_url(ws), json={"id": "therapy"})
    await client.post(scope_url(ws, "therapy", "sessions"), json={"session_ids": ["s1"]})
    await worker.drain()
    expect(await client.put(ws_url(ws, "peers", "scope.therapy", "card"), json={"peer_card": []}), 422)
    url = session_url(ws, "s1", "context")
    got = expect(await client.get(url, params={"peer_target": "alice", "scope": "therapy"}), 200)
    assert "anxious" in got["peer_representation"] and "bakery" not in got["peer_representation"]
    assert got["peer_card"] is None  # the scope has no card about alice yet
    limited = expect(await client.get(url, params={"peer_target": "alice", "scope": "therapy",
                                                   "limit_to_session": "true"}), 200)
    assert "anxious" in limited["peer_representation"]
    expect(await client.get(url, params={"peer_target": "alice", "scope": "nope"}), 404)
    expect(await client.get(url, params={"scope": "therapy"}), 422)  # needs peer_target
    expect(await auth_client.get(url, params={"peer_target": "alice", "scope": "therapy"},
                                 headers=bearer(sign(w=ws))), 200)
    expect(await auth_client.get(url, params={"peer_target": "alice", "scope": "therapy"},
                                 headers=bearer(sign(w=ws, s="s1"))), 401)
