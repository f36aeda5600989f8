"""The jobs of scope membership changes (services/scopes.py): the backfill of a joining session's earlier
conclusions, and the removal of what a scope holds from a session that left. Both are idempotent."""

from __future__ import annotations

import logging

from honcho_server.domain.conclusions import NewConclusion
from honcho_server.domain.receipts import Receipt
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.services import cascade
from honcho_server.services.deps import Deps
from honcho_server.store.repos import cascade as cascade_repo
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import scopes as repo

log = logging.getLogger("honcho_server.scopes")


async def run_backfill(deps: Deps, job: ClaimedJob) -> None:
    """Copy the session's explicit conclusions into the scope, in every generation still derived into (exact
    duplicates are not copied twice, so a re-run copies nothing new). Nothing to do when the session has left
    the scope meanwhile."""
    scope_pk, session_pk = int(job.payload["scope_pk"]), int(job.payload["session_pk"])
    async with deps.db.write() as conn:
        scope = await repo.by_pk(conn, scope_pk)
        if scope is None or not await repo.is_active_member(conn, scope_pk, session_pk):
            return
        copied = 0
        for generation in await generation_repo.live(conn, scope.workspace_pk):
            sources = await repo.explicit_of_session(conn, generation.pk, session_pk)
            for observed_pk in dict.fromkeys(s.observed_pk for s in sources):
                mine = [s for s in sources if s.observed_pk == observed_pk]
                there = await conclusion_repo.exact_twins(conn, generation.pk, scope.peer_pk, observed_pk, "explicit",
                                                          session_pk, [s.fingerprint for s in mine])
                fresh = list({s.fingerprint: s for s in reversed(mine) if s.fingerprint not in there}.values())[::-1]
                await conclusion_repo.insert(conn, scope.workspace_pk, generation.pk, [NewConclusion(
                    observer_pk=scope.peer_pk, observed_pk=observed_pk, session_pk=session_pk, content=s.content,
                    observed_at=s.observed_at, about_at=s.about_at, message_ids=s.message_ids,
                    embedding=s.embedding) for s in fresh], deps.now())
                if generation.state == "active":  # what the scope now holds, as its reads see it
                    copied += len(fresh) + len(there)
        await repo.set_backfill(conn, scope_pk, session_pk, "completed", deps.now(), copied)
    log.info("scope %s: backfilled %d conclusions of session %s", scope.name, copied, session_pk)


async def run_removal(deps: Deps, job: ClaimedJob) -> None:
    """Remove what the scope holds from a session that left: its copies and what was derived there (explicit),
    what rests only on them, and the session's stamp on derived conclusions that keep support elsewhere; cards
    of the collections touched are rebuilt (when dreams can run). Nothing to do when the session joined again."""
    scope_pk, session_pk = int(job.payload["scope_pk"]), int(job.payload["session_pk"])
    async with deps.db.write() as conn:
        scope = await repo.by_pk(conn, scope_pk)
        if scope is None or await repo.is_active_member(conn, scope_pk, session_pk):
            return
        held = [link for link in await cascade_repo.in_session(conn, session_pk) if link.observer_pk == scope.peer_pk]
        receipt = Receipt(deleted={"type": "scope_session", "id": str(session_pk)})
        await cascade.settle_removal(conn, deps, scope.workspace_pk, [k for k in held if k.level == "explicit"],
                                     [k for k in held if k.level != "explicit"], receipt)
    log.info("scope %s: session %s removed: %s", scope.name, session_pk, receipt.header())
