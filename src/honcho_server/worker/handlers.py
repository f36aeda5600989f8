"""Job handlers by kind. Each is idempotent: running it twice leaves the same state."""

from __future__ import annotations

from honcho_server.queue.jobs import ClaimedJob
from honcho_server.services import deletion, embedding
from honcho_server.services.deps import Deps


async def delete_session(deps: Deps, job: ClaimedJob) -> None:
    await deletion.purge_session(deps, job.payload["session_pk"])


async def delete_workspace(deps: Deps, job: ClaimedJob) -> None:
    await deletion.purge_workspace(deps, job.payload["workspace_pk"])


REGISTRY = {"delete_session": delete_session, "delete_workspace": delete_workspace,
            "embed": embedding.embed_new_messages}
