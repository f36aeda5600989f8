"""Helpers of the generations suite: fakes of the functions other increments provide (the rederive jobs, the
estimate, the copy of the memory outside a scope), and rows written straight into a generation (conclusions,
cards, summaries, model calls, jobs), as the worker will once it derives into building generations."""

from __future__ import annotations

import asyncio
import importlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import bearer, expect, sign
from sqlalchemy import insert, select, update

from honcho_server.domain.conclusions import fingerprint
from honcho_server.domain.generations import Estimate, Generation, PromptOverhead, TaskEstimate
from honcho_server.queue import jobs
from honcho_server.reasoning import prompts
from honcho_server.services import rederive
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.migrate import upgrade
from honcho_server.store.repos import generations as repo
from support import fresh_database_url, new_deps

ADMIN = bearer(sign(ad=True))


def priced(deriver: float | None = 0.05) -> Estimate:
    """An estimate of 0.065 USD (deriver 0.05, summary 0.01, dream 0.005); `deriver=None`: its price unknown."""
    return Estimate(sessions=2, messages=40, output_ratio=0.25, tasks=[
        TaskEstimate("deriver", "openai", "gpt-4o-mini", 10, 10_000, 2_500, deriver),
        TaskEstimate("summary", "openai", "gpt-4o-mini", 2, 3_000, 500, 0.01),
        TaskEstimate("dream", "openai", "gpt-4o-mini", 1, 2_000, 400, 0.005)])


@dataclass
class Fakes:
    """What the faked functions were called with, and what they answer."""

    estimate: Estimate = field(default_factory=priced)
    jobs: int = 3
    estimated: list[dict[str, Any]] = field(default_factory=list)  # scope, recipe, overhead of each estimate
    enqueued: list[tuple[int, Generation]] = field(default_factory=list)  # (workspace pk, generation)
    copied: list[tuple[int, int, int, dict[str, Any]]] = field(default_factory=list)
    # Runs inside enqueue's transaction (a test can finish or fail the generation there).
    on_enqueue: Callable[[Any, Generation], Awaitable[None]] | None = None


def _install(monkeypatch: pytest.MonkeyPatch, module: str, name: str, value: Any) -> None:
    monkeypatch.setattr(importlib.import_module(module), name, value)


def install_fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    fakes = Fakes()

    async def enqueue(conn: Any, deps: Deps, ws: Any, generation: Generation) -> int:
        fakes.enqueued.append((ws.pk, generation))
        if fakes.on_enqueue is not None:
            await fakes.on_enqueue(conn, generation)
        return fakes.jobs

    async def estimate(conn: Any, deps: Deps, ws: Any, scope: dict[str, Any], recipe: dict[str, Any],
                       overhead: PromptOverhead) -> Estimate:
        fakes.estimated.append({"scope": scope, "recipe": recipe, "overhead": overhead})
        return fakes.estimate

    async def copy_outside_scope(conn: Any, workspace_pk: int, source_pk: int, target_pk: int,
                                 scope: dict[str, Any]) -> dict[str, int]:
        fakes.copied.append((workspace_pk, source_pk, target_pk, scope))
        return {"conclusions": 0, "summaries": 0, "peer_cards": 0}

    monkeypatch.setattr(rederive, "enqueue", enqueue)
    _install(monkeypatch, "honcho_server.services.generation_estimate", "estimate", estimate)
    _install(monkeypatch, "honcho_server.store.repos.generation_copy", "copy_outside_scope", copy_outside_scope)
    if not hasattr(prompts, "overhead"):  # reasoning/prompts.py's overhead() lands with the estimate
        monkeypatch.setattr(prompts, "overhead", lambda: PromptOverhead(deriver=900, summary=300, dream=700),
                            raising=False)
    return fakes


def new_ws() -> str:
    return f"gen-{uuid.uuid4().hex[:12]}"


def gen_url(ws: str, *parts: str) -> str:
    return "/".join([f"/v3/workspaces/{ws}/generations", *parts])


async def make_world(c: httpx.AsyncClient, ws: str) -> None:
    """Peers alice, bob and carol; session s1 (alice, bob) and s2 (bob)."""
    expect(await c.post("/v3/workspaces", json={"id": ws}, headers=ADMIN), 201)
    expect(await c.post(f"/v3/workspaces/{ws}/peers", json={"id": "carol"}, headers=ADMIN), 201)
    for session, members in (("s1", ["alice", "bob"]), ("s2", ["bob"])):
        expect(await c.post(f"/v3/workspaces/{ws}/sessions", json={"id": session, "peers": {p: {} for p in members}},
                            headers=ADMIN), 201)


@dataclass(frozen=True)
class Keys:
    """Primary keys of a world's workspace, peers and sessions, by name."""

    ws: int
    peers: dict[str, int]
    sessions: dict[str, int]
    active: int


async def keys(deps: Deps, ws: str) -> Keys:
    async with deps.db.read() as conn:
        w = (await conn.execute(select(tables.workspaces.c.id).where(tables.workspaces.c.name == ws))).scalar_one()
        peers = {r.name: r.id for r in await conn.execute(
            select(tables.peers.c.name, tables.peers.c.id).where(tables.peers.c.workspace_id == w))}
        sessions = {r.name: r.id for r in await conn.execute(
            select(tables.sessions.c.name, tables.sessions.c.id).where(tables.sessions.c.workspace_id == w))}
        active = (await conn.execute(select(repo.active(w)))).scalar_one()
    return Keys(w, peers, sessions, active)


async def add_generation(deps: Deps, workspace_pk: int, state: str = "ready", name: str | None = None,
                         error: str | None = None) -> Generation:
    """A generation in `state`, as if built (or failing) already."""
    async with deps.db.write() as conn:
        made = await repo.create(conn, workspace_pk, number=await repo.next_number(conn, workspace_pk), name=name,
                                 recipe={"tasks": {}}, fingerprint="f" * 64, scope={}, started_by="test",
                                 estimate=None, max_cost_usd=None, now=deps.now())
        await conn.execute(update(tables.generations).where(tables.generations.c.id == made.pk)
                           .values(state=state, error=error, progress={"total": 4, "done": 4 if state != "building"
                                                                        else 1}))
        found = await repo.by_pk(conn, made.pk)
    assert found is not None
    return found


def vector(*values: float, size: int = 8) -> bytes:
    """A stored embedding: float32, little-endian, unit length."""
    v = np.zeros(size, dtype="<f4")
    v[:len(values)] = values
    return (v / np.linalg.norm(v)).astype("<f4").tobytes()


async def put_conclusion(deps: Deps, k: Keys, generation_pk: int, observer: str, observed: str, content: str, *,
                         level: str = "explicit", embedding: bytes | None = None,
                         superseded: bool = False) -> str:
    uid = uuid.uuid4().hex[:21]
    now = deps.now()
    async with deps.db.write() as conn:
        await conn.execute(insert(tables.conclusions).values(
            uid=uid, workspace_id=k.ws, generation_id=generation_pk, observer_id=k.peers[observer],
            observed_id=k.peers[observed], session_id=None, level=level, content=content,
            fingerprint=fingerprint(content), times_derived=1, observed_at=now, metadata={}, embedding=embedding,
            superseded_by="x" * 21 if superseded else None, created_at=now))
    return uid


async def put_card(deps: Deps, k: Keys, generation_pk: int, observer: str, observed: str, entries: list[str]) -> None:
    async with deps.db.write() as conn:
        await conn.execute(insert(tables.peer_cards).values(
            workspace_id=k.ws, generation_id=generation_pk, observer_id=k.peers[observer],
            observed_id=k.peers[observed], entries=entries, updated_at=deps.now()))


async def put_summary(deps: Deps, k: Keys, generation_pk: int, session: str, kind: str, content: str,
                      last_seq: int) -> None:
    async with deps.db.write() as conn:
        await conn.execute(insert(tables.summaries).values(
            workspace_id=k.ws, session_id=k.sessions[session], generation_id=generation_pk, kind=kind,
            content=content, last_seq=last_seq, message_uid="m" * 21, token_count=len(content.split()),
            created_at=deps.now()))


async def put_llm_call(deps: Deps, k: Keys, generation_pk: int | None, inp: int, out: int,
                       cost: float | None) -> None:
    async with deps.db.write() as conn:
        await conn.execute(insert(tables.llm_calls).values(
            workspace_id=k.ws, generation_id=generation_pk, task="deriver", provider="openai", model="gpt-4o-mini",
            input_tokens=inp, output_tokens=out, requests=1, latency_ms=10.0, cost_usd=cost, ok=True,
            created_at=deps.now()))


async def put_job(deps: Deps, k: Keys, generation_pk: int) -> None:
    """A pending job deriving into the generation (its payload names it, as the rederive jobs' do)."""
    async with deps.db.write() as conn:
        await jobs.enqueue(conn, deps.db.dialect, [jobs.NewJob(
            kind="summary", work_unit_key=f"g{generation_pk}:{uuid.uuid4().hex}", workspace_pk=k.ws,
            payload={"generation": generation_pk})], deps.now())


async def count(deps: Deps, table: Any, **where: Any) -> int:
    async with deps.db.read() as conn:
        query = select(table).where(*[table.c[name] == value for name, value in where.items()])
        return len((await conn.execute(query)).all())


async def pending_jobs(deps: Deps, generation_pk: int) -> int:
    async with deps.db.read() as conn:
        rows = (await conn.execute(select(tables.jobs.c.payload).where(tables.jobs.c.status == "pending"))).all()
    return sum(1 for (payload,) in rows if (payload or {}).get("generation") == generation_pk)


async def states(deps: Deps, workspace_pk: int) -> dict[str, str]:
    """Public id -> state of every generation of the workspace."""
    async with deps.db.read() as conn:
        return {g.public_id: g.state for g in await repo.list_all(conn, workspace_pk)}


def with_deps(url: str, use: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `use(deps)` on the database at `url` (settings from the environment, as a command reads them) in an event
    loop of its own, for the command-line tests (typer runs each command's own loop)."""
    async def run() -> Any:
        deps = new_deps(url)
        try:
            return await use(deps)
        finally:
            await deps.aclose()

    return asyncio.run(run())


def command_database(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> str:
    """A migrated database of its own, in `tmp_path` (the working directory), and the settings a command reads
    from the environment: `settings` as HONCHO_<name> variables, nothing else of the caller's environment."""
    for name in list(os.environ):
        if name.startswith("HONCHO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    found = fresh_database_url(backend, tmp_path)
    upgrade(found)
    for name, value in settings.items():
        monkeypatch.setenv(f"HONCHO_{name}", value)
    return found
