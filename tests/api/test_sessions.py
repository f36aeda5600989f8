"""Sessions (spec §7.1-7.5): get-or-create, list, update, delete and purge, clone."""

from __future__ import annotations

import httpx
from api_helpers import (
    add_messages,
    assert_page,
    assert_session,
    count_where,
    create_session,
    expect,
    ids,
    memberships,
    message_seqs,
    messages_url,
    msg,
    session_row,
    session_url,
    ws_url,
)

from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.worker.runtime import Worker


async def test_get_or_create_with_peer_map(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    body = {
        "id": "s1",
        "metadata": {"channel": "web"},
        "configuration": {"summary": {"enabled": False}},
        "peers": {"user": {}, "bot": {"observe_me": False, "observe_others": True}},
    }
    created = expect(await client.post(ws_url(ws, "sessions"), json=body), 201)
    assert_session(created, ws, "s1")
    assert created["metadata"] == {"channel": "web"}
    assert created["configuration"] == {"summary": {"enabled": False}}

    stored = await memberships(deps, ws, "s1")
    assert {n: (r.observe_me, r.observe_others, r.left_at) for n, r in stored.items()} == {
        "user": (None, None, None),
        "bot": (False, True, None),
    }

    again = expect(
        await client.post(
            ws_url(ws, "sessions"), json={"peer_names": {"user": {"observe_others": True}}, "name": "s1"}
        ),
        200,
    )
    assert again == created
    assert (await memberships(deps, ws, "s1"))["user"].observe_others is None  # active member keeps config


async def test_get_or_create_updates_existing(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(
        client,
        ws,
        "s1",
        metadata={"a": 1},
        configuration={"reasoning": {"enabled": False}, "summary": {"enabled": True}},
    )
    update = {"id": "s1", "metadata": {"b": 2}, "configuration": {"summary": {"enabled": False}, "extra": 1}}
    body = expect(await client.post(ws_url(ws, "sessions"), json=update), 200)
    assert body["metadata"] == {"b": 2}
    assert body["configuration"] == {
        "reasoning": {"enabled": False},
        "summary": {"enabled": False},
        "extra": 1,
    }


async def test_get_or_create_validation(client: httpx.AsyncClient, ws: str) -> None:
    for body in (
        {"id": ""},
        {"id": "a b"},
        {"id": "s", "peers": {"bad name": {}}},
        {"id": "s", "peers": {"scope.x": {}}},
        {"id": "s", "peers": ["alice"]},
        {"id": "s", "configuration": {"summary": {"messages_per_short_summary": 5}}},
    ):
        expect(await client.post(ws_url(ws, "sessions"), json=body), 422)
    listed = expect(await client.post(ws_url(ws, "sessions", "list")), 200)
    assert listed["items"] == []


async def test_list_shows_active_sessions_only(client: httpx.AsyncClient, ws: str) -> None:
    for name in ("a", "b", "c"):
        await create_session(client, ws, name, metadata={"keep": name != "c"})
    expect(await client.delete(session_url(ws, "b")), 202)
    url = ws_url(ws, "sessions", "list")
    assert ids(assert_page(expect(await client.post(url), 200), total=2, page=1, size=50, pages=1)) == [
        "a",
        "c",
    ]
    filtered = expect(await client.post(url, json={"filters": {"metadata": {"keep": True}}}), 200)
    assert ids(filtered["items"]) == ["a"]
    reverse = expect(await client.post(url, params={"reverse": "true", "size": 1}), 200)
    assert ids(assert_page(reverse, total=2, page=1, size=1, pages=2)) == ["c"]
    inactive = expect(await client.post(url, json={"filters": {"is_active": False}}), 200)
    assert inactive["items"] == []


async def test_put_upserts_and_merges_configuration(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await client.put(session_url(ws, "s1"), json={"metadata": {"m": 1}}), 200)
    assert_session(created, ws, "s1")
    update = {"configuration": {"reasoning": {"enabled": False, "unknown": 1}}}
    body = expect(await client.put(session_url(ws, "s1"), json=update), 200)
    assert (body["metadata"], body["configuration"]) == ({"m": 1}, {"reasoning": {"enabled": False}})
    body = expect(
        await client.put(session_url(ws, "s1"), json={"configuration": {"dream": {"enabled": True}}}), 200
    )
    assert body["configuration"] == {"reasoning": {"enabled": False}, "dream": {"enabled": True}}
    assert expect(await client.put(session_url(ws, "s1"), json={}), 200) == body


async def test_delete_hides_session_then_purge_removes_it(
    client: httpx.AsyncClient,
    deps: Deps,
    worker: Worker,
    ws: str,
) -> None:
    await create_session(client, ws, "gone", peers={"alice": {}, "bob": {"observe_others": True}})
    await add_messages(client, ws, "gone", [msg("alice", f"m{i}") for i in range(21)])
    await create_session(client, ws, "kept", peers={"alice": {}})
    await add_messages(client, ws, "kept", [msg("alice", "stay")])
    row = await session_row(deps, ws, "gone")

    assert expect(await client.delete(session_url(ws, "gone")), 202) == {
        "message": "Session deleted successfully"
    }
    expect(await client.delete(session_url(ws, "gone")), 404)
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "gone"}), 404)
    expect(await client.put(session_url(ws, "gone"), json={}), 404)
    expect(await client.post(messages_url(ws, "gone"), json={"messages": [msg("alice", "x")]}), 404)
    assert ids(expect(await client.post(ws_url(ws, "sessions", "list")), 200)["items"]) == ["kept"]

    await worker.drain()
    assert await session_row(deps, ws, "gone") is None
    for table in (tables.messages, tables.session_peers, tables.jobs):
        assert await count_where(deps, table, table.c.session_id == row.id) == 0
    kept = expect(await client.post(messages_url(ws, "kept", "list")), 200)
    assert [m["content"] for m in kept["items"]] == ["stay"]
    # After the purge the id can be reused.
    expect(await client.post(ws_url(ws, "sessions"), json={"id": "gone"}), 201)


async def test_delete_unknown_session_is_404(client: httpx.AsyncClient, ws: str) -> None:
    expect(await client.delete(session_url(ws, "nope")), 404)


async def _seeded(client: httpx.AsyncClient, ws: str) -> list[dict]:
    await create_session(
        client,
        ws,
        "orig",
        peers={"alice": {"observe_others": True}, "bob": {"observe_me": False}},
        metadata={"m": 1},
        configuration={"summary": {"enabled": False}},
    )
    batch = [msg("alice" if i % 2 else "bob", f"message {i}", metadata={"i": i}) for i in range(6)]
    return await add_messages(client, ws, "orig", batch)


def _shape(messages: list[dict]) -> list[tuple]:
    return [(m["content"], m["peer_id"], m["metadata"], m["token_count"]) for m in messages]


async def _clone_and_compare(
    client: httpx.AsyncClient, deps: Deps, ws: str, originals: list[dict], params: dict
) -> dict:
    clone = expect(await client.post(session_url(ws, "orig", "clone"), params=params), 201)
    assert_session(clone, ws, clone["id"])
    assert clone["id"] != "orig" and len(clone["id"]) == 21
    assert (clone["metadata"], clone["configuration"]) == ({"m": 1}, {"summary": {"enabled": False}})
    copies = expect(await client.post(messages_url(ws, clone["id"], "list")), 200)["items"]
    assert _shape(copies) == _shape(originals)
    assert not {m["id"] for m in copies} & {m["id"] for m in originals}
    assert await message_seqs(deps, ids(copies)) == await message_seqs(deps, ids(originals))
    stored = await memberships(deps, ws, clone["id"])
    assert {n: (r.observe_me, r.observe_others) for n, r in stored.items()} == {
        "alice": (None, True),
        "bob": (False, None),
    }
    return clone


async def test_clone_whole_session(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    originals = await _seeded(client, ws)
    await _clone_and_compare(client, deps, ws, originals, {})


async def test_clone_up_to_a_message(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    originals = await _seeded(client, ws)
    await _clone_and_compare(client, deps, ws, originals[:3], {"message_id": originals[2]["id"]})


async def test_clone_errors(client: httpx.AsyncClient, ws: str) -> None:
    await _seeded(client, ws)
    other = await add_messages(client, ws, "other", [msg("alice", "elsewhere")])
    expect(await client.post(session_url(ws, "orig", "clone"), params={"message_id": other[0]["id"]}), 404)
    expect(await client.post(session_url(ws, "orig", "clone"), params={"message_id": "nope"}), 404)
    expect(await client.post(session_url(ws, "missing", "clone")), 404)
