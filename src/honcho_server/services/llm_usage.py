"""LLM usage of a workspace: calls, tokens and estimated cost per task and model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


DAILY_WINDOW_DAYS = 30  # the default span of `daily`
MAX_DAILY_WINDOW_DAYS = 366


async def daily(deps: Deps, workspace_name: str, since: datetime | None, until: datetime | None
                ) -> list[llm_calls.DailyRow]:
    """Calls, tokens and cost per UTC day and task (by default the last 30 days); at most a year at once."""
    until = until or deps.now()
    since = since or until - timedelta(days=DAILY_WINDOW_DAYS)
    if since >= until:
        raise ValidationError("`since` must be before `until`")
    if until - since > timedelta(days=MAX_DAILY_WINDOW_DAYS):
        raise ValidationError(f"at most {MAX_DAILY_WINDOW_DAYS} days at once")
    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace_name)
        return await llm_calls.usage_by_day(conn, deps.db.dialect, ws.pk, since, until)
