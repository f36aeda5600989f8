"""Scheduling consolidation ("dreams") as durable jobs: one open dream per collection and type."""

from __future__ import annotations

from honcho_server.errors import BadRequest, ReasoningOff
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob, dream_key, dream_unit
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps


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
        job = NewJob(kind="dream", work_unit_key=dream_unit(ws.pk, observer, observed),
                     dedupe_key=dream_key(dream_type, ws.pk, observer, observed), workspace_pk=ws.pk, observed=observed,
                     observers=[observer], payload={"observer": observer, "observed": observed,
                                                    "dream_type": dream_type, "session": session,
                                                    "rebuild": rebuild})
        await jobs.enqueue(conn, deps.db.dialect, [job], deps.now())
