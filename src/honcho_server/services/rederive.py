"""Re-derivation (docs/generations.md): the durable jobs that build a generation from the message log.

A rederive is ordinary queued work of kind `rederive`, each job naming its task (`representation`, `summary`,
`dream`) and its generation. The planner replays each session in scope through the live path's own batching
(services/ingest_jobs.plan_jobs), in chunks of at most `MERGE_LIMIT` messages, into the generation's own work
units: a restarted worker resumes where the queue stands, and work of one unit runs in order. Workers claim these
jobs only with capacity left over from live work, a few at a time (worker/runtime.py): live traffic keeps priority.
When the last representation job is done, one dream per collection the generation holds enough of consolidates it
(`settle`); when nothing of it is left open, the generation is `ready`. Every model call of a generation records its
cost; a generation that reaches its cap fails and its queued work is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import LIVE_STATES, Generation
from honcho_server.domain.models import Workspace
from honcho_server.queue import jobs
from honcho_server.queue.jobs import ClaimedJob, NewJob
from honcho_server.services.deps import Deps
from honcho_server.services.ingest_jobs import MERGE_LIMIT, SessionContext, plan_jobs
from honcho_server.store.repos import generation_work as repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import rederive_scope
from honcho_server.store.repos import scopes as scope_repo
from honcho_server.store.repos import sessions as session_repo

log = logging.getLogger("honcho_server.rederive")
KIND = "rederive"


async def enqueue(conn: AsyncConnection, deps: Deps, ws: Workspace, generation: Generation) -> int:
    """Queue, in the caller's transaction, the jobs that derive `generation` from the messages in its scope;
    returns how many were queued (its progress counts them down)."""
    now = deps.now()
    # The scope read the way the estimate reads it (store/repos/rederive_scope.py), so both count the same messages.
    scope = await rederive_scope.resolve(conn, ws.pk, generation.scope)
    senders = await rederive_scope.peer_names(conn, ws.pk)
    in_scope: dict[int, list[rederive_scope.ScopedMessage]] = {}
    for message in await rederive_scope.messages_in(conn, ws.pk, scope):
        in_scope.setdefault(message.session_pk, []).append(message)
    planned: list[NewJob] = []
    for session in await rederive_scope.sessions_in(conn, ws.pk, scope):
        rows = in_scope.get(session.pk)
        target = await session_repo.append_target(conn, ws.name, session.name) if rows else None
        if target is None or not rows:
            continue
        ctx = SessionContext(workspace_pk=ws.pk, session_pk=target.session_pk,
                             workspace_configuration=target.workspace_configuration,
                             session_configuration=target.session_configuration,
                             members={**target.members,
                                      **await scope_repo.observers_of_session(conn, target.session_pk)},
                             generations=[generation])
        for start in range(0, len(rows), MERGE_LIMIT):
            chunk = rows[start:start + MERGE_LIMIT]
            for job in plan_jobs(ctx, [(r.seq, senders[r.sender_pk], None) for r in chunk], deps.defaults_layer(),
                                 {r.seq: r.tokens for r in chunk}):
                if job.kind == "embed" or (job.kind == "summary" and scope.peer is not None):
                    continue  # messages are embedded once for all generations; a peer's rederive keeps summaries
                planned.append(_as_rederive(job, now))
    await jobs.enqueue(conn, deps.db.dialect, planned, now)
    return len(planned)


def _as_rederive(job: NewJob, now: datetime) -> NewJob:
    """A planned live job as rederive work: due now, never merged (each chunk is counted in the progress)."""
    return replace(job, kind=KIND, payload={**job.payload, "task": job.kind}, merge_key=None, merge=None,
                   run_after=now)


async def generation_of(deps: Deps, job: ClaimedJob) -> Generation | None:
    """The generation a rederive job builds; None when it takes no more work (retired, failed, deleted)."""
    async with deps.db.read() as conn:
        found = await generation_repo.by_pk(conn, int(job.payload["generation"]))
    return found if found is not None and found.state in LIVE_STATES else None


async def settle(deps: Deps, generation: Generation, job: ClaimedJob) -> None:
    """After a rederive job: stop at the cost cap, queue the dreams once the representations are done, count the
    progress, and mark the generation ready when nothing of it is left."""
    async with deps.db.write() as conn:
        current = await generation_repo.by_pk(conn, generation.pk)
        if current is None or current.state not in LIVE_STATES:
            return
        if await _over_cap(conn, deps, current):
            return
        progress = dict(current.progress)
        progress.setdefault("total", 0)
        representing = await repo.open_work(conn, deps.db.dialect, current.pk, job.id, "representation")
        if not progress.get("dreams_queued") and not representing:
            progress["total"] += await _queue_dreams(conn, deps, current)
            progress["dreams_queued"] = True
        left = await repo.open_work(conn, deps.db.dialect, current.pk, job.id)
        progress["done"] = max(0, int(progress["total"]) - left)
        ready = left == 0 and current.state == "building"
        await repo.set_progress(conn, current.pk, progress, "ready" if ready else None, deps.now())
    if ready:
        log.info("generation g%d of workspace %d is ready", current.number, current.workspace_pk)


async def _over_cap(conn: AsyncConnection, deps: Deps, generation: Generation) -> bool:
    """Whether the generation's model calls have cost its cap; then it fails and its queued work is dropped."""
    if generation.max_cost_usd is None:
        return False
    spent = await repo.cost(conn, generation.pk)
    if spent < generation.max_cost_usd:
        return False
    dropped = await jobs.cancel_generation(conn, deps.db.dialect, generation.pk)
    reason = f"cost cap reached: ${spent:.4f} spent of ${generation.max_cost_usd:.4f}; {dropped} job(s) dropped"
    await repo.fail(conn, generation.pk, reason, deps.now())
    log.warning("generation g%d of workspace %d stopped: %s", generation.number, generation.workspace_pk, reason)
    return True


async def _queue_dreams(conn: AsyncConnection, deps: Deps, generation: Generation) -> int:
    """One consolidation per collection of the generation with at least the dream threshold of explicit
    conclusions (what would have called for one live); once (a dedupe key per collection). Returns how many."""
    if not (deps.settings.llm.enabled and deps.settings.defaults.dream_enabled):
        return 0
    planned = []
    for observer, observed in await repo.collections_with(conn, generation.pk, deps.settings.dream.threshold,
                                                           generation.scope.get("peer")):
        unit = jobs.in_generation(jobs.dream_unit(generation.workspace_pk, observer, observed), generation)
        planned.append(NewJob(kind=KIND, work_unit_key=unit, dedupe_key=f"{unit}:rederive",
                              workspace_pk=generation.workspace_pk, observed=observed, observers=[observer],
                              payload=_dream_payload(observer, observed, generation.pk)))
    await jobs.enqueue(conn, deps.db.dialect, planned, deps.now())
    return len(planned)


def _dream_payload(observer: str, observed: str, generation_pk: int) -> dict[str, Any]:
    return {"task": "dream", "observer": observer, "observed": observed, "dream_type": "omni", "session": None,
            "rebuild": False, "generation": generation_pk}
