"""The /v3 extensions of the memory explorer (api/routes/explorer.py): a conclusion's provenance, failed jobs and
their redrive, LLM usage per day. On both databases; who may call them is in the authorization matrix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from api_helpers import expect

from explorer_world import JOB_ERROR, LISBON, PORTO, TEA, build
from honcho_server.services.deps import Deps


async def test_provenance_names_sources_premises_and_supersession(client: httpx.AsyncClient, deps: Deps,
                                                                  ws: str) -> None:
    world = await build(client, deps, ws)
    c, m = world.conclusions, world.messages
    url = f"/v3/workspaces/{ws}/conclusions/{{}}/provenance"

    porto = expect(await client.get(url.format(c["porto"])), 200)
    assert porto["conclusion"]["content"] == "Alice lives in Porto"
    assert porto["conclusion"]["superseded_by"] is None
    assert [s["id"] for s in porto["sources"]] == [m[LISBON], m[PORTO]]  # conversation order
    assert {s["session_id"] for s in porto["sources"]} == {"s1"} and porto["sources"][1]["content"] == PORTO
    assert [x["id"] for x in porto["supersedes"]] == [c["lisbon"]]
    assert porto["supersedes"][0]["superseded_by"] == c["porto"] and porto["supersedes"][0]["superseded_at"]
    assert [x["id"] for x in porto["cited_by"]] == [c["clash"]]
    assert porto["replaced_by"] is None and porto["premises"] == []

    lisbon = expect(await client.get(url.format(c["lisbon"])), 200)
    assert lisbon["conclusion"]["superseded_by"] == c["porto"]
    assert lisbon["replaced_by"]["id"] == c["porto"] and lisbon["replaced_by"]["superseded_by"] is None

    routine = expect(await client.get(url.format(c["routine"])), 200)
    assert routine["conclusion"]["level"] == "deductive" and routine["sources"] == []
    assert [p["id"] for p in routine["premises"]] == [c["tea"]]
    assert routine["premises"][0]["times_derived"] == 3

    clash = expect(await client.get(url.format(c["clash"])), 200)
    assert [p["id"] for p in clash["premises"]] == [c["lisbon"], c["porto"]]  # superseded ones included
    assert [s["id"] for s in expect(await client.get(url.format(c["tea"])), 200)["sources"]] == [m[TEA]]

    missing = await client.get(url.format("no-such-conclusion"))
    assert missing.status_code == 404 and "no-such-conclusion" in missing.json()["detail"]
    assert (await client.get(f"/v3/workspaces/{ws}-none/conclusions/{c['tea']}/provenance")).status_code == 404


async def test_failed_jobs_are_listed_and_redriven(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    await build(client, deps, ws)
    failed = expect(await client.get(f"/v3/workspaces/{ws}/queue/failed"), 200)
    assert [(j["kind"], j["attempts"], j["error"]) for j in failed] == [("summary", 3, JOB_ERROR)]
    assert expect(await client.get(f"/v3/workspaces/{ws}/queue/status"), 200)["failed_work_units"] == 1
    assert expect(await client.post(f"/v3/workspaces/{ws}/queue/redrive"), 200) == {"requeued": 1}
    assert expect(await client.get(f"/v3/workspaces/{ws}/queue/failed"), 200) == []
    status = expect(await client.get(f"/v3/workspaces/{ws}/queue/status"), 200)
    assert status["failed_work_units"] == 0 and status["pending_work_units"] >= 1
    assert expect(await client.post(f"/v3/workspaces/{ws}/queue/redrive"), 200) == {"requeued": 0}
    assert (await client.get("/v3/workspaces/no-such-ws/queue/failed")).status_code == 404


async def test_usage_per_day_adds_up_each_day_and_task(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    world = await build(client, deps, ws)
    rows = expect(await client.get(f"/v3/workspaces/{ws}/usage/daily"), 200)
    assert [(r["day"], r["task"]) for r in rows] == [(d, t) for d in world.usage_days
                                                     for t in ("deriver", "dialectic_low")]
    assert [r["input_tokens"] for r in rows[::2]] == [3000, 2000, 1000]
    assert [round(r["cost_usd"], 6) for r in rows[::2]] == [0.012, 0.03, 0.021]
    assert all(r["calls"] == 1 and r["failed_calls"] == 0 and r["output_tokens"] == 200 for r in rows)

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = (today - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")  # naive: UTC
    recent = expect(await client.get(f"/v3/workspaces/{ws}/usage/daily", params={"since": since}), 200)
    assert {r["day"] for r in recent} == set(world.usage_days[1:])
    bad = await client.get(f"/v3/workspaces/{ws}/usage/daily", params={"since": "2026-01-02", "until": "2026-01-01"})
    assert bad.status_code == 422 and "before" in bad.text
    too_long = await client.get(f"/v3/workspaces/{ws}/usage/daily", params={"since": "2024-01-01"})
    assert too_long.status_code == 422 and "366 days" in too_long.text


async def test_the_pages_are_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    """/ui/ serves the explorer's files (no key needed: they hold no data), confined to scripts of this server; every
    module they import is there."""
    page = await client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        script = await client.get(f"/ui/{name}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"], name
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        for target in re.findall(r'from "\./([^"]+)"|from "\.\./([^"]+)"', script.text):
            found = folder + target[0] if target[0] else target[1]
            if found not in seen:
                pending.append(found)
    assert {"app.js", "api.js", "dom.js", "pages/peer.js", "pages/chart.js"} <= seen
    assert (await client.get("/ui/style.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/ui/missing.js")).status_code == 404
    bare = await client.get("/ui")  # the address the README gives
    assert bare.status_code == 307 and bare.headers["location"].endswith("/ui/")
