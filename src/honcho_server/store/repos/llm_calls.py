"""LLM call accounting rows: write one, add them up per workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.llm import LLMCall
from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import llm_calls as t


async def add(conn: AsyncConnection, call: LLMCall, now: datetime) -> None:
    await conn.execute(insert(t).values(
        workspace_id=call.workspace_pk, task=call.task, provider=call.provider, model=call.model,
        input_tokens=call.input_tokens, output_tokens=call.output_tokens, requests=call.requests,
        latency_ms=call.latency_ms, cost_usd=call.cost_usd, ok=call.ok, error=call.error,
        generation_id=call.generation_pk, created_at=now))


@dataclass(frozen=True, slots=True)
class UsageRow:
    task: str
    provider: str
    model: str
    calls: int
    failed: int
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when no call of the group had a known price
    unpriced_calls: int
    mean_latency_ms: float


async def usage(conn: AsyncConnection, workspace_pk: int, since: datetime | None,
                until: datetime | None) -> list[UsageRow]:
    """Totals per task and model, busiest first."""
    query = (select(t.c.task, t.c.provider, t.c.model, func.count(), func.sum(case((t.c.ok, 0), else_=1)),
                    func.sum(t.c.requests), func.sum(t.c.input_tokens), func.sum(t.c.output_tokens),
                    func.sum(t.c.cost_usd), func.sum(case((t.c.cost_usd.is_(None), 1), else_=0)),
                    func.avg(t.c.latency_ms))
             .where(t.c.workspace_id == workspace_pk)
             .group_by(t.c.task, t.c.provider, t.c.model)
             .order_by(func.count().desc(), t.c.task, t.c.model))
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if until is not None:
        query = query.where(t.c.created_at < until)
    return [UsageRow(task, provider, model, int(calls), int(failed), int(requests or 0), int(inp or 0),
                     int(out or 0), float(cost) if cost is not None else None, int(unpriced), float(latency or 0))
            for task, provider, model, calls, failed, requests, inp, out, cost, unpriced, latency
            in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class DailyRow:
    day: str  # 'YYYY-MM-DD', UTC
    task: str
    calls: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when no call of the day and task had a known price


async def usage_by_day(conn: AsyncConnection, dialect: Dialect, workspace_pk: int, since: datetime,
                       until: datetime) -> list[DailyRow]:
    """Totals per UTC day and task in [since, until), oldest day first."""
    day = dialect.utc_day(t.c.created_at)
    query = (select(day, t.c.task, func.count(), func.sum(case((t.c.ok, 0), else_=1)), func.sum(t.c.input_tokens),
                    func.sum(t.c.output_tokens), func.sum(t.c.cost_usd))
             .where(t.c.workspace_id == workspace_pk, t.c.created_at >= since, t.c.created_at < until)
             .group_by(day, t.c.task).order_by(day, t.c.task))
    return [DailyRow(str(d), task, int(calls), int(failed), int(inp or 0), int(out or 0),
                     float(cost) if cost is not None else None)
            for d, task, calls, failed, inp, out, cost in await conn.execute(query)]


async def token_totals(conn: AsyncConnection, workspace_pk: int, task: str) -> tuple[int, int, int]:
    """(calls, input tokens, output tokens) of the workspace's successful calls of `task`."""
    query = (select(func.count(), func.sum(t.c.input_tokens), func.sum(t.c.output_tokens))
             .where(t.c.workspace_id == workspace_pk, t.c.task == task, t.c.ok))
    calls, inp, out = (await conn.execute(query)).one()
    return int(calls), int(inp or 0), int(out or 0)
