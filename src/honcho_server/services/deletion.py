"""Hard deletion of sessions and workspaces, in bounded batches so no transaction grows unbounded."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain import webhooks as events
from honcho_server.domain.receipts import Receipt
from honcho_server.services import cascade, webhooks
from honcho_server.services.deps import Deps
from honcho_server.store.repos import cascade as cascade_repo
from honcho_server.store.repos import purge

BATCH = 5000
log = logging.getLogger("honcho_server.deletion")


async def purge_session(deps: Deps, session_pk: int, *, uid: str | None = None, workspace_pk: int | None = None,
                        job_id: int | None = None, cascade_to_memory: bool = True) -> Receipt:
    """Delete a session and everything under it (messages, summaries, memberships, jobs, its conclusions).

    With `cascade_to_memory` (services/cascade.py) conclusions elsewhere that rested on the session are removed
    or re-pointed first, in one transaction; then its messages go in batches; then a last cascade pass (for
    anything derived from the session meanwhile) and the session row, in one transaction. The receipt is returned
    and, with `job_id`, kept in that job's payload (`receipt`) as each step commits, so a purge that runs twice
    (a retried job) ends with the whole receipt: steps already done find nothing left to do.

    Each step first checks that row `session_pk` is still that session (`uid`, `workspace_pk`; see
    purge.session_is): once it is gone, a later step, a retry or another purge of it does nothing, even where the
    database has given its id to a new session since."""
    receipt = Receipt()
    if job_id is not None:
        async with deps.db.read() as conn:
            previous = await cascade_repo.job_receipt(conn, job_id)
        if previous:
            receipt = Receipt.from_dict(previous)
    if cascade_to_memory:
        async with deps.db.write() as conn:
            if not await purge.session_is(conn, session_pk, uid, workspace_pk):
                return receipt
            await _settle(conn, deps, session_pk, job_id, receipt)
    while True:
        async with deps.db.write() as conn:
            if not await purge.session_is(conn, session_pk, uid, workspace_pk):
                return receipt
            removed = await purge.delete_session_messages(conn, session_pk, BATCH)
            receipt.messages_purged += removed
            if removed:
                if job_id is not None:
                    await cascade_repo.record_receipt(conn, job_id, receipt.as_dict())
                continue
            if cascade_to_memory:
                await _settle(conn, deps, session_pk, None, receipt)
                if (workspace_pk := await purge.workspace_of(conn, session_pk)) is not None:
                    # Said before the row goes (its name is read from it), committed with it.
                    await webhooks.emit_about(conn, deps.db.dialect, deps.now(), workspace_pk, session_pk,
                                              events.DELETION_FINISHED, {"receipt": receipt.as_dict()})
            await purge.delete_session(conn, session_pk)
            if job_id is not None:
                await cascade_repo.record_receipt(conn, job_id, receipt.as_dict())
        break
    if cascade_to_memory and receipt.deleted is not None:
        log.info("purged session %s: %s", receipt.deleted["id"], receipt.header())
    return receipt


async def _settle(conn: AsyncConnection, deps: Deps, session_pk: int, job_id: int | None, receipt: Receipt) -> None:
    step = await cascade.settle_session(conn, deps, session_pk)
    if step is not None:
        receipt.merge(step)
        if job_id is not None:
            await cascade_repo.record_receipt(conn, job_id, receipt.as_dict())


async def purge_workspace(deps: Deps, workspace_pk: int, uid: str | None = None) -> None:
    """Delete a workspace and everything in it (no cascade: nothing outside it can rest on it); nothing when row
    `workspace_pk` is no longer that workspace (`uid`; see purge.session_is)."""
    async with deps.db.read() as conn:
        if not await purge.workspace_is(conn, workspace_pk, uid):
            return
        sessions = await purge.session_keys(conn, workspace_pk)
    for pk, session_uid in sessions:
        await purge_session(deps, pk, uid=session_uid, workspace_pk=workspace_pk, cascade_to_memory=False)
    async with deps.db.write() as conn:
        if await purge.workspace_is(conn, workspace_pk, uid):
            await purge.delete_workspace(conn, workspace_pk)
