"""The cascade at the service level, on both databases: a session purge that runs twice or is interrupted ends
with one whole receipt in its job and no orphan; ids are looked up in chunks whatever their number; card refresh
dreams are queued (once per collection) when dreams can run; a workspace purge does not cascade."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import add_messages, create_peer, create_session, expect, msg, session_row, session_url, ws_url
from cascade_helpers import assert_no_orphans, conclusion_rows
from memory_helpers import store_conclusion
from sqlalchemy import select

from honcho_server.services import cascade, deletion, sessions
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.repos import cascade as cascade_repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import purge


async def _seed(client: httpx.AsyncClient, deps: Deps, ws: str) -> dict[str, str]:
    """s1 (four messages) and s2 (one); a chain resting on s1 and a conclusion kept alive by s2."""
    for peer in ("alice", "bob"):
        await create_peer(client, ws, peer)
    await create_session(client, ws, "s1", {"alice": {}, "bob": {}})
    await create_session(client, ws, "s2", {"alice": {}})
    m1 = [m["id"] for m in await add_messages(client, ws, "s1", [msg("alice", f"fact {i}") for i in range(4)])]
    m2 = [m["id"] for m in await add_messages(client, ws, "s2", [msg("alice", "other fact")])]
    found = {"e1": await store_conclusion(deps, ws, "alice", "alice", "e1", session="s1", message_ids=[m1[0]]),
             "e2": await store_conclusion(deps, ws, "alice", "alice", "e2", session="s1", message_ids=[m1[1]]),
             "x": await store_conclusion(deps, ws, "alice", "alice", "x", session="s2", message_ids=[m2[0]])}
    found["d1"] = await store_conclusion(deps, ws, "alice", "alice", "d1", level="deductive",
                                         source_ids=[found["e1"], found["e2"]])
    found["d2"] = await store_conclusion(deps, ws, "alice", "alice", "d2", level="deductive",
                                         source_ids=[found["e1"], found["x"]])
    found["i1"] = await store_conclusion(deps, ws, "alice", "alice", "i1", level="inductive",
                                         source_ids=[found["d1"], found["d2"]])
    return found


async def _purge_job(deps: Deps, ws: str, session: str) -> tuple[int, int]:
    """Mark the session deleted as the route does; (session pk, id of its purge job)."""
    pk = (await session_row(deps, ws, session)).id
    await sessions.delete(deps, ws, session)
    j = tables.jobs
    async with deps.db.read() as conn:
        # the pending one: a finished purge of an earlier session that had the same id (SQLite reuses the highest
        # id once its row is gone) may still be listed
        job_id = (await conn.execute(select(j.c.id).where(j.c.kind == "delete_session", j.c.status == "pending",
                                                          j.c.payload["session_pk"].as_integer() == pk))).scalar_one()
    return pk, job_id


async def test_a_purge_interrupted_then_run_twice_keeps_one_whole_receipt(
        client: httpx.AsyncClient, deps: Deps, ws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    c = await _seed(client, deps, ws)
    pk, job_id = await _purge_job(deps, ws, "s1")

    async def crash(*_args: object) -> int:
        raise RuntimeError("worker killed")

    # The first run dies after the cascade committed, before any message went.
    with monkeypatch.context() as patch:
        patch.setattr(purge, "delete_session_messages", crash)
        with pytest.raises(RuntimeError):
            await deletion.purge_session(deps, pk, job_id=job_id)
    async with deps.db.read() as conn:
        first = await cascade_repo.job_receipt(conn, job_id)
    assert first is not None and sorted(first["conclusions_removed"]) == sorted([c["e1"], c["e2"], c["d1"]])
    assert await session_row(deps, ws, "s1") is not None
    await assert_no_orphans(deps, ws)

    receipt = await deletion.purge_session(deps, pk, job_id=job_id)
    assert await session_row(deps, ws, "s1") is None
    assert sorted(receipt.conclusions_removed) == sorted([c["e1"], c["e2"], c["d1"]])
    assert sorted(receipt.conclusions_updated) == sorted([c["d2"], c["i1"]])
    assert receipt.counts()["messages_removed"] == 4
    async with deps.db.read() as conn:
        assert await cascade_repo.job_receipt(conn, job_id) == receipt.as_dict()

    again = await deletion.purge_session(deps, pk, job_id=job_id)  # a job that runs twice
    assert again.as_dict() == receipt.as_dict()
    rows = await conclusion_rows(deps, ws)
    assert set(rows) == {"x", "d2", "i1"}
    assert rows["d2"].source_ids == [c["x"]] and rows["i1"].source_ids == [c["d2"]]
    await assert_no_orphans(deps, ws)


async def test_ids_are_looked_up_in_chunks(client: httpx.AsyncClient, deps: Deps, ws: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cascade_repo, "CHUNK", 2)
    await create_peer(client, ws, "alice")
    await create_session(client, ws, "s1", {"alice": {}})
    m = [x["id"] for x in await add_messages(client, ws, "s1", [msg("alice", f"fact {i}") for i in range(7)])]
    explicit = [await store_conclusion(deps, ws, "alice", "alice", f"e{i}", session="s1", message_ids=[m[i], m[6]])
                for i in range(6)]
    wide = await store_conclusion(deps, ws, "alice", "alice", "wide", level="inductive", source_ids=explicit)
    receipt = await cascade.delete_message(deps, ws, "s1", m[6])
    assert sorted(receipt.conclusions_updated) == sorted(explicit)
    for i in range(6):
        receipt = await cascade.delete_message(deps, ws, "s1", m[i])
        assert receipt.conclusions_removed == ([explicit[i], wide] if i == 5 else [explicit[i]])
    assert await conclusion_rows(deps, ws) == {}
    await assert_no_orphans(deps, ws)


def _dreaming(deps: Deps, dreams: bool = True) -> Deps:
    settings = deps.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_validate({"provider": "openai", "model": "gpt-4o-mini", "api_key": "test-key"})
    settings.defaults.dream_enabled = dreams
    return Deps(db=deps.db, settings=settings, embedder_instance=deps.embedder_instance)


async def _dream_jobs(deps: Deps, ws_pk: int) -> list:
    j = tables.jobs
    async with deps.db.read() as conn:
        return list(await conn.execute(select(j).where(j.c.workspace_id == ws_pk, j.c.kind == "dream")))


async def test_cards_are_refreshed_by_a_rebuild_dream_when_dreams_can_run(client: httpx.AsyncClient, deps: Deps,
                                                                          ws: str) -> None:
    c = await _seed(client, deps, ws)
    lone = await store_conclusion(deps, ws, "bob", "alice", "alice seems kind")
    expect(await client.put(ws_url(ws, "peers", "alice", "card"), params={"target": "alice"},
                            json={"peer_card": ["IDENTITY: alice"]}), 200)
    ws_pk = (await session_row(deps, ws, "s1")).workspace_id

    off = await cascade.delete_conclusion(_dreaming(deps, dreams=False), ws, c["e2"])
    assert off.cards_affected == [{"observer_id": "alice", "observed_id": "alice"}] and off.jobs_enqueued == []
    assert await _dream_jobs(deps, ws_pk) == []

    on = await cascade.delete_conclusion(_dreaming(deps), ws, c["e1"])
    assert on.jobs_enqueued == [{"kind": "dream", "dream_type": "card_refresh", "observer_id": "alice",
                                 "observed_id": "alice"}]
    again = await cascade.delete_conclusion(_dreaming(deps), ws, c["x"])  # the open one is not queued twice
    assert again.cards_affected == on.cards_affected
    (job,) = await _dream_jobs(deps, ws_pk)
    assert (job.status, job.observed, job.observers) == ("pending", "alice", ["alice"])
    generation = job.payload.pop("generation")  # the card's generation (the active one: the workspace's first)
    assert generation == await _active_generation(deps, ws_pk)
    assert job.payload == {"observer": "alice", "observed": "alice", "dream_type": "card_refresh", "session": None,
                           "rebuild": True, "reason": "deletion"}
    # A collection without a card has nothing to refresh.
    none = await cascade.delete_conclusion(_dreaming(deps), ws, lone)
    assert (none.cards_affected, none.jobs_enqueued) == ([], [])
    await assert_no_orphans(deps, ws)


async def test_a_workspace_purge_does_not_cascade(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await _seed(client, deps, ws)
    expect(await client.put(ws_url(ws, "peers", "alice", "card"), params={"target": "alice"},
                            json={"peer_card": ["IDENTITY: alice"]}), 200)
    ws_pk = (await session_row(deps, ws, "s1")).workspace_id
    for name in ("s1", "s2"):
        expect(await client.delete(session_url(ws, name)), 202)
    receipt = await deletion.purge_session(_dreaming(deps), (await session_row(deps, ws, "s1")).id,
                                           cascade_to_memory=False)
    assert receipt.as_dict()["deleted"] is None and receipt.counts()["conclusions_removed"] == 0
    await deletion.purge_workspace(_dreaming(deps), ws_pk)
    async with deps.db.read() as conn:
        left = (await conn.execute(select(tables.conclusions.c.id)
                                   .where(tables.conclusions.c.workspace_id == ws_pk))).all()
    assert left == [] and await _dream_jobs(deps, ws_pk) == []


async def _active_generation(deps: Deps, ws_pk: int) -> int:
    async with deps.db.read() as conn:
        found = await generation_repo.active_of(conn, ws_pk)
    assert found is not None
    return found.pk
