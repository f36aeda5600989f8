"""Which background jobs a batch of new messages creates: representation, summary and embedding.

Each is queued with a merge key (queue/jobs.py): while a job of the same work is still pending, the new batch is
folded into it instead of adding a row. A representation job of a unit (sender, session) with the same observers
and configuration gathers the batches' messages, a summary job of a kind keeps the latest cadence boundary, and an
embed job of a session widens its range. So work queued without a worker to run it (reasoning with no LLM
configured) stays a few rows per unit however long it waits, and a backlog is run in fewer, larger jobs.
`MERGE_LIMIT` bounds what one job carries: a fuller one keeps its work and the next batch starts a new row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.config import DeriverSettings
from honcho_server.domain.configuration import MessageConfiguration, ResolvedConfig, resolve
from honcho_server.domain.generations import Generation, GenerationKey
from honcho_server.domain.models import Membership
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob
from honcho_server.store.dialect import Dialect

# Messages one queued representation or embed job gathers (a representation job's messages are derived in windows
# of `deriver.max_input_tokens`: this keeps one job to a handful of model calls, and one embed job to one batch).
MERGE_LIMIT = 500


@dataclass(slots=True)
class SessionContext:
    workspace_pk: int
    session_pk: int
    workspace_configuration: dict[str, Any]
    session_configuration: dict[str, Any]
    members: dict[str, Membership]
    # The generations new messages are derived into (the active one first; docs/generations.md).
    generations: list[Generation | GenerationKey] = field(default_factory=list)


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
    """Jobs for a batch: one embed job, and in each generation derived into, one representation job per sender
    (and observer set and configuration) covering all of that sender's messages in the batch and one summary job
    per cadence boundary crossed. Each sender's messages form their own work unit (per generation), so grouping
    them keeps order."""
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
                   session_pk=ctx.session_pk, payload={"first_seq": min(seqs), "last_seq": max(seqs)},
                   merge_key=f"embed:{ctx.session_pk}", merge=merge_embed)
    derived = [*representation.values(), *_latest(summaries)]
    return [*(in_generation(job, g) for g in ctx.generations for job in derived), embed]


def in_generation(job: NewJob, generation: Generation | GenerationKey) -> NewJob:
    """A copy of a planned job that derives into `generation` (its keys are the generation's own)."""
    def key(value: str | None) -> str | None:
        return jobs.in_generation(value, generation) if value is not None else None

    payload = {**job.payload, "generation": generation.pk}
    if "seqs" in payload:
        payload["seqs"] = list(payload["seqs"])
    return replace(job, work_unit_key=jobs.in_generation(job.work_unit_key, generation), merge_key=key(job.merge_key),
                   dedupe_key=key(job.dedupe_key), payload=payload)


def merge_representation(queued: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """A unit's queued messages plus the new batch's (same observers and configuration: the merge key says so)."""
    if len(queued["seqs"]) + len(new["seqs"]) > MERGE_LIMIT:
        return None
    return {**queued, "seqs": [*queued["seqs"], *new["seqs"]],
            "tokens": int(queued.get("tokens", 0)) + int(new.get("tokens", 0))}


def merge_summary(queued: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """A summary up to the later boundary covers the earlier one too."""
    return new if int(new["seq"]) >= int(queued["seq"]) else queued


def merge_embed(queued: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """One range of the session's messages (batches of a session follow each other: the range has no gaps)."""
    first = min(int(queued["first_seq"]), int(new["first_seq"]))
    last = max(int(queued["last_seq"]), int(new["last_seq"]))
    return None if last - first + 1 > MERGE_LIMIT else {"first_seq": first, "last_seq": last}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _latest(summaries: list[NewJob]) -> list[NewJob]:
    """One summary job per kind: a batch crossing several boundaries of a kind asks for the last."""
    latest: dict[str | None, NewJob] = {}
    for job in summaries:
        latest[job.merge_key] = job
    return list(latest.values())


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
        unit = f"representation:{ctx.session_pk}:{member.peer_pk}"
        planned[key] = job = NewJob(
            kind="representation", work_unit_key=unit,
            workspace_pk=ctx.workspace_pk, session_pk=ctx.session_pk, observed=sender, observers=observers,
            payload={"seqs": [], "tokens": 0, "observers": observers, "observed": sender,
                     "config": config.to_payload()},
            merge_key=f"{unit}:{_digest(observers, config.to_payload())}", merge=merge_representation)
    job.payload["seqs"].append(seq)
    job.payload["tokens"] += tokens


async def schedule_representation(conn: AsyncConnection, dialect: Dialect, planned: list[NewJob],
                                  settings: DeriverSettings, now: datetime) -> None:
    """When a sender's batch (its work unit: one sender in one session) is derived: at once when it has gathered
    `batch_tokens`; otherwise once the sender has been quiet for `quiet_seconds` (each new message pushes that
    back), but never later than `flush_seconds` after its oldest message. A conversation is thus usually derived
    in one call when it pauses, not cut in pieces by a timer. The head job of the unit takes in the jobs queued
    behind it (reasoning/deriver.py)."""
    await jobs.lock_units(conn, dialect, [j for j in planned if j.merge_key is not None])  # one read for all the units
    for job in planned:
        if job.kind != "representation":
            continue
        if settings.flush_seconds <= 0:
            job.run_after = now
            continue
        waiting = jobs.gathered(job.unit_pending or [])  # enqueue moves the unit's pending rows to `due`
        if waiting.tokens + job.payload["tokens"] >= settings.batch_tokens:
            due = now
        else:
            latest = (waiting.oldest or now) + timedelta(seconds=settings.flush_seconds)
            due = min(latest, now + timedelta(seconds=settings.quiet_seconds))
        job.run_after = due


def _summaries(ctx: SessionContext, seq: int, config: ResolvedConfig) -> list[NewJob]:
    """A job per summary kind whose cadence boundary `seq` is (one per kind, so each merges on its own)."""
    if not config.summary_enabled:
        return []
    kinds = [k for k, every in (("short", config.messages_per_short_summary),
                                ("long", config.messages_per_long_summary)) if seq % every == 0]
    payload = config.to_payload()
    return [NewJob(kind="summary", work_unit_key=f"summary:{ctx.session_pk}", workspace_pk=ctx.workspace_pk,
                   session_pk=ctx.session_pk, payload={"seq": seq, "summary_types": [kind], "config": payload},
                   merge_key=f"summary:{ctx.session_pk}:{kind}", merge=merge_summary)
            for kind in kinds]
