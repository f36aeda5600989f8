"""The dialectic's retrieval tools over one chat's memory scope.

Every tool reads through the same `Scope`, so what a chat may see is decided once, when the chat is prepared:

* conclusions: the observer's collection about the observed peer (every peer's own collection for workspace
  chat); under a session allowlist, explicit conclusions of the allowed sessions only (derived ones rest on
  premises from anywhere);
* messages: those of the sessions the observer belongs or belonged to (any, for workspace chat), within the
  allowlist (a chat with a `session_id` is confined to that session);
* peer cards: only without an allowlist (a card has no per-session provenance), and only where `peer_card.use`
  allows them.

Every result names stable public ids (conclusion ids; message ids with their session and time), so the model
can follow a conclusion to its sources and premises, and each call keeps what it showed (`Found`) for the
evidence of spec 11.5. Results are cut to `dialectic.tool_result_tokens`; what was cut was not shown and is not
evidence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.models import Message
from honcho_server.domain.tokens import count_tokens
from honcho_server.llm.tasks import ToolAnswer
from honcho_server.search.messages import MessageQuery, search_messages
from honcho_server.search.terms import query_terms
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import query_vector
from honcho_server.store.repos import conclusions as conclusion_repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import recall
from honcho_server.store.repos import search as search_repo
from honcho_server.store.repos.conclusions import Collection

MAX_RESULTS = 40
MESSAGE_CHARS = 2000  # one message's text in a result, at most


@dataclass(frozen=True, slots=True)
class Scope:
    """What one chat may read (see the module docstring)."""

    workspace_pk: int
    workspace_name: str
    conclusions: Collection
    observer: str | None  # None: workspace chat
    observed: str | None
    message_filters: dict[str, Any] | None  # the sessions messages may come from, as search filters
    cards: bool  # whether peer cards may be read
    card_holder: str | None = None  # whose cards are read when not the observer's (a scope's hidden peer)

    @property
    def workspace_wide(self) -> bool:
        return self.observer is None


@dataclass(slots=True)
class Found:
    """What one read showed the model."""

    conclusions: list[Conclusion] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def conclusion_line(c: Conclusion, workspace_wide: bool = False) -> str:
    parts = [f"id:{c.uid}", c.level]
    if workspace_wide:
        parts.append(f"about {c.observed}")
    parts.append(f"learned {_stamp(c.observed_at)}")
    if c.about_at is not None:
        parts.append(f"refers to {c.about_at:%Y-%m-%d}")
    if c.session_name:
        parts.append(f"session {c.session_name}")
    line = " | ".join(parts) + f" | {c.content}"
    if c.times_derived > 1:
        line += f" (seen {c.times_derived} times)"
    if c.message_ids:
        line += f" [messages: {', '.join(c.message_ids)}]"
    if c.source_ids:
        line += f" [premises: {', '.join(c.source_ids)}]"
    return "- " + line


def message_line(m: Message) -> str:
    text = m.content if len(m.content) <= MESSAGE_CHARS else m.content[:MESSAGE_CHARS] + " [...]"
    return f"- id:{m.uid} | session {m.session_name} | {_stamp(m.created_at)} | {m.peer_name}: {text}"


def fit(lines: list[tuple[str, Any]], budget: int) -> tuple[list[str], list[Any], int]:
    """The leading lines within `budget` tokens, the items they show, and how many were left out."""
    shown: list[str] = []
    items: list[Any] = []
    used = 0
    for number, (line, item) in enumerate(lines):
        cost = count_tokens(line) + 1
        if used + cost > budget and shown:
            return shown, items, len(lines) - number
        shown.append(line)
        items.append(item)
        used += cost
    return shown, items, 0


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date or time such as 2024-05-01 or 2024-05-01T13:00") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class MemoryTools:
    """The tools of one chat, bound to its scope. `tools()` lists those this scope offers."""

    def __init__(self, deps: Deps, scope: Scope, *, vectors: bool, result_tokens: int) -> None:
        self.deps, self.scope = deps, scope
        self.vectors = vectors  # message vectors can be searched here
        self.result_tokens = result_tokens

    def tools(self) -> list[Callable[..., Awaitable[ToolAnswer]]]:
        found: list[Callable[..., Awaitable[ToolAnswer]]] = [
            self.search_conclusions, self.search_messages, self.messages_by_date, self.read_messages,
            self.reasoning_chain]
        if self.scope.cards:
            found.append(self.peer_card)
        return found

    # ------------------------------------------------------------------------------------------- rendering

    def _conclusions(self, heading: str, found: list[Conclusion], empty: str) -> ToolAnswer:
        if not found:
            return ToolAnswer(empty, Found())
        lines, shown, left = fit([(conclusion_line(c, self.scope.workspace_wide), c) for c in found],
                                 self.result_tokens)
        more = f"\n({left} more not shown)" if left else ""
        return ToolAnswer(f"{heading}\n" + "\n".join(lines) + more, Found(conclusions=shown))

    def _messages(self, heading: str, found: list[Message], empty: str) -> ToolAnswer:
        if not found:
            return ToolAnswer(empty, Found())
        lines, shown, left = fit([(message_line(m), m) for m in found], self.result_tokens)
        more = f"\n({left} more not shown: narrow the search)" if left else ""
        return ToolAnswer(f"{heading}\n" + "\n".join(lines) + more, Found(messages=shown))

    def _where(self) -> Any:
        """The condition every message a tool returns meets."""
        scope = self.scope
        return search_repo.scope(self.deps.db.dialect, scope.workspace_pk, scope.workspace_name,
                                 scope.message_filters, [])

    # --------------------------------------------------------------------------------------------- tools

    async def search_conclusions(self, query: str, top_k: int = 10) -> ToolAnswer:
        """Search the conclusions (facts drawn from past conversations) by meaning, closest first.

        Args:
            query: what to look for, e.g. "where does she live" or "hobbies"
            top_k: how many to return (1-40)
        """
        top_k = _clamp(top_k, 1, MAX_RESULTS)
        words = query_terms(query)
        vector = await query_vector(self.deps, query) if words else None
        found = await self.closest_conclusions(query, vector, top_k)
        return self._conclusions(f"Conclusions closest to {query!r}:", found, f"No conclusions match {query!r}.")

    async def closest_conclusions(self, query: str, vector: np.ndarray | None, limit: int) -> list[Conclusion]:
        """By meaning when the query has a vector; else those sharing a word with it, newest first; else the
        newest."""
        scope = self.scope.conclusions
        async with self.deps.db.read() as conn:
            if vector is not None:
                return await conclusion_repo.nearest(conn, scope, vector, limit)
            words = query_terms(query)
            if not words:
                return await conclusion_repo.recent(conn, scope, limit)
            return await conclusion_repo.containing_any(conn, self.deps.db.dialect, scope, words, limit)

    async def search_messages(self, query: str, limit: int = 10, after: str | None = None,
                              before: str | None = None) -> ToolAnswer:
        """Search the conversations' messages by their words and meaning, best first. Use it for details,
        exact wording, names, numbers and dates that conclusions leave out.

        Args:
            query: words to look for
            limit: how many to return (1-40)
            after: only messages sent at or after this ISO date or time (e.g. 2024-05-01)
            before: only messages sent before this ISO date or time
        """
        try:
            start, end = _parse_time(after, "after"), _parse_time(before, "before")
        except ValueError as exc:
            return ToolAnswer(f"Error: {exc}", ok=False)
        filters = dict(self.scope.message_filters or {})
        bounds = {k: v.isoformat() for k, v in (("gte", start), ("lt", end)) if v is not None}
        if bounds:
            filters["created_at"] = bounds
        vector = await query_vector(self.deps, query) if self.vectors and query_terms(query) else None
        q = MessageQuery(text=query, workspace_pk=self.scope.workspace_pk, workspace_name=self.scope.workspace_name,
                         filters=filters or None, limit=_clamp(limit, 1, MAX_RESULTS))
        found = await search_messages(self.deps.db, q, vector.tolist() if vector is not None else None)
        return self._messages(f"Messages matching {query!r}:", found, f"No messages match {query!r}.")

    async def messages_by_date(self, after: str | None = None, before: str | None = None, limit: int = 20,
                               newest_first: bool = False) -> ToolAnswer:
        """List the messages sent in a period, in time order (the oldest first unless newest_first).

        Args:
            after: from this ISO date or time (inclusive), e.g. 2024-05-01
            before: up to this ISO date or time (exclusive)
            limit: how many to return (1-40)
            newest_first: start from the most recent messages of the period
        """
        try:
            start, end = _parse_time(after, "after"), _parse_time(before, "before")
        except ValueError as exc:
            return ToolAnswer(f"Error: {exc}", ok=False)
        async with self.deps.db.read() as conn:
            where = self._where()
            pks = await recall.message_pks_between(conn, where, start, end, _clamp(limit, 1, MAX_RESULTS),
                                                   newest_first)
            loaded = await search_repo.load(conn, self.scope.workspace_name, where, pks)
        found = [loaded[pk] for pk in pks if pk in loaded]
        period = f"from {after or 'the start'} to {before or 'now'}"
        return self._messages(f"Messages {period}:", found, f"No messages {period}.")

    async def read_messages(self, message_ids: list[str], context: int = 1) -> ToolAnswer:
        """Read messages by id (e.g. the sources a conclusion cites) with the messages around them.

        Args:
            message_ids: message ids (at most 20)
            context: how many messages before and after each to include (0-3)
        """
        async with self.deps.db.read() as conn:
            found = await recall.with_neighbours(conn, self.scope.workspace_name, self._where(),
                                                 message_ids[:20], _clamp(context, 0, 3))
        return self._messages("Messages:", found, "None of these messages can be found.")

    async def reasoning_chain(self, conclusion_id: str) -> ToolAnswer:
        """Follow a conclusion: the premises it was derived from, the conclusions derived from it, and the
        messages it was read from.

        Args:
            conclusion_id: the id of a conclusion
        """
        scope, dialect = self.scope.conclusions, self.deps.db.dialect

        def where(filters: dict[str, Any]) -> list[Any]:
            return [conclusion_repo.condition(dialect, scope.workspace_name, filters)]

        async with self.deps.db.read() as conn:
            own = await conclusion_repo.recent(conn, scope, 1, where({"id": conclusion_id}))
            if not own:
                return ToolAnswer(f"No conclusion {conclusion_id} in this memory.", ok=False)
            head = own[0]
            premises = await conclusion_repo.recent(conn, scope, MAX_RESULTS, where({"id": {"in": head.source_ids}})) \
                if head.source_ids else []
            derived = await conclusion_repo.recent(conn, scope, MAX_RESULTS,
                                                   where({"source_ids": {"contains": head.uid}}))
            sources = await recall.with_neighbours(conn, scope.workspace_name, self._where(),
                                                   head.message_ids or [], 0)
        sections = (("Premises:", premises), ("Derived from it:", derived))
        text = [f"Conclusion:\n{conclusion_line(head, self.scope.workspace_wide)}"]
        shown_c: list[Conclusion] = [head]
        shown_m: list[Message] = []
        budget = self.result_tokens - count_tokens(text[0])
        for heading, group in sections:
            if group:
                lines, shown, _ = fit([(conclusion_line(c, self.scope.workspace_wide), c) for c in group], budget)
                budget -= sum(count_tokens(x) for x in lines)
                text.append(heading + "\n" + "\n".join(lines))
                shown_c += shown
        if sources:
            lines, shown_m, _ = fit([(message_line(m), m) for m in sources], max(budget, 200))
            text.append("Source messages:\n" + "\n".join(lines))
        elif head.level == "explicit":
            text.append("Source messages: none available.")
        return ToolAnswer("\n".join(text), Found(conclusions=shown_c, messages=shown_m))

    async def peer_card(self, peer_id: str | None = None) -> ToolAnswer:
        """The peer card: a short list of stable facts (name, work, family, standing preferences) about a peer.

        Args:
            peer_id: whose card; by default the peer the question is about
        """
        scope = self.scope
        if not scope.cards:
            return ToolAnswer("Peer cards are not available for this question.", ok=False)
        subject = peer_id or scope.observed
        if subject is None:
            return ToolAnswer("Say which peer (peer_id).", ok=False)
        observer = subject if scope.workspace_wide else scope.card_holder or scope.observer or subject
        async with self.deps.db.read() as conn:
            rows = await peer_repo.find_many(conn, scope.workspace_pk, [observer, subject])
            card = await card_repo.get(conn, scope.conclusions.generation_pk, rows[observer].id, rows[subject].id) \
                if observer in rows and subject in rows else None
        if not card:
            return ToolAnswer(f"No card about {subject}.")
        return ToolAnswer(f"Card about {subject}:\n" + "\n".join(f"- {line}" for line in card))
