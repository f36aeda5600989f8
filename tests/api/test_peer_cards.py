"""Peer cards (spec §6.7-6.8) on both databases: read, write, replace; own card and cards of others."""

from __future__ import annotations

import httpx
from api_helpers import bearer, create_peer, expect, ids, list_all, sign, ws_url


def card_url(ws: str, peer: str) -> str:
    return ws_url(ws, "peers", peer, "card")


async def test_card_is_null_until_written_then_replaced_whole(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    assert expect(await client.get(card_url(ws, "alice")), 200) == {"peer_card": None}
    written = expect(await client.put(card_url(ws, "alice"), json={"peer_card": ["Name: Alice", "Lives in Berlin"]}),
                     200)
    assert written == {"peer_card": ["Name: Alice", "Lives in Berlin"]}
    assert expect(await client.get(card_url(ws, "alice")), 200) == written
    replaced = expect(await client.put(card_url(ws, "alice"), json={"peer_card": ["Name: Alice\x00"]}), 200)
    assert replaced == {"peer_card": ["Name: Alice"]}
    assert expect(await client.get(card_url(ws, "alice")), 200) == replaced
    # An empty card is a card (not "none").
    assert expect(await client.put(card_url(ws, "alice"), json={"peer_card": []}), 200) == {"peer_card": []}
    assert expect(await client.get(card_url(ws, "alice")), 200) == {"peer_card": []}


async def test_cards_of_others_are_kept_apart(client: httpx.AsyncClient, ws: str) -> None:
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    expect(await client.put(card_url(ws, "alice"), json={"peer_card": ["I am Alice"]}), 200)
    expect(await client.put(card_url(ws, "alice"), params={"target": "bob"}, json={"peer_card": ["Bob: a chef"]}),
           200)
    expect(await client.put(card_url(ws, "bob"), params={"target": "alice"}, json={"peer_card": ["Alice: a pilot"]}),
           200)
    assert expect(await client.get(card_url(ws, "alice")), 200) == {"peer_card": ["I am Alice"]}
    assert expect(await client.get(card_url(ws, "alice"), params={"target": "alice"}), 200) == {
        "peer_card": ["I am Alice"]}
    assert expect(await client.get(card_url(ws, "alice"), params={"target": "bob"}), 200) == {
        "peer_card": ["Bob: a chef"]}
    assert expect(await client.get(card_url(ws, "bob"), params={"target": "alice"}), 200) == {
        "peer_card": ["Alice: a pilot"]}
    assert expect(await client.get(card_url(ws, "bob")), 200) == {"peer_card": None}
    # A target that does not exist has no card (the observer does exist).
    assert expect(await client.get(card_url(ws, "alice"), params={"target": "zed"}), 200) == {"peer_card": None}


async def test_put_creates_the_workspace_and_both_peers(client: httpx.AsyncClient, ws: str) -> None:
    """Writing what one knows about someone who has not spoken yet is normal: neither peer needs to exist."""
    expect(await client.put(card_url(ws, "carol"), params={"target": "dave"}, json={"peer_card": ["Dave: tall"]}),
           200)
    assert sorted(ids((await list_all(client, ws_url(ws, "peers", "list")))["items"])) == ["carol", "dave"]
    assert expect(await client.get(card_url(ws, "carol"), params={"target": "dave"}), 200) == {
        "peer_card": ["Dave: tall"]}


async def test_card_errors(client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    # Reading needs the observer (spec 6.7), in an existing workspace.
    assert "erin" in expect(await client.get(card_url(ws, "erin")), 404)["detail"]
    expect(await client.get(card_url(f"{ws}-none", "alice")), 404)
    # Scope names are not peers here.
    expect(await client.put(card_url(ws, "alice"), params={"target": "scope.team"}, json={"peer_card": []}), 422)
    expect(await client.get(card_url(ws, "alice"), params={"target": "scope.team"}), 422)
    expect(await client.put(card_url(ws, "scope.team"), json={"peer_card": []}), 422)
    # Names that cannot become peers.
    expect(await client.put(card_url(ws, "alice"), params={"target": "not a name"}, json={"peer_card": []}), 422)
    for body in ({}, {"peer_card": "Name: Alice"}, {"peer_card": [1, 2]}, {"peer_card": None}):
        expect(await client.put(card_url(ws, "alice"), json=body), 422)
    assert expect(await client.get(card_url(ws, "alice")), 200) == {"peer_card": None}
    assert sorted(ids((await list_all(client, ws_url(ws, "peers", "list")))["items"])) == ["alice"]


async def test_card_access(client: httpx.AsyncClient, auth_client: httpx.AsyncClient, ws: str) -> None:
    await create_peer(client, ws, "alice")
    expect(await client.put(card_url(ws, "alice"), json={"peer_card": ["Alice"]}), 200)
    own = bearer(sign(w=ws, p="alice"))
    assert expect(await auth_client.get(card_url(ws, "alice"), headers=own), 200) == {"peer_card": ["Alice"]}
    expect(await auth_client.put(card_url(ws, "alice"), json={"peer_card": ["A"]}, headers=own), 200)
    other = bearer(sign(w=ws, p="bob"))
    expect(await auth_client.get(card_url(ws, "alice"), headers=other), 401)
    expect(await auth_client.put(card_url(ws, "alice"), json={"peer_card": ["B"]}, headers=other), 401)
    assert expect(await auth_client.get(card_url(ws, "alice"), headers=bearer(sign(w=ws))), 200) == {
        "peer_card": ["A"]}
