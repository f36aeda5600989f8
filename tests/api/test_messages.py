"""Messages (spec §8.1, 8.3-8.5): batch create, validation, list, get, update."""

from __future__ import annotations

import httpx
from api_helpers import (
    add_messages,
    assert_message,
    assert_page,
    create_session,
    expect,
    ids,
    memberships,
    message_seqs,
    messages_url,
    msg,
    session_row,
    session_url,
    workspace_pk,
    ws_url,
)

from honcho_server.domain.tokens import count_tokens
from honcho_server.services.deps import Deps


async def test_batch_create_in_order_with_consecutive_seq(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    first = await add_messages(client, ws, "s1", [msg("alice", "one"), msg("bob", "two")])
    batch = [msg("bob", "three", metadata={"k": "v"}), msg("alice", ""), msg("carol", "five")]
    response = await client.post(messages_url(ws, "s1"), json={"messages": batch})
    created = expect(response, 201)
    for m in created:
        assert_message(m, ws, "s1")
    assert [(m["peer_id"], m["content"]) for m in created] == [
        ("bob", "three"),
        ("alice", ""),
        ("carol", "five"),
    ]
    assert [m["metadata"] for m in created] == [{"k": "v"}, {}, {}]
    assert await message_seqs(deps, ids(first + created)) == [1, 2, 3, 4, 5]


async def test_token_count(client: httpx.AsyncClient, ws: str) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice: 🦊🦊."
    created = await add_messages(client, ws, "s1", [msg("a", text), msg("a", "")])
    assert [m["token_count"] for m in created] == [count_tokens(text), 0]
    assert created[0]["token_count"] > 0


async def test_client_created_at_round_trips_in_utc(client: httpx.AsyncClient, ws: str) -> None:
    sent = ["2021-03-04T05:06:07.123456Z", "2021-03-04T07:06:07+02:00", "2021-03-04T05:06:07"]
    expected = ["2021-03-04T05:06:07.123456Z", "2021-03-04T05:06:07Z", "2021-03-04T05:06:07Z"]
    created = await add_messages(
        client, ws, "s1", [msg("a", str(i), created_at=c) for i, c in enumerate(sent)]
    )
    listed = expect(await client.post(messages_url(ws, "s1", "list")), 200)["items"]
    fetched = [expect(await client.get(messages_url(ws, "s1", m["id"])), 200) for m in created]
    for where in (created, listed, fetched):
        assert [m["created_at"] for m in where] == expected
    now = await add_messages(client, ws, "s1", [msg("a", "now")])
    assert now[0]["created_at"].endswith("Z")


async def test_nul_characters_are_stripped(client: httpx.AsyncClient, ws: str) -> None:
    dirty = msg("a", "he\x00llo", metadata={"k\x00ey": ["v\x00al", {"n": "x\x00"}]})
    created = (await add_messages(client, ws, "s1", [dirty]))[0]
    assert created["content"] == "hello"
    assert created["metadata"] == {"key": ["val", {"n": "x"}]}
    assert (
        expect(await client.get(messages_url(ws, "s1", created["id"])), 200)["metadata"]
        == created["metadata"]
    )


async def _nothing_stored(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    assert await workspace_pk(deps, ws) is None
    body = expect(await client.post(ws_url(ws, "peers", "list")), 200)
    assert body["items"] == []


async def test_batch_size_limits(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    expect(await client.post(messages_url(ws, "s1"), json={"messages": []}), 422)
    many = [msg("a", str(i)) for i in range(101)]
    expect(await client.post(messages_url(ws, "s1"), json={"messages": many}), 422)
    expect(await client.post(messages_url(ws, "s1"), json={}), 422)
    await _nothing_stored(client, deps, ws)


async def test_content_size_limit(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    too_long = [msg("a", "ok"), msg("a", "x" * 25001)]
    detail = expect(await client.post(messages_url(ws, "s1"), json={"messages": too_long}), 422)["detail"]
    assert detail[0]["type"] == "string_too_long"
    await _nothing_stored(client, deps, ws)
    created = await add_messages(client, ws, "s1", [msg("a", "x" * 25000)])
    assert len(created[0]["content"]) == 25000


async def test_invalid_new_author_stores_nothing(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    for author in ("bad name", "scope.x", "x" * 513):
        batch = [msg("fine", "first"), msg(author, "second")]
        expect(await client.post(messages_url(ws, "s1"), json={"messages": batch}), 422)
    await _nothing_stored(client, deps, ws)
    # And in an existing session nothing is appended either.
    await create_session(client, ws, "s1")
    expect(
        await client.post(messages_url(ws, "s1"), json={"messages": [msg("ok", "1"), msg("no pe", "2")]}), 422
    )
    assert expect(await client.post(messages_url(ws, "s1", "list")), 200)["items"] == []
    assert (await session_row(deps, ws, "s1")).last_seq == 0


async def test_authors_join_the_session(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {"observe_others": True}, "bob": {}})
    expect(await client.request("DELETE", ws_url(ws, "sessions", "s1", "peers"), json=["bob"]), 200)
    await add_messages(client, ws, "s1", [msg("alice", "hi"), msg("bob", "back"), msg("new", "hello")])
    rows = await memberships(deps, ws, "s1")
    assert {n: (r.observe_me, r.observe_others, r.left_at is None) for n, r in rows.items()} == {
        "alice": (None, True, True),
        "bob": (None, None, True),
        "new": (None, None, True),
    }


async def test_trailing_slash_create_route(client: httpx.AsyncClient, ws: str) -> None:
    response = await client.post(messages_url(ws, "s1") + "/", json={"messages": [msg("a", "slash")]})
    assert expect(response, 201)[0]["content"] == "slash"


async def _seed_for_listing(client: httpx.AsyncClient, ws: str) -> list[dict]:
    batch = [
        msg("alice", "short", metadata={"topic": "a", "n": 1}, created_at="2024-01-01T00:00:00Z"),
        msg(
            "bob",
            "a somewhat longer message here",
            metadata={"topic": "b", "n": 2},
            created_at="2024-02-01T00:00:00Z",
        ),
        msg(
            "alice", "middle length text", metadata={"topic": "a", "n": 3}, created_at="2024-03-01T00:00:00Z"
        ),
    ]
    return await add_messages(client, ws, "s1", batch)


async def test_list_filters(client: httpx.AsyncClient, ws: str) -> None:
    created = await _seed_for_listing(client, ws)
    url = messages_url(ws, "s1", "list")

    async def listed(filters: dict) -> list[str]:
        return ids(expect(await client.post(url, json={"filters": filters}), 200)["items"])

    c = ids(created)
    assert await listed({"peer_id": "alice"}) == [c[0], c[2]]
    assert await listed({"peer_id": ["bob"]}) == [c[1]]
    assert await listed({"metadata": {"topic": "a", "n": {"gt": 1}}}) == [c[2]]
    assert await listed({"created_at": {"gte": "2024-01-15", "lte": "2024-03-01T00:00:00Z"}}) == c[1:]
    tokens = created[1]["token_count"]
    assert await listed({"token_count": {"gte": tokens}}) == [c[1]]
    assert await listed({"session_id": "s1", "workspace_id": ws}) == c
    assert await listed({"session_id": "other"}) == []


async def test_list_reverse_and_unknown_session(client: httpx.AsyncClient, ws: str) -> None:
    created = await _seed_for_listing(client, ws)
    body = expect(await client.post(messages_url(ws, "s1", "list"), params={"reverse": True}), 200)
    assert ids(body["items"]) == ids(created)[::-1]
    unknown = expect(await client.post(messages_url(ws, "nope", "list")), 200)
    assert assert_page(unknown, total=0, page=1, size=50, pages=0) == []


async def test_list_paginates_past_100(client: httpx.AsyncClient, ws: str) -> None:
    created = await add_messages(client, ws, "s1", [msg("a", f"m{i}") for i in range(130)])
    url = messages_url(ws, "s1", "list")
    first = expect(await client.post(url, params={"size": 100}), 200)
    assert ids(assert_page(first, total=130, page=1, size=100, pages=2)) == ids(created[:100])
    second = expect(await client.post(url, params={"size": 100, "page": 2}), 200)
    assert ids(assert_page(second, total=130, page=2, size=100, pages=2)) == ids(created[100:])
    newest = expect(await client.post(url, params={"size": 100, "page": 2, "reverse": "true"}), 200)
    assert ids(newest["items"]) == ids(created[:30])[::-1]


async def test_list_edges_of_the_one_statement_page(client: httpx.AsyncClient, ws: str) -> None:
    """A page past the end still reports the session's total; a same-named session of another workspace is not
    read; an inactive (deleted, not yet purged) session lists nothing, filtered or not."""
    created = await add_messages(client, ws, "s1", [msg("a", f"m{i}") for i in range(7)])
    url = messages_url(ws, "s1", "list")
    assert assert_page(expect(await client.post(url, params={"size": 5, "page": 3}), 200),
                       total=7, page=3, size=5, pages=2) == []
    other = f"{ws}-other"
    await add_messages(client, other, "s1", [msg("a", "not yours")])
    listed = expect(await client.post(url, params={"size": 5, "page": 2}), 200)
    assert ids(assert_page(listed, total=7, page=2, size=5, pages=2)) == ids(created[5:])
    deleted = await client.delete(session_url(ws, "s1"))  # inactive at once; no worker here to purge it
    assert deleted.status_code < 300, deleted.text
    for body in (None, {"filters": {"peer_id": "a"}}):
        assert assert_page(expect(await client.post(url, json=body), 200), total=0, page=1, size=50, pages=0) == []


async def test_get_one_message(client: httpx.AsyncClient, ws: str) -> None:
    created = (await add_messages(client, ws, "s1", [msg("a", "find me")]))[0]
    await add_messages(client, ws, "s2", [msg("a", "elsewhere")])
    assert expect(await client.get(messages_url(ws, "s1", created["id"])), 200) == created
    for session, uid in (("s1", "missing"), ("s2", created["id"])):
        body = expect(await client.get(messages_url(ws, session, uid)), 404)
        assert body == {"detail": f"Message with ID {uid} not found"}


async def test_update_metadata(client: httpx.AsyncClient, ws: str) -> None:
    created = (await add_messages(client, ws, "s1", [msg("a", "text", metadata={"old": 1})]))[0]
    url = messages_url(ws, "s1", created["id"])
    body = expect(await client.put(url, json={"metadata": {"new": 2}}), 200)
    assert body == {**created, "metadata": {"new": 2}}
    assert expect(await client.put(url, json={"metadata": None}), 200)["metadata"] == {"new": 2}
    assert expect(await client.get(url), 200)["metadata"] == {"new": 2}
    expect(await client.put(url, json={"metadata": "nope"}), 422)
    expect(await client.put(messages_url(ws, "s1", "missing"), json={"metadata": {}}), 404)


async def test_metadata_limits(client: httpx.AsyncClient, ws: str) -> None:
    too_many = {f"k{i}": i for i in range(101)}
    too_deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    for metadata in (too_many, too_deep, ["list"]):
        expect(
            await client.post(messages_url(ws, "s1"), json={"messages": [msg("a", "x", metadata=metadata)]}),
            422,
        )
    ok = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    assert (await add_messages(client, ws, "s1", [msg("a", "x", metadata=ok)]))[0]["metadata"] == ok
