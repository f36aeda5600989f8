"""Which background jobs a batch of new messages creates: representation, summary and embedding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honcho_server.domain.configuration import MessageConfiguration, ResolvedConfig, resolve
from honcho_server.domain.models import Membership
from honcho_server.queue.jobs import NewJob


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
) -> list[NewJob]:
    """One embed job for the batch, one representation job per run of same-sender messages, and a
    summary job at every cadence boundary crossed."""
    base = resolve(defaults, ctx.workspace_configuration, ctx.session_configuration)
    planned: list[NewJob] = []
    run: dict[str, Any] | None = None
    for seq, sender, msg_config in messages:
        config = resolve(defaults, ctx.workspace_configuration, ctx.session_configuration,
                         msg_config.model_dump(exclude_none=True)) if msg_config else base
        run = _extend_representation(ctx, planned, run, seq, sender, config)
        planned.extend(_summaries(ctx, seq, config))
    seqs = [seq for seq, _, _ in messages]
    planned.append(NewJob(kind="embed", work_unit_key=f"embed:{ctx.session_pk}", workspace_pk=ctx.workspace_pk,
                          session_pk=ctx.session_pk, payload={"first_seq": min(seqs), "last_seq": max(seqs)}))
    return planned


def _extend_representation(
    ctx: SessionContext, planned: list[NewJob], run: dict[str, Any] | None, seq: int, sender: str,
    config: ResolvedConfig,
) -> dict[str, Any] | None:
    """Add `seq` to the current representation job when sender, observers and config match."""
    observers = observers_of(sender, ctx.members) if config.reasoning_enabled else []
    if not observers:
        return None
    payload = {"seqs": [seq], "observers": observers, "config": config.to_payload()}
    if run is not None and run["observed"] == sender and run["observers"] == observers \
            and run["config"] == payload["config"]:
        run["seqs"].append(seq)
        return run
    member = ctx.members[sender]
    planned.append(NewJob(kind="representation", work_unit_key=f"representation:{ctx.session_pk}:{member.peer_pk}",
                          workspace_pk=ctx.workspace_pk, session_pk=ctx.session_pk, observed=sender,
                          observers=observers, payload={**payload, "observed": sender}))
    return planned[-1].payload


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
