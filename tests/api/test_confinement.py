"""Keys below workspace level stay inside what they were minted for (issue 12, A-C; README "Authentication").

A. A peer key may create a new session (with whoever it names), but may not join, or change, an existing session
   it is not an active member of, nor change the membership of one it is in.
B. A session key sees only what its session holds: a representation built from the explicit conclusions learned
   in that session, and no peer card. A peer key only ever reads its own memory (observer = itself).
C. Peer and session keys create no peer but their own, apart from the members named in a session they create.

Data is seeded through the auth-less `client` (same database); the probes go through `auth_client`. Every refusal
is a 401 with the policy's message, and every probe also checks that nothing was written.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import (
    add_messages,
    bearer,
    count_where,
    create_session,
    expect,
    memberships,
    messages_url,
    msg,
    session_row,
    session_url,
    sign,
    workspace_pk,
    ws_url,
)
from memory_helpers import store_conclusion

from honcho_server.services.deps import Deps
from honcho_server.store import tables

NOT_PERMITTED = "JWT not permissioned for this resource"

IN_S1 = "bob mentioned his cat in s1"
IN_S2 = "bob confided a secret in s2"
GLOBAL = "bob stated a fact outside any session"
DERIVED = "bob probably likes animals"
ALICE_ON_BOB_S1 = "alice saw bob arrive in s1"
ALICE_ON_BOB_S2 = "alice heard bob whisper in s2"
CARD = "bob's private card entry"
FOREIGN = (IN_S2, GLOBAL, DERIVED, ALICE_ON_BOB_S2, CARD)


@pytest.fixture
async def world(client: httpx.AsyncClient, deps: Deps, ws: str) -> dict[str, Any]:
    """s1: alice and bob; s2: bob and carol with bob's private messages; conclusions of bob (about himself) and
    of alice (about bob) in s1, in s2 and outside any session; bob's own card."""
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", peers={"bob": {}, "carol": {}})
    await add_messages(client, ws, "s1", [msg("alice", "hello bob"), msg("bob", "hi alice")])
    await add_messages(client, ws, "s2", [msg("bob", "my password is hunter2")])
    premise = await store_conclusion(deps, ws, "bob", "bob", IN_S1, session="s1")
    await store_conclusion(deps, ws, "bob", "bob", IN_S2, session="s2")
    await store_conclusion(deps, ws, "bob", "bob", GLOBAL)
    await store_conclusion(deps, ws, "bob", "bob", DERIVED, level="deductive", session="s1", source_ids=[premise])
    await store_conclusion(deps, ws, "alice", "bob", ALICE_ON_BOB_S1, session="s1")
    await store_conclusion(deps, ws, "alice", "bob", ALICE_ON_BOB_S2, session="s2")
    expect(await client.put(ws_url(ws, "peers", "bob", "card"), json={"peer_card": [CARD]}), 200)
    return {"s1": await _members(deps, ws, "s1"), "s2": await _members(deps, ws, "s2")}


def _refused(response: httpx.Response, detail: str = NOT_PERMITTED) -> None:
    assert response.status_code == 401, f"{response.request.method} {response.request.url}: {response.text}"
    assert response.json() == {"detail": detail}


async def _members(deps: Deps, ws: str, session: str) -> dict[str, tuple]:
    """Membership rows (flags and when left) by peer name: compared whole, so any change shows."""
    return {name: (r.observe_me, r.observe_others, r.left_at) for name, r in
            (await memberships(deps, ws, session)).items()}


async def _peer_exists(deps: Deps, ws: str, name: str) -> bool:
    p = tables.peers
    return await count_where(deps, p, p.c.workspace_id == await workspace_pk(deps, ws), p.c.name == name) > 0


async def _message_count(deps: Deps, ws: str) -> int:
    m = tables.messages
    return await count_where(deps, m, m.c.workspace_id == await workspace_pk(deps, ws))


async def _card(client: httpx.AsyncClient, ws: str, observer: str, target: str | None = None) -> Any:
    params = {"target": target} if target else {}
    return expect(await client.get(ws_url(ws, "peers", observer, "card"), params=params), 200)["peer_card"]


# ---- A: joining sessions ------------------------------------------------------------------------------------


async def test_a_peer_key_cannot_join_an_existing_session(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    alice = bearer(sign(w=ws, p="alice"))
    _refused(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s2", "peers": {"alice": {}}},
                                    headers=alice))
    assert await _members(deps, ws, "s2") == world["s2"]
    _refused(await auth_client.post(messages_url(ws, "s2", "list"), headers=alice))


async def test_a_peer_key_cannot_touch_a_session_it_is_not_in(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    """Reading it through get-or-create, changing its metadata, or adding others to it."""
    alice = bearer(sign(w=ws, p="alice"))
    before = await session_row(deps, ws, "s2")
    for body in ({"id": "s2"}, {"id": "s2", "metadata": {"owned": True}},
                 {"id": "s2", "configuration": {"reasoning": {"enabled": False}}},
                 {"id": "s2", "peers": {"carol": {}}}, {"id": "s2", "peers": {"dave": {}}},
                 {"id": "s2", "peers": {"alice": {"observe_others": True}}}):
        _refused(await auth_client.post(ws_url(ws, "sessions"), json=body, headers=alice))
    after = await session_row(deps, ws, "s2")
    assert (after.metadata, after.configuration) == (before.metadata, before.configuration)
    assert await _members(deps, ws, "s2") == world["s2"]
    assert not await _peer_exists(deps, ws, "dave")


async def test_a_a_left_member_cannot_rejoin_by_itself(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    expect(await client.request("DELETE", session_url(ws, "s2", "peers"), json=["carol"]), 200)
    left = await _members(deps, ws, "s2")
    _refused(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s2", "peers": {"carol": {}}},
                                    headers=bearer(sign(w=ws, p="carol"))))
    assert await _members(deps, ws, "s2") == left


async def test_a_a_member_peer_key_does_not_change_its_session(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    """Get-or-create of a session it is in works (the SDK's session refresh); membership or metadata changes
    need a session or workspace key, as on `PUT .../sessions/{s}` and `POST .../sessions/{s}/peers`."""
    alice = bearer(sign(w=ws, p="alice"))
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s1"}, headers=alice), 200)
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s1", "peers": {"alice": {}}},
                                  headers=alice), 200)
    for body in ({"id": "s1", "peers": {"carol": {}}}, {"id": "s1", "peers": {"mallory": {}}},
                 {"id": "s1", "metadata": {"owned": True}}):
        _refused(await auth_client.post(ws_url(ws, "sessions"), json=body, headers=alice))
    assert await _members(deps, ws, "s1") == world["s1"]
    assert (await session_row(deps, ws, "s1")).metadata == {}
    assert not await _peer_exists(deps, ws, "mallory")


async def test_a_a_peer_key_creates_a_new_session_with_itself(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    alice = bearer(sign(w=ws, p="alice"))
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "fresh", "peers": {"alice": {}, "bob": {}}},
                                  headers=alice), 201)
    assert set(await _members(deps, ws, "fresh")) == {"alice", "bob"}
    expect(await auth_client.post(messages_url(ws, "fresh", "list"), headers=alice), 200)
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "empty"}, headers=alice), 201)


@pytest.mark.parametrize("claims", [{"p": "alice"}, {"s": "s1"}, {"s": "s1", "p": "alice"}])
async def test_a_membership_routes_of_another_session_are_refused(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict,
    claims: dict,
) -> None:
    token = bearer(sign(w=ws, **claims))
    probes = [
        ("POST", session_url(ws, "s2", "peers"), {"alice": {}}),
        ("PUT", session_url(ws, "s2", "peers"), {"alice": {}, "bob": {}, "carol": {}}),
        ("DELETE", session_url(ws, "s2", "peers"), ["carol"]),
        ("PUT", session_url(ws, "s2", "peers", "alice", "config"), {"observe_others": True}),
        ("PUT", session_url(ws, "s2"), {"metadata": {"owned": True}}),
        ("POST", session_url(ws, "s2", "clone"), None),
    ]
    for method, url, body in probes:
        _refused(await auth_client.request(method, url, json=body, headers=token))
    response = await auth_client.post(ws_url(ws, "sessions"), json={"id": "s2", "peers": {"alice": {}}},
                                      headers=token)
    _refused(response, NOT_PERMITTED if claims == {"p": "alice"} else "Unauthorized access to resource")
    assert await _members(deps, ws, "s2") == world["s2"]
    assert (await session_row(deps, ws, "s2")).metadata == {}
    s = tables.sessions
    assert await count_where(deps, s, s.c.workspace_id == await workspace_pk(deps, ws)) == 2  # no clone


# ---- B: memory seen through a session -----------------------------------------------------------------------


def _confined(body: dict, *allowed: str) -> None:
    text = body["peer_representation"]
    for fact in allowed:
        assert fact in text, text
    for fact in FOREIGN:
        assert fact not in text, text
    assert body["peer_card"] is None


async def test_b_a_session_key_sees_only_what_its_session_holds(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str, world: dict
) -> None:
    token = bearer(sign(w=ws, s="s1"))
    url = session_url(ws, "s1", "context")
    _confined(expect(await auth_client.get(url, params={"peer_target": "bob"}, headers=token), 200), IN_S1)
    for extra in ({"limit_to_session": "false"}, {"limit_to_session": "true"}, {"sessions": ["s1"]},
                  {"include_most_frequent": "true"}, {"search_query": "secret"}):
        body = expect(await auth_client.get(url, params={"peer_target": "bob", **extra}, headers=token), 200)
        _confined(body, IN_S1)
    body = expect(await auth_client.get(url, params={"peer_target": "bob", "peer_perspective": "alice"},
                                        headers=token), 200)
    _confined(body, ALICE_ON_BOB_S1)
    _refused(await auth_client.get(url, params={"peer_target": "bob", "sessions": ["s1", "s2"]}, headers=token))
    # a session-and-peer key is a session key (spec 13.1)
    both = bearer(sign(w=ws, s="s1", p="bob"))
    _confined(expect(await auth_client.get(url, params={"peer_target": "bob"}, headers=both), 200), IN_S1)


async def test_b_workspace_keys_still_see_everything(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str, world: dict
) -> None:
    body = expect(await auth_client.get(session_url(ws, "s1", "context"), params={"peer_target": "bob"},
                                        headers=bearer(sign(w=ws))), 200)
    for fact in (IN_S1, IN_S2, GLOBAL, DERIVED):
        assert fact in body["peer_representation"]
    assert body["peer_card"] == [CARD]


async def test_b_a_peer_key_reads_only_its_own_memory(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str, world: dict
) -> None:
    """Bob's memory is out of alice's reach even in a session both are in; alice's own view of bob is hers."""
    alice = bearer(sign(w=ws, p="alice"))
    url = session_url(ws, "s1", "context")
    for params in ({"peer_target": "bob"}, {"peer_target": "bob", "peer_perspective": "bob"},
                   {"peer_target": "alice", "peer_perspective": "bob"}):
        _refused(await auth_client.get(url, params=params, headers=alice))
    for method, path in (("POST", "representation"), ("GET", "context"), ("GET", "card"), ("POST", "chat")):
        _refused(await auth_client.request(method, ws_url(ws, "peers", "bob", path), headers=alice,
                                           json={"query": "secrets?"} if path == "chat" else None))
    own = expect(await auth_client.get(url, params={"peer_target": "bob", "peer_perspective": "alice"},
                                       headers=alice), 200)
    assert ALICE_ON_BOB_S1 in own["peer_representation"] and ALICE_ON_BOB_S2 in own["peer_representation"]
    assert IN_S2 not in own["peer_representation"] and GLOBAL not in own["peer_representation"]


async def test_b_session_keys_reach_no_other_memory_route(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str, world: dict
) -> None:
    token = bearer(sign(w=ws, s="s1", p="alice"))
    probes = [
        ("POST", ws_url(ws, "peers", "bob", "representation"), {"session_id": "s1"}),
        ("GET", ws_url(ws, "peers", "bob", "context"), None),
        ("GET", ws_url(ws, "peers", "bob", "card"), None),
        ("POST", ws_url(ws, "peers", "bob", "chat"), {"query": "secrets?", "session_id": "s1"}),
        ("POST", ws_url(ws, "conclusions", "list"), {"filters": {"observed_id": "bob"}}),
        ("POST", ws_url(ws, "conclusions", "query"), {"query": "secret", "filters": {"observed_id": "bob"}}),
        ("POST", ws_url(ws, "chat"), {"query": "secrets?"}),
    ]
    for method, url, body in probes:
        _refused(await auth_client.request(method, url, json=body, headers=token))


# ---- C: creating peers --------------------------------------------------------------------------------------


async def test_c_a_session_key_creates_no_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    token = bearer(sign(w=ws, s="s1"))
    _refused(await auth_client.post(ws_url(ws, "peers"), json={"id": "mallory"}, headers=token))
    assert not await _peer_exists(deps, ws, "mallory")
    expect(await auth_client.post(ws_url(ws, "peers"), json={"id": "alice"}, headers=token), 200)


async def test_c_keys_below_workspace_level_change_no_other_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    before = expect(await client.post(ws_url(ws, "peers"), json={"id": "bob"}), 200)
    # A peer key naming another peer is refused by the route's claim check, a session key by the service.
    for token, detail in ((sign(w=ws, s="s1"), NOT_PERMITTED), (sign(w=ws, p="alice"), "Unauthorized access to "
                                                                                       "resource")):
        for body in ({"id": "bob", "metadata": {"owned": True}}, {"id": "bob", "configuration": {"observe_me": False}}):
            _refused(await auth_client.post(ws_url(ws, "peers"), json=body, headers=bearer(token)), detail)
    after = expect(await client.post(ws_url(ws, "peers"), json={"id": "bob"}), 200)
    assert (after["metadata"], after["configuration"]) == (before["metadata"], before["configuration"])
    mine = expect(await auth_client.post(ws_url(ws, "peers"), json={"id": "alice", "metadata": {"me": 1}},
                                         headers=bearer(sign(w=ws, p="alice"))), 200)
    assert mine["metadata"] == {"me": 1}  # its own peer: as PUT .../peers/alice allows


async def test_c_a_peer_key_writes_no_card_about_a_new_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    alice = bearer(sign(w=ws, p="alice"))
    card = ws_url(ws, "peers", "alice", "card")
    _refused(await auth_client.put(card, params={"target": "new-peer"}, json={"peer_card": ["x"]}, headers=alice))
    assert not await _peer_exists(deps, ws, "new-peer")
    assert await _card(client, ws, "alice") is None
    expect(await auth_client.put(card, params={"target": "bob"}, json={"peer_card": ["met bob"]}, headers=alice),
           200)
    assert await _card(client, ws, "alice", "bob") == ["met bob"]


async def test_c_a_peer_key_creates_its_own_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    newbie = bearer(sign(w=ws, p="newbie"))
    expect(await auth_client.put(ws_url(ws, "peers", "newbie", "card"), json={"peer_card": ["me"]}, headers=newbie),
           200)
    expect(await auth_client.post(ws_url(ws, "peers"), json={"id": "newbie"}, headers=newbie), 200)
    other = bearer(sign(w=ws, p="other"))
    expect(await auth_client.post(ws_url(ws, "peers"), json={"id": "other"}, headers=other), 201)
    _refused(await auth_client.post(ws_url(ws, "peers"), json={"id": "mallory"}, headers=other),
             "Unauthorized access to resource")
    assert not await _peer_exists(deps, ws, "mallory")


async def test_c_session_key_writes_create_no_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    """Messages by a new author, uploads, adding or setting members, membership config, the session's own
    get-or-create: none may bring a new peer into being. Existing peers may be named."""
    token = bearer(sign(w=ws, s="s1"))
    messages_before = await _message_count(deps, ws)
    probes = [
        ("POST", messages_url(ws, "s1"), {"messages": [msg("alice", "fine"), msg("mallory", "sneaky")]}),
        ("POST", session_url(ws, "s1", "peers"), {"mallory": {}}),
        ("PUT", session_url(ws, "s1", "peers"), {"alice": {}, "bob": {}, "mallory": {}}),
        ("POST", ws_url(ws, "sessions"), {"id": "s1", "peers": {"mallory": {}}}),
    ]
    for method, url, body in probes:
        _refused(await auth_client.request(method, url, json=body, headers=token))
    _refused(await auth_client.post(messages_url(ws, "s1", "upload"), headers=token, data={"peer_id": "mallory"},
                                    files={"file": ("n.txt", b"sneaky upload", "text/plain")}))
    response = await auth_client.put(session_url(ws, "s1", "peers", "mallory", "config"), json={}, headers=token)
    assert response.status_code in (401, 404), response.text
    assert not await _peer_exists(deps, ws, "mallory")
    assert await _message_count(deps, ws) == messages_before
    assert await _members(deps, ws, "s1") == world["s1"]

    expect(await auth_client.post(messages_url(ws, "s1"), json={"messages": [msg("carol", "existing peer")]},
                                  headers=token), 201)
    assert "carol" in await _members(deps, ws, "s1")


async def test_c_reads_create_no_peer(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    session_key, alice = bearer(sign(w=ws, s="s1")), bearer(sign(w=ws, p="alice"))
    url = session_url(ws, "s1", "context")
    body = expect(await auth_client.get(url, params={"peer_target": "ghost", "peer_perspective": "alice"},
                                        headers=session_key), 200)
    assert body["peer_representation"] == ""
    for params in ({"peer_target": "ghost"}, {"peer_target": "alice", "peer_perspective": "ghost"}):
        assert (await auth_client.get(url, params=params, headers=session_key)).status_code == 404
    body = expect(await auth_client.post(ws_url(ws, "peers", "alice", "representation"), json={"target": "ghost"},
                                         headers=alice), 200)
    assert body == {"representation": ""}
    expect(await auth_client.get(ws_url(ws, "peers", "alice", "card"), params={"target": "ghost"}, headers=alice),
           200)
    expect(await auth_client.get(ws_url(ws, "peers", "alice", "context"), params={"target": "ghost"},
                                 headers=alice), 200)
    assert not await _peer_exists(deps, ws, "ghost")


async def test_c_keys_may_name_new_members_of_a_session_they_create(
    client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps, ws: str, world: dict
) -> None:
    token = bearer(sign(w=ws, s="s9"))
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s9", "peers": {"newcomer": {}}},
                                  headers=token), 201)
    assert set(await _members(deps, ws, "s9")) == {"newcomer"}
    expect(await auth_client.post(ws_url(ws, "sessions"), json={"id": "s10", "peers": {"alice": {}, "pal": {}}},
                                  headers=bearer(sign(w=ws, p="alice"))), 201)
    assert set(await _members(deps, ws, "s10")) == {"alice", "pal"}
    # a session key whose session does not exist yet creates it with its first message's author
    expect(await auth_client.post(messages_url(ws, "s11"), json={"messages": [msg("starter", "first")]},
                                  headers=bearer(sign(w=ws, s="s11"))), 201)
    assert set(await _members(deps, ws, "s11")) == {"starter"}
    expect(await auth_client.post(session_url(ws, "s12", "peers"), json={"brand-new": {}},
                                  headers=bearer(sign(w=ws, s="s12"))), 200)
    assert set(await _members(deps, ws, "s12")) == {"brand-new"}
