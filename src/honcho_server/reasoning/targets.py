"""Which generation of memory a reasoning job derives into, and the model client that derives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honcho_server.domain.generations import LIVE_STATES, Generation
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.services.deps import Deps
from honcho_server.store.repos import generations as repo

if TYPE_CHECKING:
    from honcho_server.llm.client import LLMClient


@dataclass(frozen=True, slots=True)
class Target:
    generation: Generation
    llm: LLMClient

    @property
    def pk(self) -> int:
        return self.generation.pk


async def of_job(deps: Deps, conn: Any, job: ClaimedJob) -> Target | None:
    """The generation the job names (`payload.generation`; jobs queued before generations existed name none and
    derive into the workspace's active one) with its client; None when that generation takes no more derivation
    (retired, failed or deleted meanwhile): the job then has nothing to do."""
    assert job.workspace_pk is not None
    pk = job.payload.get("generation")
    found = await repo.by_pk(conn, int(pk)) if pk is not None else await repo.active_of(conn, job.workspace_pk)
    if found is None or found.workspace_pk != job.workspace_pk or found.state not in LIVE_STATES:
        return None
    return Target(found, deps.llm_for(found))
