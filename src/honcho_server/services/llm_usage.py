"""LLM usage of a workspace: calls, tokens and estimated cost per task and model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from honcho_server.errors import ValidationError
from honcho_server.services import workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import llm_calls


@dataclass(frozen=True, slots=True)
class Usage:
    rows: list[llm_calls.UsageRow]
    reasoning_enabled: bool


async def get(deps: Deps, workspace_name: str, since: datetime | None, until: datetime | None) -> Usage:
    if since is not None and until is not None and since >= until:
        raise ValidationError("`since` must be before `until`")
    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace_name)
        rows = await llm_calls.usage(conn, ws.pk, since, until)
    return Usage(rows=rows, reasoning_enabled=deps.settings.llm.enabled)
