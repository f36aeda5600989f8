"""Workspaces (spec §5.1-5.4): get-or-create, list, update, configuration rules, delete and purge."""

from __future__ import annotations

import httpx
from api_helpers import (
    add_messages,
    assert_page,
    assert_workspace,
    create_session,
    expect,
    ids,
    msg,
    session_row,
    workspace_pk,
    workspace_row_counts,
    ws_url,
)

from honcho_server.services.deps import Deps
from honcho_server.worker.runtime import Worker


async def test_get_or_create_returns_201_then_200_unchanged(client: httpx.AsyncClient, ws: str) -> None:
    body = {"id": ws, "metadata": {"a": 1}, "configuration": {"reasoning": {"enabled": False}}}
    created = expect(await client.post("/v3/workspaces", json=body), 201)
    assert_workspace(created, ws)
    assert created["metadata"] == {"a": 1}
    assert created["configuration"] == {"reasoning": {"enabled": False}}

    again = {"id": ws, "metadata": {"b": 2}, "configuration": {"summary": {"enabled": False}}}
    existing = expect(await client.post("/v3/workspaces", json=again), 200)
    assert existing == created


async def test_create_accepts_name_alias_and_defaults(client: httpx.AsyncClient, ws: str) -> None:
    body = expect(await client.post("/v3/workspaces", json={"name": ws}), 201)
    assert_workspace(body, ws)
    assert (body["metadata"], body["configuration"]) == ({}, {})


async def test_create_rejects_invalid_ids(client: httpx.AsyncClient) -> None:
    for bad in ("", "has space", "dot.ted", "x" * 513):
        detail = expect(await client.post("/v3/workspaces", json={"id": bad}), 422)["detail"]
        assert isinstance(detail, list) and detail[0]["loc"] == ["body", "id"]


async def _make_workspaces(client: httpx.AsyncClient, prefix: str, count: int) -> list[dict]:
    made = []
    for i in range(count):
        body = {"id": f"{prefix}-{i}", "metadata": {"batch": prefix, "n": i, "tags": ["x", f"t{i}"]}}
        made.append(expect(await client.post("/v3/workspaces", json=body), 201))
    return made


async def test_list_filters_by_id_metadata_and_created_at(client: httpx.AsyncClient, ws: str) -> None:
    made = await _make_workspaces(client, ws, 3)
    names = ids(made)

    body = expect(await client.post("/v3/workspaces/list", json={"filters": {"id": names[1]}}), 200)
    assert ids(assert_page(body, total=1, page=1, size=50, pages=1)) == [names[1]]

    by_meta = {"filters": {"metadata": {"batch": ws, "tags": ["t2"]}}}
    body = expect(await client.post("/v3/workspaces/list", json=by_meta), 200)
    assert ids(body["items"]) == [names[2]]

    window = {"gte": made[1]["created_at"], "lte": made[2]["created_at"]}
    by_time = {"filters": {"id": {"in": names}, "created_at": window}}
    body = expect(await client.post("/v3/workspaces/list", json=by_time), 200)
    assert ids(body["items"]) == names[1:]


async def test_list_pagination_envelope(client: httpx.AsyncClient, ws: str) -> None:
    names = ids(await _make_workspaces(client, ws, 3))
    filters = {"filters": {"metadata": {"batch": ws}}}

    first = expect(await client.post("/v3/workspaces/list", params={"size": 2}, json=filters), 200)
    assert ids(assert_page(first, total=3, page=1, size=2, pages=2)) == names[:2]
    second = expect(
        await client.post("/v3/workspaces/list", params={"size": 2, "page": 2}, json=filters), 200
    )
    assert ids(assert_page(second, total=3, page=2, size=2, pages=2)) == names[2:]
    past = expect(await client.post("/v3/workspaces/list", params={"size": 2, "page": 7}, json=filters), 200)
    assert assert_page(past, total=3, page=7, size=2, pages=2) == []

    reverse = expect(await client.post("/v3/workspaces/list", params={"reverse": "true"}, json=filters), 200)
    assert ids(reverse["items"]) == names[::-1]

    none = {"filters": {"id": f"{ws}-missing"}}
    empty = expect(await client.post("/v3/workspaces/list", json=none), 200)
    assert assert_page(empty, total=0, page=1, size=50, pages=0) == []


async def test_list_rejects_out_of_range_paging(client: httpx.AsyncClient) -> None:
    for params in ({"page": 0}, {"size": 0}, {"size": 101}):
        expect(await client.post("/v3/workspaces/list", params=params), 422)


async def test_update_replaces_metadata_and_merges_configuration(client: httpx.AsyncClient, ws: str) -> None:
    start = {
        "reasoning": {"enabled": True},
        "summary": {"enabled": True, "messages_per_short_summary": 15},
        "legacy": {"x": 1},
    }
    await client.post("/v3/workspaces", json={"id": ws, "metadata": {"old": 1}, "configuration": start})

    update = {
        "metadata": {"new": 2},
        "configuration": {
            "summary": {"enabled": False, "bogus": 1},
            "extra": "kept",
            "gone": None,
            "dream": {"enabled": None},
        },
    }
    body = expect(await client.put(ws_url(ws), json=update), 200)
    assert_workspace(body, ws)
    assert body["metadata"] == {"new": 2}
    assert body["configuration"] == {
        "reasoning": {"enabled": True},  # untouched top-level key
        "summary": {"enabled": False},  # replaced wholesale, unknown nested key dropped
        "legacy": {"x": 1},
        "extra": "kept",  # unknown top-level key kept
        "dream": {},  # null sub-field dropped
    }
    again = expect(await client.post("/v3/workspaces", json={"id": ws}), 200)
    assert again["configuration"] == body["configuration"]


async def test_update_with_empty_body_changes_nothing_and_upserts(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await client.put(ws_url(ws), json={}), 200)  # upsert
    assert_workspace(created, ws)
    await client.put(ws_url(ws), json={"metadata": {"k": "v"}})
    body = expect(await client.put(ws_url(ws), json={}), 200)
    assert body["metadata"] == {"k": "v"}


async def test_summary_configuration_validation(client: httpx.AsyncClient, ws: str) -> None:
    bad = [
        {"summary": {"messages_per_short_summary": 30, "messages_per_long_summary": 30}},
        {"summary": {"messages_per_short_summary": 40, "messages_per_long_summary": 30}},
        {"summary": {"messages_per_short_summary": 9}},
        {"summary": {"messages_per_long_summary": 19}},
    ]
    for config in bad:
        expect(await client.post("/v3/workspaces", json={"id": ws, "configuration": config}), 422)
        expect(await client.put(ws_url(ws), json={"configuration": config}), 422)
    ok = {"summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
    assert expect(await client.put(ws_url(ws), json={"configuration": ok}), 200)["configuration"] == ok


async def test_delete_unknown_workspace_is_404(client: httpx.AsyncClient, ws: str) -> None:
    expect(await client.delete(ws_url(ws)), 404)


async def test_delete_refused_while_sessions_are_active(client: httpx.AsyncClient, ws: str) -> None:
    await create_session(client, ws, "s1")
    body = expect(await client.delete(ws_url(ws)), 409)
    assert body == {
        "detail": f"Cannot delete workspace '{ws}': active session(s) remain. Delete all sessions first."
    }


async def test_delete_purges_everything_of_the_workspace(
    client: httpx.AsyncClient,
    deps: Deps,
    worker: Worker,
    ws: str,
) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {"observe_others": True}})
    await add_messages(client, ws, "s1", [msg("alice", f"hello {i}") for i in range(25)])
    await create_session(client, ws, "s2", peers={"carol": {}})
    pk = await workspace_pk(deps, ws)
    session_pks = [(await session_row(deps, ws, s)).id for s in ("s1", "s2")]
    before = await workspace_row_counts(deps, pk, session_pks)
    assert all(before.values()), before

    for s in ("s1", "s2"):
        expect(await client.delete(ws_url(ws, "sessions", s)), 202)
    assert expect(await client.delete(ws_url(ws)), 202) == {"message": "Workspace deletion accepted"}

    await worker.drain()
    after = await workspace_row_counts(deps, pk, session_pks)
    assert after == dict.fromkeys(after, 0)
    # The name is free again.
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
