"""Session membership (spec §7.6-7.11, §3.4): add / set / remove peers, peer lists, per-session config,
and the observer limit."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import (
    assert_page,
    assert_session,
    create_peer,
    create_session,
    expect,
    ids,
    memberships,
    session_row,
    session_url,
)

from honcho_server.services.deps import Deps


async def _flags(deps: Deps, ws: str, session: str) -> dict[str, tuple[Any, Any, bool]]:
    """peer → (observe_me, observe_others, active)."""
    return {
        n: (r.observe_me, r.observe_others, r.left_at is None)
        for n, r in (await memberships(deps, ws, session)).items()
    }


async def _peers_of(client: httpx.AsyncClient, ws: str, session: str) -> list[str]:
    return sorted(ids(expect(await client.get(session_url(ws, session, "peers")), 200)["items"]))


async def test_add_peers_creates_session_and_keeps_active_configs(
    client: httpx.AsyncClient,
    deps: Deps,
    ws: str,
) -> None:
    body = expect(
        await client.post(session_url(ws, "s1", "peers"), json={"alice": {"observe_others": True}}), 200
    )
    assert_session(body, ws, "s1")
    again = {"alice": {"observe_others": False, "observe_me": False}, "bob": {"observe_me": False}}
    expect(await client.post(session_url(ws, "s1", "peers"), json=again), 200)
    assert await _flags(deps, ws, "s1") == {"alice": (None, True, True), "bob": (False, None, True)}


async def test_left_member_re_added_takes_new_config(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {"observe_others": True}, "bob": {}})
    expect(await client.request("DELETE", session_url(ws, "s1", "peers"), json=["alice"]), 200)
    assert (await _flags(deps, ws, "s1"))["alice"] == (None, True, False)
    expect(await client.post(session_url(ws, "s1", "peers"), json={"alice": {"observe_me": False}}), 200)
    assert (await _flags(deps, ws, "s1"))["alice"] == (False, None, True)


async def test_set_peers_replaces_membership(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {"observe_others": True}, "bob": {}})
    body = expect(
        await client.put(session_url(ws, "s1", "peers"), json={"alice": {}, "carol": {"observe_me": False}}),
        200,
    )
    assert_session(body, ws, "s1")
    assert await _flags(deps, ws, "s1") == {
        "alice": (None, None, True),  # re-joined with the config given here
        "bob": (None, None, False),
        "carol": (False, None, True),
    }
    assert await _peers_of(client, ws, "s1") == ["alice", "carol"]
    expect(await client.put(session_url(ws, "missing", "peers"), json={"alice": {}}), 404)


async def test_remove_peers_marks_left(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {}})
    body = expect(await client.request("DELETE", session_url(ws, "s1", "peers"), json=["bob", "nobody"]), 200)
    assert_session(body, ws, "s1")
    flags = await _flags(deps, ws, "s1")
    assert (flags["alice"][2], flags["bob"][2]) == (True, False)
    assert await _peers_of(client, ws, "s1") == ["alice"]
    expect(await client.request("DELETE", session_url(ws, "s1", "peers"), json=["scope.x"]), 422)
    expect(await client.request("DELETE", session_url(ws, "missing", "peers"), json=["alice"]), 404)


async def test_peer_map_validation(client: httpx.AsyncClient, ws: str) -> None:
    for body in ({"scope.team": {}}, {"bad name": {}}, ["alice"]):
        expect(await client.post(session_url(ws, "s1", "peers"), json=body), 422)
    expect(await client.post(session_url(ws, "s1", "peers"), json={"alice": {"observe_me": "x"}}), 422)


async def test_list_session_peers(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(client, ws, "s1", peers={f"p{i}": {} for i in range(5)})
    body = expect(await client.get(session_url(ws, "s1", "peers"), params={"size": 2, "page": 3}), 200)
    assert len(assert_page(body, total=5, page=3, size=2, pages=3)) == 1
    unknown = expect(await client.get(session_url(ws, "nope", "peers")), 200)
    assert assert_page(unknown, total=0, page=1, size=50, pages=0) == []


async def test_get_peer_config(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {"observe_others": True}, "bob": {}})
    await create_peer(client, ws, "outsider")
    url = session_url(ws, "s1", "peers", "{}", "config").format
    assert expect(await client.get(url("alice")), 200) == {"observe_me": None, "observe_others": True}
    expect(await client.request("DELETE", session_url(ws, "s1", "peers"), json=["bob"]), 200)
    assert expect(await client.get(url("bob")), 200) == {"observe_me": None, "observe_others": None}
    expect(await client.get(url("outsider")), 404)
    expect(await client.get(url("ghost")), 404)
    expect(await client.get(url("scope.x")), 422)


async def test_put_peer_config_merges_and_creates_membership(
    client: httpx.AsyncClient,
    deps: Deps,
    ws: str,
) -> None:
    await create_session(client, ws, "s1", peers={"alice": {"observe_me": False}})
    await create_peer(client, ws, "bob")
    url = session_url(ws, "s1", "peers", "{}", "config").format

    response = await client.put(url("alice"), json={"observe_others": True})
    assert (response.status_code, response.content) == (204, b"")
    assert expect(await client.get(url("alice")), 200) == {"observe_me": False, "observe_others": True}
    expect(await client.put(url("alice"), json={"observe_me": None, "observe_others": False}), 204)
    assert expect(await client.get(url("alice")), 200) == {"observe_me": False, "observe_others": False}

    expect(await client.put(url("bob"), json={"observe_me": True}), 204)  # not a member yet
    assert (await _flags(deps, ws, "s1"))["bob"] == (True, None, True)
    assert await _peers_of(client, ws, "s1") == ["alice", "bob"]

    expect(await client.put(url("ghost"), json={}), 404)
    expect(await client.put(session_url(ws, "nope", "peers", "bob", "config"), json={}), 404)
    expect(await client.put(url("scope.x"), json={}), 422)


def _observers(count: int, prefix: str = "o") -> dict[str, dict[str, bool]]:
    return {f"{prefix}{i}": {"observe_others": True} for i in range(count)}


async def test_observer_limit_changes_nothing(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    response = await client.post(
        "/v3/workspaces/" + ws + "/sessions", json={"id": "s1", "peers": _observers(11)}
    )
    assert response.status_code == 400 and isinstance(response.json()["detail"], str)
    assert await session_row(deps, ws, "s1") is None

    await create_session(client, ws, "s2", peers=_observers(10))
    before = await _flags(deps, ws, "s2")
    expect(await client.post(session_url(ws, "s2", "peers"), json=_observers(1, "extra")), 400)
    expect(await client.put(session_url(ws, "s2", "peers"), json=_observers(11)), 400)
    await create_peer(client, ws, "late")
    expect(
        await client.put(session_url(ws, "s2", "peers", "late", "config"), json={"observe_others": True}), 400
    )
    assert await _flags(deps, ws, "s2") == before
    peers = expect(await client.post(f"/v3/workspaces/{ws}/peers/list"), 200)
    assert "extra0" not in ids(peers["items"])

    # Non-observers are not limited, and a left observer frees a slot.
    expect(await client.post(session_url(ws, "s2", "peers"), json={"plain": {}}), 200)
    expect(await client.request("DELETE", session_url(ws, "s2", "peers"), json=["o0"]), 200)
    expect(await client.post(session_url(ws, "s2", "peers"), json=_observers(1, "extra")), 200)
