"""Webhook events about background work, written in the transaction that finishes or parks a job:
`queue.empty` (spec 14.1: a representation or summary work unit has drained) and `job.failed` (a job was parked
after its last attempt; deliveries of webhooks themselves excepted, so a failing receiver cannot feed itself)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain import webhooks as events
from honcho_server.queue import jobs
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.services import webhooks
from honcho_server.services.deps import Deps
from honcho_server.store.repos import webhooks as webhook_repo

DRAINING_KINDS = ("representation", "summary")


async def completed(conn: AsyncConnection, deps: Deps, job: ClaimedJob) -> None:
    """After `job` is marked done: `queue.empty` when it was the last open job of its work unit."""
    if job.kind not in DRAINING_KINDS or job.workspace_pk is None:
        return
    if not (targets := await webhook_repo.of_workspace(conn, job.workspace_pk)):
        return  # nobody listens: no further reads
    if await jobs.unit_is_open(conn, job.work_unit_key, besides=job.id):
        return
    observed = await jobs.observed_of(conn, job.id) if job.kind == "representation" else None
    await webhooks.emit_about(conn, deps.db.dialect, deps.now(), job.workspace_pk, job.session_pk,
                              events.QUEUE_EMPTY, {"queue_type": job.kind, "observer": None, "observed": observed},
                              targets=targets)


async def parked(conn: AsyncConnection, deps: Deps, job: ClaimedJob, error: str) -> None:
    """After `job` is parked as failed: `job.failed`."""
    if job.kind == webhooks.KIND or job.workspace_pk is None:
        return
    await webhooks.emit_about(conn, deps.db.dialect, deps.now(), job.workspace_pk, job.session_pk,
                              events.JOB_FAILED, {"job_kind": job.kind, "attempts": job.attempts,
                                                  "error": error[:1000]})
