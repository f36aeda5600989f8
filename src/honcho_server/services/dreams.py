"""Scheduling consolidation ("dreams") as durable jobs: one open dream per collection and type."""

from __future__ import annotations

from honcho_server.errors import BadRequest, ReasoningOff
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob, dream_key, dream_unit, in_generation
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import generations as generation_repo


async def schedule(deps: Deps, workspace_name: str, observer: str, observed: str | None, dream_type: str,
                   session: str | None = None, rebuild: bool = False) -> None:
    """Queue a dream now (spec 5.7); a twin already pending or running makes this a no-op."""
    if not deps.settings.llm.enabled:
        raise ReasoningOff.because(deps.settings.llm.problem)
    if not deps.settings.defaults.dream_enabled:
        raise BadRequest("Dreams are not enabled in the system configuration")
    observed = observed or observer
    async with deps.db.write() as conn:
        ws = await workspaces.require(conn, workspace_name)
        active = await generation_repo.active_of(conn, ws.pk)  # what the client reads is what it asks to dream on
        assert active is not None  # every workspace has one
        job = NewJob(kind="dream", work_unit_key=in_generation(dream_unit(ws.pk, observer, observed), active),
                     dedupe_key=in_generation(dream_key(dream_type, ws.pk, observer, observed), active),
                     workspace_pk=ws.pk, observed=observed, observers=[observer],
                     payload={"observer": observer, "observed": observed, "dream_type": dream_type,
                              "session": session, "rebuild": rebuild, "generation": active.pk})
        await jobs.enqueue(conn, deps.db.dialect, [job], deps.now())
