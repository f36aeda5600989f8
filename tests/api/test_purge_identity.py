"""A purge removes the session or workspace it was queued for and nothing else, even where SQLite has meanwhile
given that row's id to a newer one (a deleted row that held the highest id hands it to the next insert): the
deletion of a workspace purges its hidden sessions first, so the session's own purge job runs afterwards on an id
that may now name another workspace's new session."""

from __future__ import annotations

import httpx
from api_helpers import add_messages, expect, msg, session_row, session_url, workspace_pk, ws_url
from sqlalchemy import select

from honcho_server.services.deps import Deps
from honcho_server.store.tables import jobs
from honcho_server.worker import handlers
from honcho_server.worker.runtime import Worker


def _only(deps: Deps, kind: str) -> Worker:
    return Worker(deps, {kind: handlers.REGISTRY[kind]})


async def test_a_late_purge_leaves_a_newer_session_with_the_same_id_alone(
        client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await add_messages(client, ws, "s1", [msg("alice", "old")])
    old_pk = (await session_row(deps, ws, "s1")).id
    expect(await client.delete(session_url(ws, "s1")), 202)
    expect(await client.delete(ws_url(ws)), 202)
    # >= 1: other tests may leave purge jobs open in the session's database.
    assert await _only(deps, "delete_workspace").drain() >= 1  # the workspace's purge takes the session with it

    newer = f"{ws}-new"
    await add_messages(client, newer, "s1", [msg("bob", "keep me")])
    reused = (await session_row(deps, newer, "s1")).id == old_pk  # SQLite: the same id; PostgreSQL: never
    assert await _only(deps, "delete_session").drain() >= 1  # the session's own purge job runs last

    page = expect(await client.post(session_url(newer, "s1", "messages", "list"), json={}), 200)
    assert [m["content"] for m in page["items"]] == ["keep me"], reused
    assert await workspace_pk(deps, ws) is None


async def test_a_purge_run_again_after_it_finished_does_nothing(client: httpx.AsyncClient, deps: Deps,
                                                               ws: str) -> None:
    await add_messages(client, ws, "s1", [msg("alice", "old")])
    expect(await client.delete(session_url(ws, "s1")), 202)
    worker = _only(deps, "delete_session")
    async with deps.db.read() as conn:
        job_row = (await conn.execute(select(jobs).where(jobs.c.kind == "delete_session")
                                      .order_by(jobs.c.id.desc()).limit(1))).one()
    assert await worker.drain() >= 1
    newer = f"{ws}-new"
    await add_messages(client, newer, "s1", [msg("bob", "keep me")])
    # The same job once more (a worker that died between the purge and marking the job done).
    await handlers.delete_session(deps, handlers.ClaimedJob(
        id=job_row.id, kind="delete_session", work_unit_key=job_row.work_unit_key, payload=job_row.payload,
        attempts=2, workspace_pk=None, session_pk=None))
    page = expect(await client.post(session_url(newer, "s1", "messages", "list"), json={}), 200)
    assert [m["content"] for m in page["items"]] == ["keep me"]


async def test_the_newer_session_is_purged_when_deleted_while_the_late_purge_is_still_queued(
        client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await add_messages(client, ws, "s1", [msg("alice", "old")])
    old_pk = (await session_row(deps, ws, "s1")).id
    expect(await client.delete(session_url(ws, "s1")), 202)
    expect(await client.delete(ws_url(ws)), 202)
    assert await _only(deps, "delete_workspace").drain() >= 1

    newer = f"{ws}-new"
    await add_messages(client, newer, "s1", [msg("bob", "short-lived")])
    await add_messages(client, newer, "s2", [msg("bob", "keep me")])
    reused = (await session_row(deps, newer, "s1")).id == old_pk
    # Its own purge job is queued although the late one of the same id is still open (a dedupe key by id would
    # drop it, and the late job leaves a session that is not its own alone: hidden, never purged).
    expect(await client.delete(session_url(newer, "s1")), 202)
    await _only(deps, "delete_session").drain()
    assert await session_row(deps, newer, "s1") is None, reused
    page = expect(await client.post(session_url(newer, "s2", "messages", "list"), json={}), 200)
    assert [m["content"] for m in page["items"]] == ["keep me"]
