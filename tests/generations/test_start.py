"""Starting a rederive (`POST .../generations`): the recipe, the estimate, the cost cap, the dry run, one building
generation at a time, the scope, and every refusal writing nothing. The rederive jobs, the estimate and the copy
of the memory outside a scope are faked (generation_helpers.Fakes): this suite is about what the route and the
service decide around them."""

from __future__ import annotations

import httpx
from api_helpers import expect
from generation_helpers import ADMIN, Fakes, gen_url, keys, make_world, new_ws, priced, states

from honcho_server.services.deps import Deps
from honcho_server.store import tables


async def _started(gc: httpx.AsyncClient, ws: str, body: dict, status: int = 201) -> dict:
    return expect(await gc.post(gen_url(ws), json=body, headers=ADMIN), status)


async def test_start_creates_a_building_generation_with_its_recipe_and_estimate(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    made = await _started(gc, ws, {"name": "mini", "model": "gpt-4.1-mini",
                                   "models": {"dream": {"model": "o4-mini", "temperature": 0.5}},
                                   "custom_instructions": "Prefer facts about food."})
    assert (made["id"], made["name"], made["state"]) == ("g2", "mini", "building")
    assert made["progress"] == {"total": 3, "done": 0}  # the count the jobs' enqueue returned
    tasks = made["recipe"]["tasks"]
    assert tasks["deriver"]["model"] == tasks["summary"]["model"] == "gpt-4.1-mini"
    assert (tasks["dream"]["model"], tasks["dream"]["temperature"]) == ("o4-mini", 0.5)
    assert made["recipe"]["custom_instructions"] == "Prefer facts about food."
    assert len(made["fingerprint"]) == 64 and made["scope"] == {} and made["started_by"] == "admin"
    assert made["estimate"] == priced().as_json() and made["estimate"]["cost_usd"] == 0.065
    assert made["usage"] == {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    assert made["previous"] is None and made["activated_at"] is None
    # the jobs were queued for this generation of this workspace; the carry-over ran with the whole-workspace scope
    # (it copies only the app's own conclusions then: store/repos/generation_copy.py)
    assert [(pk, g.public_id) for pk, g in fakes.enqueued] == [(k.ws, "g2")]
    assert fakes.copied == [(k.ws, k.active, fakes.enqueued[0][1].pk, {})]
    assert fakes.estimated[0]["recipe"] == made["recipe"] and fakes.estimated[0]["scope"] == {}
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "building"}
    listed = expect(await gc.get(gen_url(ws), headers=ADMIN), 200)["items"]
    assert [g["id"] for g in listed] == ["g1", "g2"] and listed[1] == made
    assert expect(await gc.get(gen_url(ws, "mini"), headers=ADMIN), 200)["id"] == "g2"


async def test_the_same_recipe_has_the_same_fingerprint(gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    first = await _started(gc, ws, {"model": "gpt-4.1-mini"})
    expect(await gc.delete(gen_url(ws, "g2"), headers=ADMIN), 200)
    again = await _started(gc, ws, {"models": {t: {"model": "gpt-4.1-mini"} for t in ("deriver", "summary", "dream")}})
    expect(await gc.delete(gen_url(ws, again["id"]), headers=ADMIN), 200)
    other = await _started(gc, ws, {"model": "gpt-4.1"})
    assert first["recipe"] == again["recipe"] and first["fingerprint"] == again["fingerprint"]
    assert other["fingerprint"] != first["fingerprint"]


async def test_a_second_generation_cannot_start_while_one_builds(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    await _started(gc, ws, {})
    refused = expect(await gc.post(gen_url(ws), json={"model": "x"}, headers=ADMIN), 409)
    assert "g2" in refused["detail"] and "building" in refused["detail"]
    assert await states(gen_deps, k.ws) == {"g1": "active", "g2": "building"} and len(fakes.enqueued) == 1


async def test_a_dry_run_answers_the_estimate_and_creates_nothing(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    answer = expect(await gc.post(gen_url(ws), json={"dry_run": True, "max_cost_usd": 1.0}, headers=ADMIN), 200)
    assert answer == {"estimate": priced().as_json()}
    assert await states(gen_deps, k.ws) == {"g1": "active"} and fakes.enqueued == []


async def test_an_estimate_above_the_cap_is_refused_with_the_estimate(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    for dry_run in (False, True):
        refused = expect(await gc.post(gen_url(ws), json={"max_cost_usd": 0.06, "dry_run": dry_run},
                                       headers=ADMIN), 422)
        assert "0.0650" in refused["detail"] and "0.06" in refused["detail"] and "nothing" in refused["detail"]
        assert refused["estimate"] == priced().as_json()
    assert await states(gen_deps, k.ws) == {"g1": "active"} and fakes.enqueued == []
    # at the cap exactly: started, the cap kept on the generation
    made = await _started(gc, ws, {"max_cost_usd": 0.065})
    assert made["max_cost_usd"] == 0.065


async def test_a_cap_with_an_unknown_price_is_refused(gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    fakes.estimate = priced(deriver=None)
    refused = expect(await gc.post(gen_url(ws), json={"max_cost_usd": 100}, headers=ADMIN), 422)
    assert "unknown" in refused["detail"] and "deriver (openai gpt-4o-mini)" in refused["detail"]
    assert refused["estimate"]["cost_usd"] is None
    assert await states(gen_deps, k.ws) == {"g1": "active"} and fakes.enqueued == []
    assert (await _started(gc, ws, {}))["estimate"]["cost_usd"] is None  # without a cap: started


async def test_a_scope_is_checked_stored_and_copied_around(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    for body, status, word in (({"peer": "mallory"}, 404, "mallory"), ({"sessions": ["s1", "nope"]}, 404, "nope"),
                               ({"sessions": []}, 422, "sessions"), ({"since": "yesterday"}, 422, "since")):
        refused = expect(await gc.post(gen_url(ws), json=body, headers=ADMIN), status)
        assert word in str(refused["detail"])
    assert await states(gen_deps, k.ws) == {"g1": "active"} and fakes.enqueued == [] and fakes.copied == []
    made = await _started(gc, ws, {"peer": "alice", "since": "2026-01-02T03:04:05+02:00",
                                   "sessions": ["s1", "s2", "s1"]})
    scope = {"peer": "alice", "since": "2026-01-02T01:04:05+00:00", "sessions": ["s1", "s2"]}
    assert made["scope"] == scope and fakes.estimated[-1]["scope"] == scope
    # the memory outside the scope comes from the active generation, in the same transaction as the jobs
    assert fakes.copied == [(k.ws, k.active, fakes.enqueued[0][1].pk, scope)]


async def test_bad_recipes_and_names_are_refused_and_change_nothing(
        gc: httpx.AsyncClient, gen_deps: Deps, fakes: Fakes) -> None:
    ws = new_ws()
    await make_world(gc, ws)
    k = await keys(gen_deps, ws)
    cases = [
        ({"models": {"chat": {"model": "x"}}}, "unknown task"),
        ({"models": {"deriver": {"colour": "blue"}}}, "colour"),
        ({"models": {"deriver": {"provider": "acme"}}}, "models.deriver"),
        ({"models": {"deriver": {"temperature": 7}}}, "temperature"),
        ({"models": {"deriver": {"provider": "openai-compatible"}}}, "BASE_URL"),  # cannot run here: said why
        ({"max_cost": 1}, "max_cost"),  # a misspelt cap is not ignored
        ({"max_cost_usd": -1}, "max_cost_usd"),
        ({"name": "g7"}, "g<number>"),
        ({"name": "has space"}, "name"),
        ({"peer": "ali\x00ce"}, "NUL"),
        ({"sessions": ["s\x001"]}, "NUL"),
        ({"model": "gpt\x00"}, "NUL"),
        ({"models": {"dream": {"base_url": "http://x\x00"}}}, "NUL"),
    ]
    for body, word in cases:
        refused = expect(await gc.post(gen_url(ws), json=body, headers=ADMIN), 422)
        assert word in str(refused["detail"]), (body, refused)
    await _started(gc, ws, {"name": "taken"})
    expect(await gc.delete(gen_url(ws, "taken"), headers=ADMIN), 200)
    await _started(gc, ws, {"name": "taken"})  # a deleted generation's name is free again
    expect(await gc.post(gen_url(ws, "taken", "retire"), headers=ADMIN), 409)  # (still building)
    async with gen_deps.db.write() as conn:
        await conn.execute(tables.generations.update().where(tables.generations.c.workspace_id == k.ws,
                                                             tables.generations.c.state == "building")
                           .values(state="ready"))
    conflict = expect(await gc.post(gen_url(ws), json={"name": "taken"}, headers=ADMIN), 409)
    assert "taken" in conflict["detail"]
    assert len(await states(gen_deps, k.ws)) == 2


async def test_unknown_workspace_is_404(gc: httpx.AsyncClient, fakes: Fakes) -> None:
    ws = new_ws()
    for response in (await gc.post(gen_url(ws), json={}, headers=ADMIN), await gc.get(gen_url(ws), headers=ADMIN),
                     await gc.get(gen_url(ws, "g1"), headers=ADMIN),
                     await gc.post(gen_url(ws, "rollback"), headers=ADMIN)):
        assert response.status_code == 404 and ws in response.json()["detail"]
    # and it was not created on the way
    assert (await gc.get(f"/v3/workspaces/{ws}/generations", headers=ADMIN)).status_code == 404


async def test_without_an_llm_a_rederive_is_refused_with_how_to_configure_one(
        client: httpx.AsyncClient, deps: Deps, fakes: Fakes) -> None:
    """The session's app has no LLM: 400 (never 5xx, which the SDKs retry), naming the settings."""
    ws = new_ws()
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
    refused = expect(await client.post(gen_url(ws), json={"dry_run": True}), 400)
    assert "HONCHO_LLM__PROVIDER" in refused["detail"]
    assert fakes.estimated == [] and fakes.enqueued == []
    assert [g["id"] for g in expect(await client.get(gen_url(ws)), 200)["items"]] == ["g1"]
