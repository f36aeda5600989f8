"""Job handlers by kind. Each is idempotent: running it twice leaves the same state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from honcho_server.config import Settings
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.reasoning import deriver, dreams, summaries, targets
from honcho_server.services import deletion, embedding, scope_jobs, scopes, webhooks
from honcho_server.services import rederive as rederive_service
from honcho_server.services.deps import Deps

Handler = Callable[[Deps, ClaimedJob], Awaitable[None]]


async def delete_session(deps: Deps, job: ClaimedJob) -> None:
    await deletion.purge_session(deps, job.payload["session_pk"], uid=job.payload.get("uid"),
                                 workspace_pk=job.payload.get("workspace_pk"), job_id=job.id)


async def delete_workspace(deps: Deps, job: ClaimedJob) -> None:
    await deletion.purge_workspace(deps, job.payload["workspace_pk"], job.payload.get("uid"))


async def summarize_session(deps: Deps, job: ClaimedJob) -> None:
    """The `summary` job, in the generation it names."""
    assert job.workspace_pk is not None and job.session_pk is not None
    async with deps.db.read() as conn:
        target = await targets.of_job(deps, conn, job)
    if target is None:
        return  # retired, failed or deleted meanwhile
    await summaries.summarize(deps.db, target.llm, job.workspace_pk, job.session_pk, int(job.payload["seq"]),
                              list(job.payload["summary_types"]), deps.now, generation_pk=target.pk,
                              announce=target.generation.state == "active")


REGISTRY: dict[str, Handler] = {"delete_session": delete_session, "delete_workspace": delete_workspace,
            "embed": embedding.embed_new_messages,
            scopes.BACKFILL: scope_jobs.run_backfill, scopes.REMOVAL: scope_jobs.run_removal,
            webhooks.KIND: webhooks.deliver}
# Jobs that need an LLM. Without one configured they are not claimed: they wait, counted as pending in queue
# status, and run once a provider is configured.
async def rederive(deps: Deps, job: ClaimedJob) -> None:
    """A `rederive` job: its task, into the generation it builds (services/rederive.py), then that generation's
    progress, dreams, cap and readiness."""
    generation = await rederive_service.generation_of(deps, job)
    if generation is None:
        return  # retired, failed or deleted meanwhile
    await TASKS[job.payload["task"]](deps, job)
    await rederive_service.settle(deps, generation, job)


TASKS: dict[str, Handler] = {"summary": summarize_session, "representation": deriver.derive, "dream": dreams.run_dream}
REASONING: dict[str, Handler] = {**TASKS, rederive_service.KIND: rederive}


def registry(settings: Settings) -> dict[str, Handler]:
    """The handlers this process runs."""
    return {**REGISTRY, **(REASONING if settings.llm.enabled else {})}
