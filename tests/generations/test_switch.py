"""Switching generations: activate, roll back, retire, delete (docs/generations.md), each refusal with its reason
and no change; the workspace's reads follow the switch at once (every read resolves the active generation through
the workspace row); who may do it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from api_helpers import bearer, expect, sign
from generation_helpers import (
    ADMIN,
    Fakes,
    add_generation,
    count,
    gen_url,
    keys,
    make_world,
    new_ws,
    pending_jobs,
    put_card,
    put_conclusion,
    put_job,
    put_llm_call,
    put_summary,
    states,
)

from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import workspaces as workspace_repo


async def _active_of(deps: Deps, ws: str) -> int:
    """The generation the workspace's reads serve now."""
    async with deps.db.read() as conn:
        found = await workspace_repo.find(conn, ws)
    assert found is not None
    return found.generation_pk


async def test_activate_switches_the_workspace_and_rollback_restores_it(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    g2 = await add_generation(gen_deps, k.ws)
    assert await _active_of(gen_deps, ws) == k.active
    # nothing to roll back to yet
    refused = expect(await gc.post(gen_url(ws, "rollback"), headers=ADMIN), 409)
    assert "g1" in refused["detail"] and "roll back" in refused["detail"]

    on = expect(await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN), 200)
    assert (on["id"], on["state"], on["previous"]) == ("g2", "active", "g1") and on["activated_at"]
    assert await _active_of(gen_deps, ws) == g2.pk
    assert await states(gen_deps, k.ws) == {"g1": "ready", "g2": "active"}  # g1 kept, still derived into
    # activating the active one changes nothing
    again = expect(await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN), 200)
    assert again == on

    back = expect(await gc.post(gen_url(ws, "rollback"), headers=ADMIN), 200)
    assert (back["id"], back["state"], back["previous"]) == ("g1", "active", "g2")
    assert await _active_of(gen_deps, ws) == k.active
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "ready"}
    # a rollback of the rollback returns to g2
    assert expect(await gc.post(gen_url(ws, "rollback"), headers=ADMIN), 200)["id"] == "g2"


async def test_what_cannot_be_activated_says_why(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await add_generation(gen_deps, k.ws, state="building")
    await add_generation(gen_deps, k.ws, state="failed", error="cost cap reached")
    building = expect(await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN), 409)
    assert "building" in building["detail"] and "1 of 4" in building["detail"]
    failed = expect(await gc.post(gen_url(ws, "g3", "activate"), headers=ADMIN), 409)
    assert "failed" in failed["detail"] and "cost cap reached" in failed["detail"]
    for ref in ("g9", "nope"):
        missing = expect(await gc.post(gen_url(ws, ref, "activate"), headers=ADMIN), 404)
        assert ref in missing["detail"]
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "building", "g3": "failed"}
    assert await _active_of(gen_deps, ws) == k.active


async def test_rollback_to_a_deleted_generation_is_refused(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await add_generation(gen_deps, k.ws)
    expect(await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN), 200)
    expect(await gc.delete(gen_url(ws, "g1"), headers=ADMIN), 200)
    refused = expect(await gc.post(gen_url(ws, "rollback"), headers=ADMIN), 409)
    assert "deleted" in refused["detail"]
    assert expect(await gc.get(gen_url(ws, "g2"), headers=ADMIN), 200)["previous"] is None  # g1 is gone
    assert await states(gen_deps, k.ws) == {"g2": "active"}


async def test_a_switch_that_fails_half_way_changes_nothing(
        gc: httpx.AsyncClient, gen_deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old active generation is demoted and the new one promoted in one transaction: when anything fails after
    the demotion, the workspace keeps its active generation (never none)."""
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await add_generation(gen_deps, k.ws)
    real = generation_repo.activate

    async def demote_then_fail(conn: Any, workspace_pk: int, pk: int, now: Any) -> int | None:
        await real(conn, workspace_pk, pk, now)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(generation_repo, "activate", demote_then_fail)
    assert (await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN)).status_code == 500
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "ready"}
    assert await _active_of(gen_deps, ws) == k.active


async def test_concurrent_activations_leave_one_active_generation(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    """Two switches at once run one after the other (the workspace row is locked): both succeed, exactly one
    generation is active, and it remembers the other as its previous one."""
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await add_generation(gen_deps, k.ws)
    await add_generation(gen_deps, k.ws)
    first, second = await asyncio.gather(gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN),
                                         gc.post(gen_url(ws, "g3", "activate"), headers=ADMIN))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    found = await states(gen_deps, k.ws)
    assert list(found.values()).count("active") == 1 and found["g1"] == "ready"
    winner = next(g for g, state in found.items() if state == "active")
    loser = "g3" if winner == "g2" else "g2"
    assert expect(await gc.get(gen_url(ws, winner), headers=ADMIN), 200)["previous"] == loser


async def test_retire_keeps_a_generation_out_of_derivation_and_it_can_come_back(
        gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    g2 = await add_generation(gen_deps, k.ws)
    await put_job(gen_deps, k, g2.pk)
    await put_job(gen_deps, k, k.active)
    refused = expect(await gc.post(gen_url(ws, "g1", "retire"), headers=ADMIN), 409)
    assert "active" in refused["detail"]
    retired = expect(await gc.post(gen_url(ws, "g2", "retire"), headers=ADMIN), 200)
    assert retired["state"] == "retired" and retired["retired_at"]
    assert await pending_jobs(gen_deps, g2.pk) == 0 and await pending_jobs(gen_deps, k.active) == 1
    assert expect(await gc.post(gen_url(ws, "g2", "retire"), headers=ADMIN), 200)["state"] == "retired"
    back = expect(await gc.post(gen_url(ws, "g2", "activate"), headers=ADMIN), 200)
    assert (back["state"], back["retired_at"], back["previous"]) == ("active", None, "g1")
    for state in ("building", "failed"):
        other = await add_generation(gen_deps, k.ws, state=state)
        refused = expect(await gc.post(gen_url(ws, other.public_id, "retire"), headers=ADMIN), 409)
        assert state in refused["detail"] and "delete" in refused["detail"]


async def test_delete_cascades_to_its_rows_only_with_a_receipt(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    g2 = await add_generation(gen_deps, k.ws, state="building")
    for generation in (k.active, g2.pk):
        await put_conclusion(gen_deps, k, generation, "alice", "bob", "Bob likes tea")
        await put_card(gen_deps, k, generation, "bob", "bob", ["Name: Bob"])
        await put_summary(gen_deps, k, generation, "s1", "short", "They talked.", 4)
        await put_llm_call(gen_deps, k, generation, 100, 20, 0.001)
    await put_conclusion(gen_deps, k, g2.pk, "bob", "bob", "Bob lives in Oslo")
    await put_job(gen_deps, k, g2.pk)
    refused = expect(await gc.delete(gen_url(ws, "g1"), headers=ADMIN), 409)
    assert "active" in refused["detail"]
    assert await count(gen_deps, tables.conclusions, generation_id=k.active) == 1

    response = await gc.delete(gen_url(ws, "g2"), headers=ADMIN)
    receipt = expect(response, 200)
    assert receipt == {"deleted": {"type": "generation", "id": "g2", "name": None},
                       "counts": {"conclusions_removed": 2, "summaries_removed": 1, "cards_removed": 1,
                                  "jobs_cancelled": 1}}
    assert response.headers["X-Honcho-Receipt"] == (
        '{"conclusions_removed":2,"summaries_removed":1,"cards_removed":1,"jobs_cancelled":1}')
    for table in (tables.conclusions, tables.summaries, tables.peer_cards):
        assert await count(gen_deps, table, generation_id=g2.pk) == 0
        assert await count(gen_deps, table, generation_id=k.active) == 1  # the other generation's rows stay
    assert await pending_jobs(gen_deps, g2.pk) == 0
    assert await count(gen_deps, tables.llm_calls, workspace_id=k.ws) == 2  # the calls stay in the usage
    expect(await gc.get(gen_url(ws, "g2"), headers=ADMIN), 404)
    expect(await gc.delete(gen_url(ws, "g2"), headers=ADMIN), 404)
    assert await states(gen_deps, k.ws) == {"g1": "active"}


async def test_usage_sums_the_generation_s_model_calls(gc: httpx.AsyncClient, gen_deps: Deps) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    g2 = await add_generation(gen_deps, k.ws)
    g3 = await add_generation(gen_deps, k.ws)
    await put_llm_call(gen_deps, k, g2.pk, 1000, 200, 0.002)
    await put_llm_call(gen_deps, k, g2.pk, 500, 100, 0.001)
    await put_llm_call(gen_deps, k, g3.pk, 500, 100, 0.001)
    await put_llm_call(gen_deps, k, g3.pk, 300, 50, None)  # unpriced: the sum is unknown
    await put_llm_call(gen_deps, k, None, 9999, 9999, 9.0)  # a chat: no generation's
    found = {g["id"]: g["usage"] for g in expect(await gc.get(gen_url(ws), headers=ADMIN), 200)["items"]}
    assert found["g1"] == {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    assert found["g2"]["calls"] == 2 and (found["g2"]["input_tokens"], found["g2"]["output_tokens"]) == (1500, 300)
    assert abs(found["g2"]["cost_usd"] - 0.003) < 1e-9
    assert found["g3"] == {"calls": 2, "input_tokens": 800, "output_tokens": 150, "cost_usd": None}
    assert expect(await gc.get(gen_url(ws, "g3"), headers=ADMIN), 200)["usage"] == found["g3"]


async def test_only_workspace_level_keys_reach_generations(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    """Peer and session keys, and other workspaces' keys, are refused with 401 (the API never says 403) and
    change nothing; the workspace's own key may do everything."""
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await add_generation(gen_deps, k.ws)
    requests = [("GET", gen_url(ws), None), ("POST", gen_url(ws), {"dry_run": True}), ("POST", gen_url(ws), {}),
                ("GET", gen_url(ws, "g2"), None), ("GET", gen_url(ws, "compare") + "?a=g1&b=g2", None),
                ("POST", gen_url(ws, "g2", "activate"), None), ("POST", gen_url(ws, "rollback"), None),
                ("POST", gen_url(ws, "g2", "retire"), None), ("DELETE", gen_url(ws, "g2"), None)]
    for claims in ({"w": ws, "p": "alice"}, {"w": ws, "s": "s1"}, {"w": new_ws()}):
        for method, url, body in requests:
            response = await gc.request(method, url, json=body, headers=bearer(sign(**claims)))
            assert response.status_code == 401, (claims, method, url, response.text)
    assert expect(await gc.get(gen_url(ws), headers=bearer(sign(w=ws))), 200)["items"][0]["id"] == "g1"
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "ready"} and fakes.enqueued == []
    made = expect(await gc.post(gen_url(ws), json={}, headers=bearer(sign(w=ws))), 201)
    assert made["started_by"] == f"workspace key ({ws})"
