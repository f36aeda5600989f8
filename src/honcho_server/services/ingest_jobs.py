"""Which background jobs a batch of new messages creates: representation, summary and embedding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.config import DeriverSettings
from honcho_server.domain.configuration import MessageConfiguration, ResolvedConfig, resolve
from honcho_server.domain.models import Membership
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob
from honcho_server.store.dialect import Dialect


@dataclass(slots=True)
class SessionContext:
    workspace_pk: int
    session_pk: int
    workspace_configuration: dict[str, Any]
    session_configuration: dict[str, Any]
    members: dict[str, Membership]


def observers_of(sender: str, members: dict[str, Membership]) -> list[str]:
    """Who forms a representation of `sender`: itself, plus active members observing others."""
    member = members.get(sender)
    if member is not None and not member.observed():
        return []
    others = [n for n, m in members.items() if n != sender and m.active and m.observe_others]
    return [sender, *sorted(others)]


def plan_jobs(
    ctx: SessionContext, messages: list[tuple[int, str, MessageConfiguration | None]], defaults: dict[str, Any],
    tokens: dict[int, int] | None = None,
) -> list[NewJob]:
    """Jobs for a batch: one embed job, one representation job per sender (and observer set and
    configuration) covering all of that sender's messages in the batch, and one summary job per cadence
    boundary crossed. Each sender's messages form their own work unit, so grouping them keeps order."""
    base = resolve(defaults, ctx.workspace_configuration, ctx.session_configuration)
    representation: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], NewJob] = {}
    summaries: list[NewJob] = []
    for seq, sender, msg_config in messages:
        config = resolve(defaults, ctx.workspace_configuration, ctx.session_configuration,
                         msg_config.model_dump(exclude_none=True)) if msg_config else base
        _add_representation(ctx, representation, seq, sender, config, (tokens or {}).get(seq, 0))
        summaries.extend(_summaries(ctx, seq, config))
    seqs = [seq for seq, _, _ in messages]
    embed = NewJob(kind="embed", work_unit_key=f"embed:{ctx.session_pk}", workspace_pk=ctx.workspace_pk,
                   session_pk=ctx.session_pk, payload={"first_seq": min(seqs), "last_seq": max(seqs)})
    return [*representation.values(), *summaries, embed]


def _add_representation(
    ctx: SessionContext, planned: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], NewJob], seq: int,
    sender: str, config: ResolvedConfig, tokens: int,
) -> None:
    """Add `seq` to its sender's representation job (one per observer set and configuration)."""
    observers = observers_of(sender, ctx.members) if config.reasoning_enabled else []
    if not observers:
        return
    key = (sender, tuple(observers), tuple(config.to_payload().items()))
    job = planned.get(key)
    if job is None:
        member = ctx.members[sender]
        planned[key] = job = NewJob(
            kind="representation", work_unit_key=f"representation:{ctx.session_pk}:{member.peer_pk}",
            workspace_pk=ctx.workspace_pk, session_pk=ctx.session_pk, observed=sender, observers=observers,
            payload={"seqs": [], "tokens": 0, "observers": observers, "observed": sender,
                     "config": config.to_payload()})
    job.payload["seqs"].append(seq)
    job.payload["tokens"] += tokens


async def schedule_representation(conn: AsyncConnection, dialect: Dialect, planned: list[NewJob],
                                  settings: DeriverSettings, now: datetime) -> None:
    """When a sender's batch (its work unit: one sender in one session) is derived: at once when it has gathered
    `batch_tokens`; otherwise once the sender has been quiet for `quiet_seconds` (each new message pushes that
    back), but never later than `flush_seconds` after its oldest message. A conversation is thus usually derived
    in one call when it pauses, not cut in pieces by a timer. The head job of the unit takes in the jobs queued
    behind it (reasoning/deriver.py)."""
    for job in planned:
        if job.kind != "representation":
            continue
        if settings.flush_seconds <= 0:
            job.run_after = now
            continue
        waiting = await jobs.gathered(conn, dialect, job.work_unit_key)
        if waiting.tokens + job.payload["tokens"] >= settings.batch_tokens:
            due = now
        else:
            latest = (waiting.oldest or now) + timedelta(seconds=settings.flush_seconds)
            due = min(latest, now + timedelta(seconds=settings.quiet_seconds))
        await jobs.reschedule(conn, job.work_unit_key, due, now)
        job.run_after = due


def _summaries(ctx: SessionContext, seq: int, config: ResolvedConfig) -> list[NewJob]:
    if not config.summary_enabled:
        return []
    kinds = [k for k, every in (("short", config.messages_per_short_summary),
                                ("long", config.messages_per_long_summary)) if seq % every == 0]
    if not kinds:
        return []
    return [NewJob(kind="summary", work_unit_key=f"summary:{ctx.session_pk}", workspace_pk=ctx.workspace_pk,
                   session_pk=ctx.session_pk, payload={"seq": seq, "summary_types": kinds,
                                                       "config": config.to_payload()})]
