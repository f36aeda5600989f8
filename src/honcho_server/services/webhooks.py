"""Webhooks (spec 10.B, 14): a workspace's endpoints, events written in the transaction that caused them, and
their delivery by the worker.

* `emit` is called inside the caller's write transaction: one delivery row per endpoint and one job each, so an
  event exists exactly when what it reports was committed (nothing is lost, nothing is announced that rolled
  back). A workspace without endpoints costs one small SELECT.
* `deliver` (the `webhook` job) posts the signed body (domain/webhooks.py) to the endpoint's checked address
  (services/outbound.py), records the attempt in the delivery log, and raises on failure: the queue retries with
  backoff, parks the job as `failed` after `worker.max_attempts` (the delivery then says `failed`), and
  `honcho-server redrive` sends it again. Each attempt carries the same `webhook-id`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server import __version__
from honcho_server.domain import webhooks as events
from honcho_server.domain.ids import new_id
from honcho_server.domain.models import Page
from honcho_server.errors import Conflict, NotFound
from honcho_server.queue import jobs
from honcho_server.queue.jobs import ClaimedJob, NewJob
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.services.outbound import Unsafe, check_url, resolve_public
from honcho_server.store.dialect import Dialect
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import webhooks as repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.repos.webhooks import Delivery, Endpoint

KIND = "webhook"


class DeliveryFailed(Exception):
    """An attempt did not reach a 2xx answer (retried by the queue)."""


async def create(deps: Deps, workspace: str, url: str) -> tuple[Endpoint, bool]:
    """The workspace's endpoint for `url` (an existing one is returned unchanged); the flag says whether it was
    created. 404 for a missing workspace, 422 for a URL that may not be called, 409 at the limit."""
    checked = check_url(url, deps.settings.webhooks.allow_private)
    limit = deps.settings.webhooks.max_endpoints
    async with deps.db.write() as conn:
        ws = await workspaces.require(conn, workspace)
        if (found := await repo.find_by_url(conn, ws.pk, checked)) is not None:
            return found, False
        if await repo.count(conn, ws.pk) >= limit:
            raise Conflict(f"Maximum number of webhook endpoints ({limit}) reached for this workspace.")
        return await repo.add(conn, ws.pk, checked, events.new_secret(), deps.now()), True


async def endpoints(deps: Deps, workspace: str, page: int, size: int) -> Page[Endpoint]:
    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace)
        return await repo.page(conn, ws.pk, page, size)


async def _endpoint(conn: AsyncConnection, workspace: str, uid: str) -> Endpoint:
    ws = await workspaces.require(conn, workspace)
    found = await repo.find(conn, ws.pk, uid)
    if found is None:
        raise NotFound(f"Webhook endpoint {uid} not found in workspace {workspace}")
    return found


async def remove(deps: Deps, workspace: str, uid: str) -> None:
    """Delete the endpoint and its delivery log; its pending deliveries find nothing to send."""
    async with deps.db.write() as conn:
        await repo.remove(conn, (await _endpoint(conn, workspace, uid)).pk)


async def deliveries(deps: Deps, workspace: str, uid: str, page: int, size: int) -> Page[Delivery]:
    async with deps.db.read() as conn:
        return await repo.deliveries(conn, (await _endpoint(conn, workspace, uid)).pk, page, size)


async def send_test(deps: Deps, workspace: str) -> int:
    """A `test.event` to every endpoint of the workspace; how many deliveries were queued."""
    async with deps.db.write() as conn:
        ws = await workspaces.require(conn, workspace)
        return await emit(conn, deps.db.dialect, deps.now(), ws.pk, events.TEST, {"workspace_id": ws.name})


async def emit(conn: AsyncConnection, dialect: Dialect, now: datetime, workspace_pk: int, event_type: str,
               data: dict[str, Any]) -> int:
    """Queue `event_type` for every endpoint of the workspace, in the caller's transaction; how many."""
    return await _queue(conn, dialect, now, workspace_pk, await repo.of_workspace(conn, workspace_pk), event_type,
                        data)


async def emit_about(conn: AsyncConnection, dialect: Dialect, now: datetime, workspace_pk: int,
                     session_pk: int | None, event_type: str, data: dict[str, Any], *,
                     targets: list[Endpoint] | None = None) -> int:
    """`emit` with `workspace_id` and `session_id` (public names) added to `data`, looked up only when the
    workspace has endpoints (events about background work know their rows' keys, not their names). `targets`:
    the workspace's endpoints when the caller has just read them."""
    targets = await repo.of_workspace(conn, workspace_pk) if targets is None else targets
    if not targets:
        return 0
    workspace = await workspace_repo.find_by_pk(conn, workspace_pk)
    session = await session_repo.name_of(conn, session_pk) if session_pk is not None else None
    named = {"workspace_id": workspace.name if workspace else None, "session_id": session, **data}
    return await _queue(conn, dialect, now, workspace_pk, targets, event_type, named)


async def _queue(conn: AsyncConnection, dialect: Dialect, now: datetime, workspace_pk: int, targets: list[Endpoint],
                 event_type: str, data: dict[str, Any]) -> int:
    """One delivery row and one job per endpoint in `targets`; how many."""
    if not targets:
        return 0
    body = events.envelope(event_type, data, now)
    uids = [new_id() for _ in targets]
    rows = [{"uid": uid, "endpoint_id": t.pk, "event_type": event_type, "body": body, "created_at": now}
            for uid, t in zip(uids, targets, strict=True)]
    pks = await repo.add_deliveries(conn, rows)
    await jobs.enqueue(conn, dialect, [
        NewJob(kind=KIND, work_unit_key=f"{KIND}:{uid}", payload={"delivery_pk": pk}, workspace_pk=workspace_pk)
        for uid, pk in zip(uids, pks, strict=True)], now)
    return len(pks)


def _headers(deps: Deps, delivery: Delivery, endpoint: Endpoint, at: datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    headers = {"content-type": "application/json", "user-agent": f"honcho-server/{__version__}",
               "webhook-id": delivery.uid, "webhook-timestamp": str(timestamp),
               "webhook-signature": events.signature(endpoint.secret, delivery.uid, timestamp, delivery.body)}
    legacy = deps.settings.webhooks.legacy_secret
    if legacy is not None and legacy.get_secret_value():
        headers["x-honcho-signature"] = events.legacy_signature(legacy.get_secret_value(), delivery.body)
    return headers


async def _post(deps: Deps, delivery: Delivery, endpoint: Endpoint) -> tuple[int | None, str | None]:
    """One attempt: (HTTP status, None) on a 2xx, else (status or None, what went wrong)."""
    settings = deps.settings.webhooks
    try:
        target = await resolve_public(endpoint.url, settings.allow_private)
    except Unsafe as exc:
        return None, str(exc)
    headers = {**_headers(deps, delivery, endpoint, deps.now()), "host": target.host}
    extensions = {"sni_hostname": target.server_name} if target.server_name else {}
    try:
        async with httpx.AsyncClient(timeout=settings.timeout_seconds, follow_redirects=False,
                                     trust_env=False) as client:
            response = await client.post(target.url, content=delivery.body.encode(), headers=headers,
                                         extensions=extensions)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    code = response.status_code
    if 200 <= code < 300:
        return code, None
    return code, f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")


async def deliver(deps: Deps, job: ClaimedJob) -> None:
    """The `webhook` job: one attempt at one delivery (see the module docstring)."""
    async with deps.db.read() as conn:
        found = await repo.delivery(conn, int(job.payload["delivery_pk"]))
    if found is None or found[0].status == "delivered":
        return  # the endpoint was deleted, or a redriven job finds it already delivered
    delivery, endpoint = found
    started = time.perf_counter()
    code, error = await _post(deps, delivery, endpoint)
    last = job.attempts >= deps.settings.worker.max_attempts
    status = "delivered" if error is None else "failed" if last else "pending"
    async with deps.db.write() as conn:
        await repo.record_attempt(conn, delivery.pk, status, code, error, deps.now())
    if error is not None:
        raise DeliveryFailed(f"{endpoint.url}: {error} after {(time.perf_counter() - started) * 1000:.0f} ms")
