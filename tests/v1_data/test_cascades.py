"""Deleting through v3 removes the v1 data that hangs off what it deletes (the foreign keys of migration 0017):
a message its metamessages, a session (once purged) its metamessages, a workspace everything of its users."""

from __future__ import annotations

import httpx
from api_helpers import count_where, expect, messages_url, session_url, workspace_pk, ws_url
from v1_data_helpers import page, user_url, world

from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.worker.runtime import Worker


async def _metamessage(client: httpx.AsyncClient, ws: str, **links: str) -> str:
    body = {"content": "note", "metamessage_type": "t", **links}
    return str(expect(await client.post(user_url(ws, "alice", "metamessages"), json=body), 200)["id"])


async def test_message_and_session_deletes(client: httpx.AsyncClient, deps: Deps, worker: Worker, ws: str) -> None:
    ids = await world(client, ws)
    on_message = await _metamessage(client, ws, message_id=ids["s1"][0])
    on_other = await _metamessage(client, ws, message_id=ids["s1"][2])
    in_s3 = await _metamessage(client, ws, session_id="s3")
    loose = await _metamessage(client, ws)
    base = user_url(ws, "alice", "metamessages")
    # A message delete removes its metamessages (0.0.19 requires a message: they are not unlinked).
    expect(await client.delete(messages_url(ws, "s1", ids["s1"][0])), 200)
    expect(await client.get(f"{base}/{on_message}"), 404)
    expect(await client.get(f"{base}/{on_other}"), 200)
    # A session delete: at once out of the session routes, and gone with the purge.
    expect(await client.delete(session_url(ws, "s3")), 202)
    expect(await client.post(user_url(ws, "alice", "sessions", "s3", "metamessages", "list"), json={}), 404)
    await worker.drain()
    expect(await client.get(f"{base}/{in_s3}"), 404)
    assert [m["id"] for m in (await page(client, f"{base}/list"))["items"]] == [on_other, loose]


async def test_workspace_delete(client: httpx.AsyncClient, deps: Deps, worker: Worker, ws: str) -> None:
    ids = await world(client, ws)
    await _metamessage(client, ws, message_id=ids["s1"][1])
    await _metamessage(client, ws)
    collection = expect(await client.post(user_url(ws, "alice", "collections"), json={"name": "n"}), 200)["id"]
    expect(await client.post(user_url(ws, "alice", "collections", collection, "documents"),
                             json={"content": "alice likes tea"}), 200)
    pk = await workspace_pk(deps, ws)
    stored = [await count_where(deps, t, t.c.workspace_id == pk)
              for t in (tables.v1_metamessages, tables.v1_collections, tables.v1_documents)]
    assert stored == [2, 1, 1]
    for session in ("s1", "s2", "s3"):
        expect(await client.delete(session_url(ws, session)), 202)
    expect(await client.delete(ws_url(ws)), 202)
    await worker.drain()
    expect(await client.post(user_url(ws, "alice", "collections", "list"), json={}), 404)
    for table in (tables.v1_metamessages, tables.v1_collections, tables.v1_documents):
        assert await count_where(deps, table, table.c.workspace_id == pk) == 0, table.name
