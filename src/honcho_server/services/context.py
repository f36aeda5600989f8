"""Session context (spec 7.12): a summary and the most recent messages that fit a token budget, optionally
with a peer's working representation and card."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message, SessionSummary
from honcho_server.domain.tokens import count_tokens
from honcho_server.errors import NotFound, ValidationError
from honcho_server.services import representation, scopes, sessions, workspaces
from honcho_server.services.conclusions import check_not_scope
from honcho_server.services.deps import Deps
from honcho_server.services.representation import Recall
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import summaries as summary_repo
from honcho_server.store.repos.conclusions import Collection


@dataclass(frozen=True, slots=True)
class PeerView:
    """Whose representation and card to include: `target` as seen by `perspective` (itself by default)."""

    target: str
    perspective: str | None = None
    sessions: list[str] | None = None  # an allowlist confining the representation
    limit_to_session: bool = False
    recall: Recall = field(default_factory=Recall)
    scope: str | None = None  # read as this scope sees the target (its own view) instead of a peer

    @property
    def observer(self) -> str:
        return self.perspective or self.target


@dataclass(slots=True)
class SessionContext:
    messages: list[Message] = field(default_factory=list)
    summary: SessionSummary | None = None
    representation: str | None = None
    card: list[str] | None = None


def check_view(session_name: str, view: PeerView) -> None:
    """The combinations spec 7.12 refuses (422)."""
    check_not_scope("peer_target", view.target)
    if view.perspective is not None:
        check_not_scope("peer_perspective", view.perspective)
    if view.scope is not None:
        if view.perspective is not None:
            raise ValidationError("`scope` and `peer_perspective` are mutually exclusive")
        if view.sessions is not None:
            raise ValidationError("`scope` and `sessions` are mutually exclusive")
    if view.sessions is not None:
        if view.limit_to_session:
            raise ValidationError("`sessions` and `limit_to_session` are mutually exclusive")
        representation.check_session_ids(view.sessions, "sessions")
        if session_name not in view.sessions:
            raise ValidationError(f"sessions must include this session ('{session_name}')")


def choose_summary(found: dict[str, SessionSummary], budget: int) -> SessionSummary | None:
    """The long summary when it fits 40% of the budget and says more than the short one; else the short one
    when it fits; else none."""
    room = budget * 2 // 5  # floor(0.4 * budget), exactly
    long, short = found.get("long"), found.get("short")
    short_tokens = short.token_count if short else 0
    if long is not None and long.token_count <= room and long.token_count > short_tokens:
        return long
    if short is not None and 0 < short.token_count <= room:
        return short
    return None


def card_tokens(card: list[str] | None) -> int:
    return count_tokens("\n".join(card)) if card else 0


async def session_context(deps: Deps, workspace_name: str, session_name: str, *, tokens: int | None,
                          summary: bool, view: PeerView | None = None, generation: str | None = None
                          ) -> SessionContext:
    """Budget `tokens` (the server cap by default): the representation and card (when `view` is given) are
    counted first; then the summary takes at most 40% of what is left, and the newest messages since the
    summary's last message (inclusive; from the start without one) fill the rest, oldest first. Derived parts
    come from the active generation, or the one `generation` names."""
    cap = deps.settings.limits.context_max_tokens
    if tokens is not None and tokens > cap:
        raise ValidationError(f"tokens must be at most {cap}")
    if view is not None:
        check_view(session_name, view)
    budget = cap if tokens is None else tokens
    vector = await representation.prepare(deps, view.recall) if view else None  # before any transaction
    result = SessionContext()
    async with deps.db.read() as conn:
        chosen_generation = None
        if generation is not None:
            ws = await workspaces.serving(conn, workspace_name, generation)
            chosen_generation = ws.generation_pk if ws else None
        if view is not None:
            await _peer_part(conn, workspace_name, session_name, view, vector, result, generation)
            budget -= count_tokens(result.representation or "") + card_tokens(result.card)
        session = await sessions.find_active(conn, workspace_name, session_name)
        if session is None or budget <= 0:
            return result
        chosen = None
        if summary:
            summaries = await summary_repo.latest_by_name(conn, workspace_name, session_name,
                                                          chosen_generation)
            chosen = choose_summary(summaries, budget)
        result.summary = chosen
        result.messages = await message_repo.newest_within_budget(
            conn, session.pk, budget - (chosen.token_count if chosen else 0), workspace_name, session_name,
            from_seq=chosen.last_seq if chosen else None)
    return result


async def _peer_part(conn: AsyncConnection, workspace_name: str, session_name: str, view: PeerView,
                     vector: np.ndarray | None, result: SessionContext, generation: str | None) -> None:
    """The representation (and, without an allowlist, the card) of spec 7.12 step 3. NotFound when the
    observer does not exist; an unknown target has an empty representation and no card."""
    ws = await workspaces.serving(conn, workspace_name, generation)
    held = await scopes.require(conn, ws, workspace_name, view.scope) if view.scope is not None else None
    rows = await peer_repo.find_many(conn, ws.pk, [view.observer, view.target]) if ws else {}
    if ws is None or (held is None and view.observer not in rows):
        raise NotFound(f"Peer {view.observer} not found in workspace {workspace_name}")
    if view.target not in rows:
        result.representation = ""
        return
    allowlist = [session_name] if view.limit_to_session else view.sessions
    scope: Collection
    if held is not None:
        confined = await representation.collection(conn, ws, held.peer_pk, rows[view.target].id, allowlist)
        scope = scopes.collection(ws, held, rows[view.target].id, confined.session_pks)
    else:
        scope = await representation.collection(conn, ws, rows[view.observer].id, rows[view.target].id, allowlist)
    result.representation = await representation.render(conn, scope, view.recall, vector)
    if allowlist is None:  # a card has no per-session provenance: none under an allowlist
        result.card = await card_repo.get(conn, scope.generation_pk, scope.observer_pk, scope.observed_pk)
