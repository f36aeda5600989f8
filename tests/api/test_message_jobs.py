"""Background work queued with new messages (spec §15.1, §3.4, architecture §5) and queue status (§5.6)."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import (
    add_messages,
    create_peer,
    create_session,
    expect,
    message_seqs,
    msg,
    session_jobs,
    ws_url,
)

from honcho_server.queue.jobs import USER_FACING_KINDS
from honcho_server.services.deps import Deps
from honcho_server.store import tables

COUNTER_KEYS = {"total_work_units", "completed_work_units", "in_progress_work_units", "pending_work_units"}


def _representations(jobs: list[Any]) -> list[tuple[str, list[str]]]:
    return [(j.observed, j.observers) for j in jobs if j.kind == "representation"]


async def test_messages_and_jobs_commit_together(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {"observe_others": True}})
    created = await add_messages(
        client, ws, "s1", [msg("alice", "hi"), msg("alice", "again"), msg("bob", "yo")]
    )
    jobs = await session_jobs(deps, ws, "s1")
    assert {j.kind for j in jobs} == {"representation", "embed"}
    assert all(j.status == "pending" for j in jobs)
    assert _representations(jobs) == [("alice", ["alice", "bob"]), ("bob", ["bob"])]
    seqs = await message_seqs(deps, [m["id"] for m in created])
    alice_job = next(j for j in jobs if j.kind == "representation" and j.observed == "alice")
    assert alice_job.payload["seqs"] == seqs[:2]


async def test_failed_batch_queues_nothing(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1")
    expect(
        await client.post(
            ws_url(ws, "sessions", "s1", "messages"),
            json={"messages": [msg("ok", "x"), msg("bad name", "y")]},
        ),
        422,
    )
    assert await session_jobs(deps, ws, "s1") == []


async def test_summary_job_every_20_messages_by_default(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await add_messages(client, ws, "s1", [msg("a", f"m{i}") for i in range(19)])
    assert await session_jobs(deps, ws, "s1", "summary") == []
    await add_messages(client, ws, "s1", [msg("a", "twentieth"), msg("a", "21st")])
    summaries = await session_jobs(deps, ws, "s1", "summary")
    assert [(j.payload["seq"], j.payload["summary_types"]) for j in summaries] == [(20, ["short"])]


async def test_summary_cadence_follows_configuration(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    config = {"summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
    await create_session(client, ws, "s1", configuration=config)
    await add_messages(client, ws, "s1", [msg("a", f"m{i}") for i in range(20)])
    summaries = await session_jobs(deps, ws, "s1", "summary")
    # one job per kind, at the latest boundary the batch crossed (a later one would be merged into it)
    assert [(j.payload["seq"], j.payload["summary_types"]) for j in summaries] == [
        (20, ["short"]),
        (20, ["long"]),
    ]
    await create_session(client, ws, "s2", configuration={"summary": {"enabled": False}})
    await add_messages(client, ws, "s2", [msg("a", f"m{i}") for i in range(20)])
    assert await session_jobs(deps, ws, "s2", "summary") == []


async def test_reasoning_disabled_queues_no_representation(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await create_session(client, ws, "s1", configuration={"reasoning": {"enabled": False}})
    await add_messages(client, ws, "s1", [msg("a", "x"), msg("b", "y")])
    assert _representations(await session_jobs(deps, ws, "s1")) == []

    await create_session(client, ws, "s2")
    await add_messages(
        client, ws, "s2", [msg("a", "x", configuration={"reasoning": {"enabled": False}}), msg("a", "y")]
    )
    reps = await session_jobs(deps, ws, "s2", "representation")
    assert [j.payload["seqs"] for j in reps] == [[2]]

    await client.put(ws_url(ws), json={"configuration": {"reasoning": {"enabled": False}}})
    await add_messages(client, ws, "s3", [msg("a", "x")])
    assert _representations(await session_jobs(deps, ws, "s3")) == []


async def test_unobserved_peers_get_no_representation(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_peer(client, ws, "shy", configuration={"observe_me": False})
    await create_session(
        client, ws, "s1", peers={"open": {"observe_others": True}, "hidden": {"observe_me": False}}
    )
    await add_messages(client, ws, "s1", [msg("shy", "a"), msg("hidden", "b"), msg("open", "c")])
    assert _representations(await session_jobs(deps, ws, "s1")) == [("open", ["open"])]
    # The per-session flag overrides the peer-level one.
    await create_session(client, ws, "s2", peers={"shy": {"observe_me": True}})
    await add_messages(client, ws, "s2", [msg("shy", "a")])
    assert _representations(await session_jobs(deps, ws, "s2")) == [("shy", ["shy"])]


async def test_observers_are_active_members_observing_others(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    peers = {
        "u": {},
        "o1": {"observe_others": True},
        "o2": {"observe_others": True},
        "left": {"observe_others": True},
    }
    await create_session(client, ws, "s1", peers=peers)
    expect(await client.request("DELETE", ws_url(ws, "sessions", "s1", "peers"), json=["left"]), 200)
    await add_messages(client, ws, "s1", [msg("u", "hello"), msg("o1", "hi")])
    assert _representations(await session_jobs(deps, ws, "s1")) == [
        ("u", ["u", "o1", "o2"]),
        ("o1", ["o1", "o2"]),
    ]


def _counts(body: dict[str, Any]) -> tuple[int, int]:
    """(total, pending) after checking the four required counters are present."""
    assert set(body) >= COUNTER_KEYS
    return body["total_work_units"], body["pending_work_units"]


async def _user_facing_jobs(deps: Deps, ws: str, session: str, **match: Any) -> int:
    jobs = await session_jobs(deps, ws, session)
    return sum(1 for j in jobs if j.kind in USER_FACING_KINDS and all(_matches(j, k, v) for k, v in match.items()))


def _matches(job: Any, key: str, value: str) -> bool:
    return value in (job.observers or []) if key == "observer" else getattr(job, key) == value


async def test_queue_status_counts_and_filters(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await create_session(client, ws, "s1", peers={"alice": {}, "bob": {"observe_others": True}})
    await add_messages(client, ws, "s1", [msg("alice" if i % 3 else "bob", f"m{i}") for i in range(20)])
    await add_messages(client, ws, "s2", [msg("carol", "x")])
    url = ws_url(ws, "queue", "status")

    body = expect(await client.get(url), 200)
    total, pending = _counts(body)
    assert total == pending > 0
    assert set(body["sessions"]) == {"s1", "s2"}
    assert sum(s["total_work_units"] for s in body["sessions"].values()) == total

    one = expect(await client.get(url, params={"session_id": "s1"}), 200)
    assert one["sessions"] is None
    assert _counts(one) == (body["sessions"]["s1"]["total_work_units"],) * 2
    # Representation, summary and dream work is counted (spec 5.6), and so is embedding; deletions are not.
    assert _counts(one)[0] == await _user_facing_jobs(deps, ws, "s1")

    by_observer = expect(await client.get(url, params={"observer_id": "bob", "session_id": "s1"}), 200)
    assert _counts(by_observer)[0] == await _user_facing_jobs(deps, ws, "s1", observer="bob") > 0
    by_sender = expect(await client.get(url, params={"sender_id": "carol"}), 200)
    assert _counts(by_sender)[0] == await _user_facing_jobs(deps, ws, "s2", observed="carol") == 1
    blank = expect(await client.get(url, params={"session_id": "", "observer_id": ""}), 200)
    assert _counts(blank) == _counts(body)


async def test_queue_status_of_unknown_workspace_is_empty(client: httpx.AsyncClient, ws: str) -> None:
    body = expect(await client.get(ws_url(ws, "queue", "status")), 200)
    assert {k: body[k] for k in COUNTER_KEYS} == dict.fromkeys(COUNTER_KEYS, 0)
    assert body["sessions"] is None


async def test_job_rows_reference_workspace_and_session(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    await add_messages(client, ws, "s1", [msg("a", "x")])
    jobs = await session_jobs(deps, ws, "s1")
    async with deps.db.read() as conn:
        ws_ids = {
            row.id
            for row in await conn.execute(tables.workspaces.select().where(tables.workspaces.c.name == ws))
        }
    assert jobs and {j.workspace_id for j in jobs} == ws_ids
