"""v1 documents (docs/v1-api.md §1.4, §3.6): create (embedded), get, list with a metadata filter, update (embedded
again), delete, query by cosine (`top_k` 1..50, `filter` first); a failing embedder never fails a write; the
re-embedding walk replaces their vectors too."""

from __future__ import annotations

from pathlib import Path

import httpx
from api_helpers import create_peer, expect
from memory_helpers import HASH_DIMENSIONS, FailingEmbedder, client_with, hash_client
from sqlalchemy import select
from v1_data_helpers import assert_document, contents, page, user_url

from honcho_server.embeddings.hashing import HashEmbedder
from honcho_server.services import embedding
from honcho_server.services.deps import Deps
from honcho_server.store.migrate import upgrade
from honcho_server.store.tables import v1_documents
from support import api_client, fresh_database_url, new_deps


def _cosine(a: str, b: str) -> float:
    embedder = HashEmbedder(HASH_DIMENSIONS)
    return sum(x * y for x, y in zip(embedder.embed_one(a), embedder.embed_one(b), strict=True))


async def _collection(client: httpx.AsyncClient, ws: str, user: str = "alice") -> str:
    await create_peer(client, ws, user)
    made = expect(await client.post(user_url(ws, user, "collections"), json={"name": "notes"}), 200)
    return str(made["id"])


async def test_crud(client: httpx.AsyncClient, ws: str) -> None:
    cid = await _collection(client, ws)
    base = user_url(ws, "alice", "collections", cid, "documents")
    made = expect(await client.post(base, json={"content": "alice likes tea", "metadata": {"topic": "drink"}}), 200)
    assert_document(made, ws, "alice", cid)
    assert (made["content"], made["metadata"], len(made["id"])) == ("alice likes tea", {"topic": "drink"}, 21)
    other = expect(await client.post(base, json={"content": "alice runs"}), 200)
    assert other["metadata"] == {}
    assert expect(await client.get(f"{base}/{made['id']}"), 200) == made
    # list: oldest first, reverse, pages, filter on metadata.
    assert contents((await page(client, f"{base}/list"))["items"]) == ["alice likes tea", "alice runs"]
    assert contents((await page(client, f"{base}/list", reverse="true"))["items"]) == ["alice runs",
                                                                                        "alice likes tea"]
    second = await page(client, f"{base}/list", page=2, size=1)
    assert (contents(second["items"]), second["total"], second["pages"]) == (["alice runs"], 2, 2)
    assert (await page(client, f"{base}/list", page=3, size=1))["items"] == []
    assert contents((await page(client, f"{base}/list", {"filter": {"topic": "drink"}}))["items"]) == [
        "alice likes tea"]
    # update: content and metadata, each when not null.
    changed = expect(await client.put(f"{base}/{made['id']}", json={"content": "alice likes coffee"}), 200)
    assert (changed["content"], changed["metadata"], changed["id"]) == ("alice likes coffee", {"topic": "drink"},
                                                                        made["id"])
    changed = expect(await client.put(f"{base}/{made['id']}", json={"content": None, "metadata": {"n": 1}}), 200)
    assert (changed["content"], changed["metadata"]) == ("alice likes coffee", {"n": 1})
    # delete
    assert expect(await client.delete(f"{base}/{made['id']}"), 200) == {"message": "Document deleted successfully"}
    expect(await client.get(f"{base}/{made['id']}"), 404)
    expect(await client.delete(f"{base}/{made['id']}"), 404)
    expect(await client.put(f"{base}/{made['id']}", json={"content": "x"}), 404)
    # Deleting the collection deletes its documents.
    expect(await client.delete(user_url(ws, "alice", "collections", cid)), 200)
    expect(await client.get(f"{base}/{other['id']}"), 404)
    expect(await client.post(f"{base}/list", json={}), 404)


async def test_refusals(client: httpx.AsyncClient, ws: str) -> None:
    cid = await _collection(client, ws)
    await create_peer(client, ws, "bob")
    base = user_url(ws, "alice", "collections", cid, "documents")
    for body in ({}, {"content": ""}, {"content": "x" * 100_001}, {"content": "x", "metadata": "m"}):
        expect(await client.post(base, json=body), 422)
    too_long = expect(await client.post(base, json={"content": "word " * 9000}), 422)
    assert "8192" in too_long["detail"]
    for body in ({"query": ""}, {"query": "x" * 1001}, {"query": "tea", "top_k": 0}, {"query": "tea", "top_k": 51},
                 {"top_k": 3}, {"query": "tea", "filter": {"a": {"in": 3}}}):
        expect(await client.post(f"{base}/query", json=body), 422)
    made = expect(await client.post(base, json={"content": "tea"}), 200)
    # Another user's path, an unknown collection or document: 404.
    expect(await client.get(user_url(ws, "bob", "collections", cid, "documents", made["id"])), 404)
    expect(await client.post(user_url(ws, "bob", "collections", cid, "documents"), json={"content": "x"}), 404)
    expect(await client.get(user_url(ws, "alice", "collections", "nope", "documents", made["id"])), 404)
    expect(await client.post(user_url(ws, "alice", "collections", "nope", "documents", "query"),
                             json={"query": "tea"}), 404)
    expect(await client.get(f"{base}/nope"), 404)
    assert (await page(client, f"{base}/list"))["total"] == 1


async def test_query_ranks_by_cosine(deps: Deps, ws: str) -> None:
    texts = ["alice drinks green tea every morning", "alice plays chess on weekends",
             "alice drinks coffee after lunch", "alice plays green tea chess"]
    async with hash_client(deps) as client:
        cid = await _collection(client, ws)
        base = user_url(ws, "alice", "collections", cid, "documents")
        for i, text in enumerate(texts):
            expect(await client.post(base, json={"content": text, "metadata": {"i": i, "odd": i % 2 == 1}}), 200)
        ranked = sorted(texts, key=lambda t: -_cosine("green tea", t))
        found = expect(await client.post(f"{base}/query", json={"query": "green tea"}), 200)
        assert all(assert_document(d, ws, "alice", cid) is None for d in found)
        assert contents(found) == ranked  # default top_k 5: all four
        assert contents(found)[:2] == ["alice plays green tea chess", "alice drinks green tea every morning"]
        assert contents(expect(await client.post(f"{base}/query", json={"query": "green tea", "top_k": 1}),
                               200)) == ranked[:1]
        assert contents(expect(await client.post(f"{base}/query", json={"query": "green tea", "top_k": 3}),
                               200)) == ranked[:3]
        assert contents(expect(await client.post(f"{base}/query", json={"query": "weekends", "top_k": 1}),
                               200)) == ["alice plays chess on weekends"]
        # The filter selects first.
        odd = expect(await client.post(f"{base}/query", json={"query": "green tea", "filter": {"odd": True}}), 200)
        assert contents(odd) == [t for t in ranked if texts.index(t) % 2 == 1]
        # An update is embedded again: the query follows the new text.
        first = (await page(client, f"{base}/list"))["items"][1]  # "alice plays chess on weekends"
        expect(await client.put(f"{base}/{first['id']}", json={"content": "bob sails boats"}), 200)
        assert contents(expect(await client.post(f"{base}/query", json={"query": "sails boats", "top_k": 1}),
                               200)) == ["bob sails boats"]


async def test_a_failing_embedder_never_fails_a_write(deps: Deps, ws: str) -> None:
    async with client_with(deps, FailingEmbedder()) as client:
        cid = await _collection(client, ws)
        base = user_url(ws, "alice", "collections", cid, "documents")
        expect(await client.post(base, json={"content": "alice drinks green tea"}), 200)
        expect(await client.post(base, json={"content": "alice hates rain"}), 200)
        # Queries answer by words, newest first.
        found = expect(await client.post(f"{base}/query", json={"query": "green tea please"}), 200)
        assert contents(found) == ["alice drinks green tea"]
        assert expect(await client.post(f"{base}/query", json={"query": "the of"}), 200) == []
    async with deps.db.read() as conn:
        blobs = list((await conn.execute(select(v1_documents.c.embedding).where(
            v1_documents.c.content.in_(["alice drinks green tea", "alice hates rain"])))).scalars())
    assert blobs == [None, None]


async def test_reembed_walks_documents(backend: str, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    first = new_deps(url, embedding={"provider": "hash", "dimensions": 64})
    try:
        async with api_client(first) as client:
            cid = await _collection(client, "w")
            expect(await client.post(user_url("w", "alice", "collections", cid, "documents"),
                                     json={"content": "alice grows tomatoes"}), 200)
    finally:
        await first.db.dispose()
    switched = new_deps(url, embedding={"provider": "hash", "dimensions": 32})
    try:
        await embedding.reembed_all(switched)
        async with switched.db.read() as conn:
            (blob,) = (await conn.execute(select(v1_documents.c.embedding))).scalars()
        assert len(blob) == 32 * 4
        async with api_client(switched) as client:
            found = expect(await client.post(user_url("w", "alice", "collections", cid, "documents", "query"),
                                             json={"query": "tomatoes"}), 200)
        assert contents(found) == ["alice grows tomatoes"]
    finally:
        await switched.db.dispose()
