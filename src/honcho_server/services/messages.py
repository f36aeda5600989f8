"""Messages: batch append (with their background jobs in the same transaction), list, get, update."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.configuration import MessageConfiguration
from honcho_server.domain.credentials import Principal
from honcho_server.domain.generations import Generation, GenerationKey
from honcho_server.domain.ids import SCOPE_PREFIX, new_id
from honcho_server.domain.models import Message, Page
from honcho_server.domain.tokens import count_tokens_many
from honcho_server.errors import NotFound, ValidationError
from honcho_server.queue import jobs
from honcho_server.services import peers, sessions
from honcho_server.services.deps import Deps
from honcho_server.services.event_metrics import EVENTS_WRITTEN
from honcho_server.services.ingest_jobs import SessionContext, plan_jobs, schedule_representation
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import messages as repo
from honcho_server.store.repos import scopes as scope_repo
from honcho_server.store.repos import sessions as session_repo


@dataclass(slots=True)
class NewMessage:
    content: str
    peer_name: str
    metadata: dict[str, Any]
    configuration: MessageConfiguration | None = None
    created_at: datetime | None = None
    internal_metadata: dict[str, Any] | None = None


# From this many messages a batch's token counting is worth a thread hop (a short text takes microseconds).
COUNT_ASIDE_FROM = 16


async def create(deps: Deps, workspace_name: str, session_name: str, new: list[NewMessage], *,
                 caller: Principal | None = None) -> list[Message]:
    """Append messages in request order; their jobs commit with them or not at all. Authors who are not peers
    yet are created, unless the caller's key is below workspace level and the session already exists."""
    authors = list(dict.fromkeys(m.peer_name for m in new))
    for name in authors:
        if name.startswith(SCOPE_PREFIX):
            raise ValidationError(f"'{name}' is a scope and cannot author messages")
    texts = [m.content for m in new]
    # A batch's tokens are counted on another thread (tiktoken lets go of the GIL) while the session is read.
    counting = (asyncio.get_running_loop().run_in_executor(None, count_tokens_many, texts)
                if len(texts) >= COUNT_ASIDE_FROM else None)
    token_counts = count_tokens_many(texts) if counting is None else None
    async with deps.db.write() as conn:
        context = await _session_context(conn, deps, workspace_name, session_name, authors, caller)
        last = await session_repo.reserve_seqs(conn, context.session_pk, len(new))
        if counting is not None:
            token_counts = await counting
        assert token_counts is not None
        now = deps.now()
        rows, created = [], []
        for offset, (msg, tokens) in enumerate(zip(new, token_counts, strict=True)):
            seq = last - len(new) + 1 + offset
            uid, at = new_id(), _as_utc(msg.created_at) if msg.created_at else now
            rows.append(dict(uid=uid, workspace_id=context.workspace_pk, session_id=context.session_pk,
                             peer_id=context.members[msg.peer_name].peer_pk, seq=seq, content=msg.content,
                             metadata=msg.metadata, internal_metadata=msg.internal_metadata,
                             token_count=tokens, created_at=at))
            created.append(Message(pk=0, uid=uid, workspace_name=workspace_name, session_name=session_name,
                                   peer_name=msg.peer_name, seq=seq, content=msg.content, metadata=msg.metadata,
                                   token_count=tokens, created_at=at))
        await repo.insert_many(conn, rows)
        planned = plan_jobs(context, [(m.seq, m.peer_name, n.configuration) for m, n in zip(created, new,
                                                                                            strict=True)],
                            deps.defaults_layer(), {m.seq: m.token_count for m in created})
        await schedule_representation(conn, deps.db.dialect, planned, deps.settings.deriver, now)
        await jobs.enqueue(conn, deps.db.dialect, planned, now)
    EVENTS_WRITTEN.inc(len(created))  # committed: the block above exits only after the commit
    return created


def _as_utc(moment: datetime) -> datetime:
    """Client timestamps are kept and echoed in UTC (spec 1.3); a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _session_context(
    conn: AsyncConnection, deps: Deps, workspace_name: str, session_name: str, authors: list[str],
    caller: Principal | None,
) -> SessionContext:
    """Session, workspace config and memberships, creating whatever is missing (authors join as members)."""
    target = await session_repo.append_target(conn, workspace_name, session_name)
    if target is not None and not target.is_active:
        raise NotFound(f"Session {session_name} not found in workspace {workspace_name}")
    if target is None or not all(a in target.members and target.members[a].active for a in authors):
        if target is None:
            _, created = await sessions.ensure(conn, deps, workspace_name, session_name)
            caller = None if created else caller  # whoever creates a session names its first members
            target = await session_repo.append_target(conn, workspace_name, session_name)
        assert target is not None  # just created, inside this transaction
        await _join_authors(conn, deps, target, authors, caller)
        target = await session_repo.append_target(conn, workspace_name, session_name)
        assert target is not None
    scopes = await scope_repo.observers_of_session(conn, target.session_pk)  # silent members observing all
    return SessionContext(workspace_pk=target.workspace_pk, session_pk=target.session_pk,
                          workspace_configuration=target.workspace_configuration,
                          session_configuration=target.session_configuration, members={**target.members, **scopes},
                          generations=await _derived_into(conn, target))


async def _derived_into(conn: AsyncConnection, target: session_repo.AppendTarget) -> list[Generation | GenerationKey]:
    """The generations the session's new messages are derived into: usually the active one alone, known from the
    session's own read; a workspace building or comparing others reads them (one more statement)."""
    if not target.other_live_generations:
        return [target.active_generation]
    return list(await generation_repo.live(conn, target.workspace_pk))


async def _join_authors(
    conn: AsyncConnection, deps: Deps, target: session_repo.AppendTarget, authors: list[str],
    caller: Principal | None,
) -> None:
    """Authors who are not members join with default flags; authors who had left re-join as they were."""
    members = target.members
    peer_rows = await peers.ensure_many(conn, deps, target.workspace_pk, [a for a in authors if a not in members],
                                        caller=caller)
    await session_repo.add_members(conn, deps.db.dialect, target.workspace_pk, target.session_pk,
                                   {r.id: (None, None) for r in peer_rows.values()}, deps.now())
    for name in authors:
        if name in members and not members[name].active:
            await session_repo.set_member(conn, target.session_pk, members[name].peer_pk, rejoin=True,
                                          now=deps.now())


async def list_page(
    deps: Deps, workspace_name: str, session_name: str, filters: dict[str, Any] | None, page: int, size: int,
    reverse: bool,
) -> Page[Message]:
    async with deps.db.read() as conn:
        if not filters:  # the usual call: one statement
            found = await repo.page_by_names(conn, workspace_name, session_name, page, size, reverse)
            if found is not None:
                return found
        session = await sessions.find_active(conn, workspace_name, session_name)
        if session is None:
            return Page([], 0, page, size)
        return await repo.list_page(conn, deps.db.dialect, session.pk, workspace_name, session_name, filters,
                                    page, size, reverse, session.message_count)


async def get(deps: Deps, workspace_name: str, session_name: str, uid: str) -> Message:
    async with deps.db.read() as conn:
        session = await sessions.find_active(conn, workspace_name, session_name)
        found = await repo.find(conn, session.pk, uid, workspace_name, session_name) if session else None
    if found is None:
        raise NotFound(f"Message with ID {uid} not found")
    return found


async def update_metadata(
    deps: Deps, workspace_name: str, session_name: str, uid: str, metadata: dict[str, Any] | None,
) -> Message:
    async with deps.db.write() as conn:
        session = await sessions.find_active(conn, workspace_name, session_name)
        found = await repo.find(conn, session.pk, uid, workspace_name, session_name) if session else None
        if found is None:
            raise NotFound("Message not found")
        if metadata is not None:
            await repo.update_metadata(conn, found.pk, metadata)
            found.metadata = metadata
        return found
