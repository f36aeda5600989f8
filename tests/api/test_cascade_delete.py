"""Deletion that cascades (issue 5), through the API on both databases: deleting a conclusion, a message (a route
beyond the reference) or a session removes what rested only on it, prunes the links of what keeps other support,
brings back the history it had superseded, removes the summaries covering a deleted message (queued again), and
answers with a receipt; afterwards nothing points at anything missing."""

from __future__ import annotations

import json

import httpx
from api_helpers import (
    add_messages,
    bearer,
    create_peer,
    create_session,
    expect,
    messages_url,
    msg,
    session_jobs,
    session_row,
    session_url,
    sign,
    ws_url,
)
from cascade_helpers import assert_no_orphans, conclusion_rows, supersede
from memory_helpers import store_conclusion, store_summary
from sqlalchemy import select, text

from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.worker.runtime import Worker

RECEIPT_KEYS = ["deleted", "conclusions_removed", "conclusions_updated", "conclusions_restored", "messages_removed",
                "summaries_removed", "cards_affected", "jobs_enqueued", "counts"]


async def _setup(client: httpx.AsyncClient, ws: str) -> dict[str, list[str]]:
    """alice and bob; s1 with six messages (alice, bob alternating), s2 with two. Returns message ids per session."""
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    await create_session(client, ws, "s1", {"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", {"alice": {}})
    s1 = await add_messages(client, ws, "s1", [
        msg("alice", "I moved to Lisbon last spring"), msg("bob", "How do you like it?"),
        msg("alice", "I adore the zanzibar cafe near my flat"), msg("bob", "Sounds lovely"),
        msg("alice", "I also work as a nurse"), msg("bob", "Busy life!")])
    s2 = await add_messages(client, ws, "s2", [msg("alice", "My sister lives in Porto"), msg("alice", "Bye")])
    return {"s1": [m["id"] for m in s1], "s2": [m["id"] for m in s2]}


async def _put_card(client: httpx.AsyncClient, ws: str, observer: str, observed: str, entries: list[str]) -> None:
    url = ws_url(ws, "peers", observer, "card")
    expect(await client.put(url, params={"target": observed}, json={"peer_card": entries}), 200)


def _receipt_counts(response: httpx.Response) -> dict[str, int]:
    return json.loads(response.headers["x-honcho-receipt"])


# ------------------------------------------------------------------------------------------------- conclusions


async def test_deleting_a_conclusion_cascades_up_its_chain(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    ids = await _setup(client, ws)
    m = ids["s1"]

    async def put(content: str, level: str = "explicit", **extra: object) -> str:
        return await store_conclusion(deps, ws, "alice", "alice", content, level=level, **extra)

    e1 = await put("alice lives in Lisbon", session="s1", message_ids=[m[0]])
    e2 = await put("alice likes a cafe", session="s1", message_ids=[m[2]])
    e3 = await put("alice is a nurse", session="s1", message_ids=[m[4]])
    d1 = await put("alice lives in Portugal", "deductive", source_ids=[e1])
    d2 = await put("alice goes to a Lisbon cafe", "deductive", source_ids=[e1, e2])
    i1 = await put("alice settles in where she works", "inductive", source_ids=[d1, e3])
    i2 = await put("alice likes Portugal", "inductive", source_ids=[d1])
    c1 = await put("alice lives in Lisbon and Portugal?", "contradiction", source_ids=[e1, d1])
    old = await put("alice lives in Berlin", session="s1")  # history: replaced by e1
    await supersede(deps, old, e1)
    older = await put("alice lives in Paris")  # a chain: older -> mid -> newest; mid is deleted below
    mid = await put("alice lives in Rome")
    newest = await put("alice lives in Madrid")
    await supersede(deps, older, mid)
    await supersede(deps, mid, newest)
    await _put_card(client, ws, "alice", "alice", ["IDENTITY: lives in Lisbon"])

    response = await client.delete(ws_url(ws, "conclusions", e1), params={"receipt": "true"})
    receipt = expect(response, 200)
    assert list(receipt) == RECEIPT_KEYS
    assert receipt["deleted"] == {"type": "conclusion", "id": e1}
    assert receipt["conclusions_removed"][0] == e1
    assert sorted(receipt["conclusions_removed"]) == sorted([e1, d1, i2, c1])
    assert sorted(receipt["conclusions_updated"]) == sorted([d2, i1])
    assert receipt["conclusions_restored"] == [old]
    assert receipt["messages_removed"] == [] and receipt["summaries_removed"] == []
    assert receipt["cards_affected"] == [{"observer_id": "alice", "observed_id": "alice"}]
    assert receipt["jobs_enqueued"] == []  # no LLM configured: nothing can refresh the card
    assert receipt["counts"] == {"conclusions_removed": 4, "conclusions_updated": 2, "conclusions_restored": 1,
                                 "messages_removed": 0, "summaries_removed": 0, "cards_affected": 1,
                                 "jobs_enqueued": 0}
    assert _receipt_counts(response) == receipt["counts"]

    rows = await conclusion_rows(deps, ws)
    assert rows["alice goes to a Lisbon cafe"].source_ids == [e2]
    assert rows["alice settles in where she works"].source_ids == [e3]
    assert rows["alice lives in Berlin"].superseded_by is None and rows["alice lives in Berlin"].superseded_at is None
    # The old fact is current again: listed without asking for history.
    listed = expect(await client.post(ws_url(ws, "conclusions", "list"), json={}), 200)["items"]
    assert old in {c["id"] for c in listed}
    assert not {e1, d1, i2, c1} & {c["id"] for c in listed}
    expect(await client.get(ws_url(ws, "conclusions", d1)), 404)

    # Deleting the middle of a history chain links the oldest to the newest: it stays history.
    response = await client.delete(ws_url(ws, "conclusions", mid))
    assert response.status_code == 204 and response.content == b""
    assert _receipt_counts(response)["conclusions_updated"] == 1
    rows = await conclusion_rows(deps, ws)
    assert rows["alice lives in Paris"].superseded_by == newest
    assert rows["alice lives in Paris"].superseded_at is not None

    # The SDK's plain delete: 204, no body; a second time 404.
    response = await client.delete(ws_url(ws, "conclusions", e3))
    assert (response.status_code, response.content) == (204, b"")
    assert _receipt_counts(response)["conclusions_removed"] == 2
    rows = await conclusion_rows(deps, ws)
    assert "alice settles in where she works" not in rows  # its last premise is gone: it went too
    expect(await client.delete(ws_url(ws, "conclusions", e3)), 404)
    await assert_no_orphans(deps, ws)


async def test_a_derived_conclusion_survives_on_its_source_messages(client: httpx.AsyncClient, deps: Deps,
                                                                    ws: str) -> None:
    """A conclusion rests on its messages and its premises: losing every premise, it stays while a message holds
    it up; one that never cited anything (made through the API) is never removed by a cascade."""
    ids = await _setup(client, ws)
    e1 = await store_conclusion(deps, ws, "alice", "alice", "alice lives in Lisbon", session="s1",
                                message_ids=[ids["s1"][0]])
    d1 = await store_conclusion(deps, ws, "alice", "alice", "alice lives by the sea", level="deductive",
                                source_ids=[e1], message_ids=[ids["s1"][2]])
    made = expect(await client.post(ws_url(ws, "conclusions"), json={"conclusions": [
        {"content": "alice was told about Lisbon", "observer_id": "alice", "observed_id": "alice"}]}), 201)
    receipt = expect(await client.delete(ws_url(ws, "conclusions", e1), params={"receipt": True}), 200)
    assert (receipt["conclusions_removed"], receipt["conclusions_updated"]) == ([e1], [d1])
    rows = await conclusion_rows(deps, ws)
    assert (rows["alice lives by the sea"].source_ids, rows["alice lives by the sea"].message_ids) == (
        [], [ids["s1"][2]])
    assert made[0]["id"] == rows["alice was told about Lisbon"].uid
    await assert_no_orphans(deps, ws)


async def test_conclusion_delete_errors(client: httpx.AsyncClient, auth_client: httpx.AsyncClient, deps: Deps,
                                        ws: str) -> None:
    await _setup(client, ws)
    e1 = await store_conclusion(deps, ws, "alice", "alice", "alice lives in Lisbon")
    expect(await client.delete(ws_url(ws, "conclusions", "nope"), params={"receipt": "true"}), 404)
    expect(await client.delete(ws_url(f"{ws}-none", "conclusions", e1)), 404)
    expect(await client.delete(ws_url(ws, "conclusions", e1), params={"receipt": "maybe"}), 422)
    # Workspace keys only (spec 9).
    peer_key = bearer(sign(w=ws, p="alice"))
    expect(await auth_client.delete(ws_url(ws, "conclusions", e1), headers=peer_key), 401)
    done = await auth_client.delete(ws_url(ws, "conclusions", e1), params={"receipt": "true"},
                                    headers=bearer(sign(w=ws)))
    assert expect(done, 200)["conclusions_removed"] == [e1]


# ------------------------------------------------------------------------------------------------ messages


async def _text_hits(deps: Deps, ws_pk: int, word: str) -> set[str]:
    """Messages the full-text index finds for `word` (their own text or the turn they answer)."""
    if deps.db.dialect.name == "sqlite":
        sql = text("SELECT m.uid FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
                   "WHERE messages_fts MATCH :word AND m.workspace_id = :ws")
    else:
        sql = text("SELECT uid FROM messages WHERE content_tsv @@ plainto_tsquery('english', :word) "
                   "AND workspace_id = :ws")
    async with deps.db.read() as conn:
        return set((await conn.execute(sql, {"word": word, "ws": ws_pk})).scalars())


async def test_deleting_a_message_cascades(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    ids = await _setup(client, ws)
    m = ids["s1"]
    e1 = await store_conclusion(deps, ws, "alice", "alice", "alice likes the zanzibar cafe", session="s1",
                                message_ids=[m[2]])
    e2 = await store_conclusion(deps, ws, "alice", "alice", "alice lives near a cafe", session="s1",
                                message_ids=[m[0], m[2]])
    e3 = await store_conclusion(deps, ws, "bob", "alice", "alice seems happy in Lisbon", session="s1",
                                message_ids=[m[2]])
    d1 = await store_conclusion(deps, ws, "alice", "alice", "alice enjoys coffee", level="deductive",
                                source_ids=[e1])
    d2 = await store_conclusion(deps, ws, "alice", "alice", "alice has settled in", level="deductive",
                                source_ids=[e1, e2])
    await _put_card(client, ws, "bob", "alice", ["ATTRIBUTE: likes cafes"])
    # Summaries: short up to message 2 and 4, long up to 6 (each covers the session from its start).
    await store_summary(deps, ws, "s1", "short", last_seq=2, message_id=m[1], token_count=5)
    await store_summary(deps, ws, "s1", "short", last_seq=4, message_id=m[3], token_count=5)
    await store_summary(deps, ws, "s1", "long", last_seq=6, message_id=m[5], token_count=5)
    ws_pk = (await session_row(deps, ws, "s1")).workspace_id
    assert await _text_hits(deps, ws_pk, "zanzibar") == {m[2], m[3]}  # m[3] answers m[2]: its context quotes it
    jobs_before = {j.id for j in await session_jobs(deps, ws, "s1", "summary")}

    response = await client.delete(messages_url(ws, "s1", m[2]))
    receipt = expect(response, 200)
    assert receipt["deleted"] == {"type": "message", "id": m[2]}
    assert receipt["messages_removed"] == [m[2]]
    assert sorted(receipt["conclusions_removed"]) == sorted([e1, e3, d1])
    assert sorted(receipt["conclusions_updated"]) == sorted([e2, d2])
    assert receipt["summaries_removed"] == [
        {"session_id": "s1", "summary_type": "long", "message_id": m[5]},
        {"session_id": "s1", "summary_type": "short", "message_id": m[3]}]
    assert receipt["cards_affected"] == [{"observer_id": "bob", "observed_id": "alice"}]
    assert receipt["jobs_enqueued"] == [{"kind": "summary", "session_id": "s1", "summary_types": ["short"]},
                                        {"kind": "summary", "session_id": "s1", "summary_types": ["long"]}]
    assert _receipt_counts(response) == receipt["counts"]

    rows = await conclusion_rows(deps, ws)
    assert rows["alice lives near a cafe"].message_ids == [m[0]]
    assert rows["alice has settled in"].source_ids == [e2]
    # The summaries are queued again up to where the removed ones reached, without the message.
    queued = [j for j in await session_jobs(deps, ws, "s1", "summary") if j.id not in jobs_before]
    assert [(j.payload["seq"], j.payload["summary_types"], j.status) for j in queued] == [
        (4, ["short"], "pending"), (6, ["long"], "pending")]
    summaries = expect(await client.get(session_url(ws, "s1", "summaries")), 200)
    assert summaries["short_summary"]["message_id"] == m[1] and summaries["long_summary"] is None
    # The message is gone from reads, counts, and the full-text index (its own row and its successor's context).
    expect(await client.get(messages_url(ws, "s1", m[2])), 404)
    listed = expect(await client.post(messages_url(ws, "s1", "list")), 200)
    assert [x["id"] for x in listed["items"]] == [m[0], m[1], m[3], m[4], m[5]] and listed["total"] == 5
    assert await _text_hits(deps, ws_pk, "zanzibar") == set()
    assert await _text_hits(deps, ws_pk, "lovely") == {m[3], m[4]}  # the successor is still indexed itself
    # New messages take new seqs (never reused).
    new = await add_messages(client, ws, "s1", [msg("alice", "back again")])
    seqs = {r.uid: r.seq for r in await _message_rows(deps, ws_pk)}
    assert seqs[new[0]["id"]] == 7
    await assert_no_orphans(deps, ws, deleted=[("s1", 3)])

    expect(await client.delete(messages_url(ws, "s1", m[2])), 404)


async def _message_rows(deps: Deps, ws_pk: int) -> list:
    m = tables.messages
    async with deps.db.read() as conn:
        return list(await conn.execute(select(m.c.uid, m.c.seq).where(m.c.workspace_id == ws_pk)))


async def test_message_delete_errors_and_auth(client: httpx.AsyncClient, auth_client: httpx.AsyncClient,
                                              deps: Deps, ws: str) -> None:
    ids = await _setup(client, ws)
    m = ids["s1"]
    detail = expect(await client.delete(messages_url(ws, "nope", m[0])), 404)["detail"]
    assert detail == f"Session nope not found in workspace {ws}"
    expect(await client.delete(messages_url(ws, "s1", "nope")), 404)
    expect(await client.delete(messages_url(ws, "s2", m[0])), 404)  # not a message of that session
    expect(await client.delete(messages_url(f"{ws}-none", "s1", m[0])), 404)
    # Like the other message writes: workspace keys and the session's own key; peer keys are refused.
    expect(await auth_client.delete(messages_url(ws, "s1", m[0]), headers=bearer(sign(w=ws, p="alice"))), 401)
    expect(await auth_client.delete(messages_url(ws, "s1", m[0]), headers=bearer(sign(w=ws, s="s2"))), 401)
    done = expect(await auth_client.delete(messages_url(ws, "s1", m[0]), headers=bearer(sign(w=ws, s="s1"))), 200)
    assert done["messages_removed"] == [m[0]]
    expect(await auth_client.delete(messages_url(ws, "s1", m[1]), headers=bearer(sign(w=ws))), 200)
    # A deleted session's messages are gone already.
    expect(await client.delete(session_url(ws, "s2")), 202)
    expect(await client.delete(messages_url(ws, "s2", ids["s2"][0])), 404)
    await assert_no_orphans(deps, ws)


# ------------------------------------------------------------------------------------------------ sessions


async def test_session_purge_cascades_and_keeps_its_receipt(client: httpx.AsyncClient, deps: Deps, worker: Worker,
                                                            ws: str) -> None:
    ids = await _setup(client, ws)
    m1, m2 = ids["s1"], ids["s2"]

    async def put(content: str, level: str = "explicit", **extra: object) -> str:
        return await store_conclusion(deps, ws, "alice", "alice", content, level=level, **extra)

    e1 = await put("alice lives in Lisbon", session="s1", message_ids=[m1[0]])
    e2 = await put("alice is a nurse", session="s1")  # made through the API for s1: goes with it
    x = await put("alice has a sister in Porto", session="s2", message_ids=[m2[0]])
    mixed = await put("alice's family is in Portugal", session="s2", message_ids=[m1[0], m2[0]])
    kept = await put("alice has family nearby", "deductive", session="s1", source_ids=[e1, x])
    stamped = await put("alice lives in Portugal", "deductive", session="s1", source_ids=[e1])
    loose = await put("alice likes big cities", "inductive", source_ids=[e1, e2])
    partial = await put("alice cares for people near her", "inductive", source_ids=[e2, x])
    old = await put("alice lives in Berlin", session="s2")
    await supersede(deps, old, e1)
    await store_summary(deps, ws, "s1", "short", last_seq=4, message_id=m1[3], token_count=5)
    await _put_card(client, ws, "alice", "alice", ["IDENTITY: lives in Lisbon"])
    s1 = await session_row(deps, ws, "s1")

    expect(await client.delete(session_url(ws, "s1")), 202)
    await worker.drain()
    assert await session_row(deps, ws, "s1") is None

    rows = await conclusion_rows(deps, ws)
    assert set(rows) == {"alice has a sister in Porto", "alice's family is in Portugal", "alice has family nearby",
                         "alice cares for people near her", "alice lives in Berlin"}
    assert rows["alice has family nearby"].session is None  # a dream's output stamped with s1 keeps its premise x
    assert rows["alice has family nearby"].source_ids == [x]
    assert rows["alice's family is in Portugal"].message_ids == [m2[0]]
    assert rows["alice cares for people near her"].source_ids == [x]
    assert rows["alice lives in Berlin"].superseded_by is None
    await assert_no_orphans(deps, ws)

    j = tables.jobs
    async with deps.db.read() as conn:
        job = (await conn.execute(select(j).where(j.c.kind == "delete_session",
                                                  j.c.payload["session_pk"].as_integer() == s1.id))).one()
    receipt = job.payload["receipt"]
    assert job.status == "done"
    assert receipt["deleted"] == {"type": "session", "id": "s1"}
    assert sorted(receipt["conclusions_removed"]) == sorted([e1, e2, stamped, loose])
    assert sorted(receipt["conclusions_updated"]) == sorted([mixed, kept, partial])
    assert receipt["conclusions_restored"] == [old]
    assert receipt["summaries_removed"] == [{"session_id": "s1", "summary_type": "short", "message_id": m1[3]}]
    assert receipt["cards_affected"] == [{"observer_id": "alice", "observed_id": "alice"}]
    assert receipt["messages_removed"] == [] and receipt["counts"]["messages_removed"] == 6


async def test_browsers_may_read_the_receipt_header(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _setup(client, ws)
    e1 = await store_conclusion(deps, ws, "alice", "alice", "alice lives in Lisbon")
    response = await client.delete(ws_url(ws, "conclusions", e1), headers={"Origin": "http://localhost:3000"})
    assert response.status_code == 204
    assert "x-honcho-receipt" in response.headers.get("access-control-expose-headers", "").lower()
