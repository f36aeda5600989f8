"""A small world for the memory explorer's tests: messages through the API, then, straight into the database, what
only the worker would write (conclusions with sources, premises and a supersession, a summary, a failed job, LLM
usage rows on three days)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from honcho_server.domain.conclusions import NewConclusion
from honcho_server.domain.llm import LLMCall
from honcho_server.domain.models import SessionSummary
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store import tables
from honcho_server.store.repos import conclusions, llm_calls, peers, sessions, summaries, workspaces

LISBON = "I moved to Lisbon last spring."
TEA = "I drink green tea every morning."
PORTO = "Actually I moved to Porto, not Lisbon."
FILLERS = 21  # bob's short replies: 25 messages in all, two pages of 20
SUMMARY = "Alice talked about moving (Lisbon, then Porto) and her morning tea."
CARD = ["Name: Alice", "Lives in Porto"]
JOB_ERROR = "LLM provider answered 500: scripted failure (the explorer's seeded job)"


@dataclass
class World:
    ws: str
    session: str = "s1"
    messages: dict[str, str] = field(default_factory=dict)  # content -> id, for the four named ones
    conclusions: dict[str, str] = field(default_factory=dict)  # name -> id
    usage_days: list[str] = field(default_factory=list)


async def _api(client: httpx.AsyncClient, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None) -> Any:
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json() if response.content else None


async def build(client: httpx.AsyncClient, deps: Deps, ws: str, headers: dict[str, str] | None = None) -> World:
    """The world in workspace `ws`, written through `client` (an admin's, or auth off) and `deps` (same database)."""
    world = World(ws)
    base = f"/v3/workspaces/{ws}"
    await _api(client, "POST", "/v3/workspaces", {"id": ws}, headers)
    await _api(client, "POST", f"{base}/sessions", {"id": world.session, "peers": {"alice": {}, "bob": {}}}, headers)
    said = [("alice", LISBON), ("bob", "Welcome! How is Lisbon?"), ("alice", TEA), ("alice", PORTO)]
    said += [("bob", f"filler reply {n}") for n in range(FILLERS)]
    created = await _api(client, "POST", f"{base}/sessions/{world.session}/messages",
                         {"messages": [{"peer_id": p, "content": c} for p, c in said]}, headers)
    world.messages = {m["content"]: m["id"] for m in created[:4]}
    await _api(client, "PUT", f"{base}/peers/alice/card", {"peer_card": CARD}, headers)
    await _store(deps, world)
    return world


async def _store(deps: Deps, world: World) -> None:
    now = datetime.now(UTC)
    m = world.messages
    texts = ["Alice lives in Lisbon", "Alice drinks green tea every morning", "Alice lives in Porto",
             "Alice keeps a morning routine", "Alice said she lives in Lisbon and also in Porto"]
    vectors = dict(zip(texts, await conclusion_blobs(deps.embedder, texts), strict=True))  # as the deriver stores
    async with deps.db.write() as conn:
        ws = await workspaces.find(conn, world.ws)
        assert ws is not None
        alice = (await peers.find(conn, ws.pk, "alice", ws.name)).pk  # type: ignore[union-attr]
        session = await sessions.find(conn, ws.pk, world.session, ws.name)
        assert session is not None

        def about_alice(content: str, level: str = "explicit", **kw: Any) -> NewConclusion:
            return NewConclusion(observer_pk=alice, observed_pk=alice, session_pk=session.pk, content=content,
                                 observed_at=now, level=level, embedding=vectors[content], **kw)

        lisbon, tea, porto = await conclusions.insert(conn, ws.pk, ws.generation_pk, [
            about_alice("Alice lives in Lisbon", message_ids=(m[LISBON],)),
            about_alice("Alice drinks green tea every morning", message_ids=(m[TEA],), times_derived=3),
            about_alice("Alice lives in Porto", message_ids=(m[LISBON], m[PORTO]))], now)
        routine, clash = await conclusions.insert(conn, ws.pk, ws.generation_pk, [
            about_alice("Alice keeps a morning routine", "deductive", source_ids=(tea,)),
            about_alice("Alice said she lives in Lisbon and also in Porto", "contradiction",
                        source_ids=(lisbon, porto))], now)
        await conclusions.supersede(conn, [(await conclusions.get(conn, ws, lisbon)).pk],  # type: ignore[union-attr]
                                    porto, now)
        world.conclusions = {"lisbon": lisbon, "tea": tea, "porto": porto, "routine": routine, "clash": clash}
        await summaries.add(conn, deps.db.dialect, ws.pk, ws.generation_pk, session.pk, SessionSummary(
            kind="long", content=SUMMARY, last_seq=4, message_uid=m[PORTO], token_count=15,
            created_at=now))
        await conn.execute(tables.jobs.insert().values(
            kind="summary", work_unit_key=f"summary:{session.pk}", payload={"seq": 4, "summary_types": ["long"]},
            workspace_id=ws.pk, session_id=session.pk, status="failed", attempts=3, run_after=now,
            last_error=JOB_ERROR, created_at=now, updated_at=now))
        for days_ago, cost in ((2, 0.012), (1, 0.03), (0, 0.021)):
            for task in ("deriver", "dialectic_low"):
                await llm_calls.add(conn, LLMCall(task=task, provider="openai", model="gpt-4.1-mini",
                                                  input_tokens=1000 * (days_ago + 1), output_tokens=200, requests=1,
                                                  latency_ms=420.0, cost_usd=cost, ok=True, error=None,
                                                  workspace_pk=ws.pk), now - timedelta(days=days_ago))
        world.usage_days = [(now - timedelta(days=d)).strftime("%Y-%m-%d") for d in (2, 1, 0)]
