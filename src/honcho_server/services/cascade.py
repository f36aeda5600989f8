"""Deletion that cascades: removing a conclusion, a message or a session removes or re-derives what rests on it,
and says what it did in a receipt (domain/receipts.py).

What rests on what:

* A conclusion rests on its source messages (`message_ids`) and its premises (`source_ids`). When everything it
  cited is gone, it goes too, and so on up the chain (a deduction from a deduction from a removed fact). A
  conclusion that keeps at least one live message or premise stays, with the removed ids (and ids that were
  already dangling) dropped from its lists. A conclusion that never cited anything (created through the API) is
  never removed by a cascade. Premises are assumed not to form cycles (a premise exists before what rests on it);
  a cycle keeps itself alive.
* History: conclusions a removed conclusion had superseded point on to its successor when it was itself superseded
  by a surviving conclusion (the history chain stays whole), otherwise they are current again ("restored").
* A message: besides the conclusions citing it, every summary of its session covering it (`last_seq` >= its seq)
  is removed, since it contains the message's content, and a summary job is queued up to the last message the
  removed summaries covered: the summarizer covers everything since the previous remaining summary, so the new
  one covers the same span without the message. The message's vector and full-text row go with the row, and the
  message after it is re-indexed (its full-text document quoted the deleted one as context). The session's
  `message_count` goes down by one; seqs are never reused.
* A session (its purge job): its explicit conclusions go, with everything resting only on them or on its
  messages; derived conclusions stamped with the session (a dream's output) stay when they keep a premise or a
  source message elsewhere, their session stamp cleared. Summaries go with the session.
* Peer cards cannot be traced to sources line by line. When a collection (observer, observed) loses a conclusion
  and has a non-empty card, the card is reported in `cards_affected` and, when dreams can run (an LLM is
  configured and `defaults.dream_enabled`), a `card_refresh` dream with `rebuild: true` is queued for it: the card
  is rewritten from the conclusions that remain, without being shown the old one. Entries set through `PUT
  .../card` that no remaining conclusion supports may be dropped by that rebuild.

A conclusion or message deletion is computed and applied in one write transaction (the rows it changes are locked
first), so readers see everything before it or everything after it. A session purge (services/deletion.py) runs the
cascade in one transaction before its messages go in batches, and once more with the deletion of the session row
(for anything derived from the session meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.generations import LIVE_STATES, Generation
from honcho_server.domain.receipts import Receipt
from honcho_server.errors import NotFound
from honcho_server.queue import jobs
from honcho_server.queue.jobs import NewJob
from honcho_server.services import sessions
from honcho_server.services.deps import Deps
from honcho_server.store.repos import cascade as repo
from honcho_server.store.repos import generations as generation_repo
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.repos.cascade import Link, Relink

log = logging.getLogger("honcho_server.cascade")


@dataclass(slots=True)
class _Gone:
    """The messages being removed: by id, or every message of a session."""

    uids: frozenset[str] = frozenset()
    session_pk: int | None = None


@dataclass(slots=True)
class _Outcome:
    removed: dict[str, Link] = field(default_factory=dict)  # uid -> link, in removal order
    changes: dict[int, Relink] = field(default_factory=dict)
    updated: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


class _Settle:
    """The fixpoint: remove the seeds, then every watched conclusion left without support, until none is."""

    def __init__(self, conn: AsyncConnection, deps: Deps, workspace_pk: int, gone: _Gone) -> None:
        self.conn, self.dialect, self.workspace_pk, self.gone = conn, deps.db.dialect, workspace_pk, gone
        self.message_live: dict[str, bool] = {}
        self.conclusion_exists: dict[str, bool] = {}

    async def _learn(self, links: Iterable[Link]) -> None:
        links = list(links)
        wanted_messages = {m for link in links for m in link.message_ids if m not in self.message_live}
        wanted_conclusions = {s for link in links for s in link.source_ids if s not in self.conclusion_exists}
        live = await repo.existing_messages(self.conn, self.workspace_pk, wanted_messages - self.gone.uids,
                                            outside_session=self.gone.session_pk)
        self.message_live.update({m: m in live for m in wanted_messages})
        found = await repo.existing_conclusions(self.conn, self.workspace_pk, wanted_conclusions)
        self.conclusion_exists.update({s: s in found for s in wanted_conclusions})

    def _live_messages(self, link: Link) -> list[str]:
        return [m for m in link.message_ids if self.message_live[m]]

    def _live_premises(self, link: Link, removed: dict[str, Link]) -> list[str]:
        return [s for s in link.source_ids if s != link.uid and s not in removed and self.conclusion_exists[s]]

    async def run(self, seeds: Sequence[Link], stamped: Sequence[Link] = ()) -> _Outcome:
        """`seeds` are removed outright; `stamped` (a purged session's derived conclusions) stay only with live
        support elsewhere, and lose their session stamp."""
        out = _Outcome(removed={link.uid: link for link in seeds})
        stamped_uids = {link.uid for link in stamped}
        watched: dict[str, Link] = {link.uid: link for link in stamped if link.uid not in out.removed}
        if self.gone.uids or self.gone.session_pk is not None:
            for link in await repo.citing_messages(self.conn, self.dialect, self.workspace_pk, uids=self.gone.uids,
                                                   session_pk=self.gone.session_pk):
                if link.uid not in out.removed:
                    watched.setdefault(link.uid, link)
        to_check, frontier = set(watched), list(out.removed)
        while True:
            for link in await repo.citing_conclusions(self.conn, self.dialect, self.workspace_pk, frontier):
                if link.uid not in out.removed:
                    watched.setdefault(link.uid, link)
                    to_check.add(link.uid)
            checking = [watched[uid] for uid in sorted(to_check)]
            await self._learn(checking)
            dying = [link for link in checking
                     if not self._live_messages(link) and not self._live_premises(link, out.removed)
                     and (link.uid in stamped_uids or link.message_ids or link.source_ids)]
            for link in dying:
                out.removed[link.uid] = link
                del watched[link.uid]
            frontier, to_check = [link.uid for link in dying], set()
            if not frontier:
                break
        for link in watched.values():  # survivors: drop what is gone from their lists
            messages_left, premises_left = self._live_messages(link), self._live_premises(link, out.removed)
            session_pk = None if link.uid in stamped_uids else link.session_pk
            if (tuple(messages_left), tuple(premises_left), session_pk) != (link.message_ids, link.source_ids,
                                                                              link.session_pk):
                out.changes[link.pk] = Relink(link.pk, messages_left or None, premises_left or None, session_pk,
                                              link.superseded_by, link.superseded_at)
                out.updated.append(link.uid)
        await self._history(out)
        return out

    async def _history(self, out: _Outcome) -> None:
        """Conclusions a removed one superseded point on to its surviving successor, or are current again."""
        retired = [link for link in await repo.superseded_by(self.conn, self.workspace_pk, out.removed)
                   if link.uid not in out.removed]
        successors = {link.superseded_by for link in out.removed.values() if link.superseded_by}
        await self._learn_conclusions(successors)
        for link in retired:
            successor, seen = link.superseded_by, set()
            while successor in out.removed and successor not in seen:
                seen.add(successor)
                successor = out.removed[successor].superseded_by
            if successor in out.removed or (successor is not None and not self.conclusion_exists.get(successor)):
                successor = None
            base = out.changes.get(link.pk) or Relink(link.pk, list(link.message_ids) or None,
                                                      list(link.source_ids) or None, link.session_pk,
                                                      link.superseded_by, link.superseded_at)
            out.changes[link.pk] = Relink(base.pk, base.message_ids, base.source_ids, base.session_pk, successor,
                                          link.superseded_at if successor else None)
            if successor is None:
                out.restored.append(link.uid)
            elif link.uid not in out.updated:
                out.updated.append(link.uid)

    async def _learn_conclusions(self, uids: Iterable[str]) -> None:
        wanted = {u for u in uids if u not in self.conclusion_exists}
        found = await repo.existing_conclusions(self.conn, self.workspace_pk, wanted)
        self.conclusion_exists.update({u: u in found for u in wanted})


async def _apply(conn: AsyncConnection, deps: Deps, workspace_pk: int, out: _Outcome, receipt: Receipt) -> None:
    """Write an outcome, queue card refreshes, and fill the receipt in."""
    await repo.delete_conclusions(conn, [link.pk for link in out.removed.values()])
    await repo.relink(conn, list(out.changes.values()))
    receipt.conclusions_removed += list(out.removed)
    receipt.conclusions_updated += out.updated
    receipt.conclusions_restored += out.restored
    cards = await repo.cards_with_entries(conn, [(link.generation_pk, link.observer_pk, link.observed_pk)
                                                 for link in out.removed.values()])
    if not cards:
        return
    names = await repo.peer_names(conn, [pk for card in cards for pk in card[1:]])
    for observer_pk, observed_pk in dict.fromkeys(card[1:] for card in cards):  # once, whatever the generations
        receipt.cards_affected.append({"observer_id": names[observer_pk], "observed_id": names[observed_pk]})
    if not (deps.settings.llm.enabled and deps.settings.defaults.dream_enabled):
        return
    queued = []
    derived_into = await _derived_into(conn, {card[0] for card in cards})
    for generation_pk, observer_pk, observed_pk in cards:
        if (generation := derived_into.get(generation_pk)) is None:
            continue  # a retired or failed generation is kept as it was
        observer, observed = names[observer_pk], names[observed_pk]
        queued.append(NewJob(
            kind="dream", work_unit_key=jobs.in_generation(jobs.dream_unit(workspace_pk, observer, observed),
                                                           generation),
            dedupe_key=jobs.in_generation(jobs.dream_key("card_refresh", workspace_pk, observer, observed),
                                          generation),
            workspace_pk=workspace_pk, observed=observed, observers=[observer],
            payload={"observer": observer, "observed": observed, "dream_type": "card_refresh", "session": None,
                     "rebuild": True, "reason": "deletion", "generation": generation.pk}))
        receipt.jobs_enqueued.append({"kind": "dream", "dream_type": "card_refresh", "observer_id": observer,
                                      "observed_id": observed, **_named(generation)})
    await jobs.enqueue(conn, deps.db.dialect, queued, deps.now())


async def _derived_into(conn: AsyncConnection, generation_pks: set[int]) -> dict[int, Generation]:
    """Those of the generations still derived into (active, building, ready), by key."""
    found = [await generation_repo.by_pk(conn, pk) for pk in sorted(generation_pks)]
    return {g.pk: g for g in found if g is not None and g.state in LIVE_STATES}


def _named(generation: Generation) -> dict[str, str]:
    """A receipt's job entry names its generation when it is not the active one (the one clients read)."""
    return {} if generation.state == "active" else {"generation": generation.public_id}


# ------------------------------------------------------------------------------------------------ entry points


async def delete_conclusion(deps: Deps, workspace_name: str, uid: str) -> Receipt:
    """Delete a conclusion (current or history) and what rests on it; NotFound when the workspace has none such."""
    async with deps.db.write() as conn:
        ws = await workspace_repo.find(conn, workspace_name)
        seeds = await repo.by_uids(conn, ws.pk, [uid]) if ws else []
        if ws is None or not seeds:
            raise NotFound(f"Conclusion {uid} not found in workspace {workspace_name}")
        seeds += await repo.copies_elsewhere(conn, ws.pk, seeds)  # an app's conclusion goes from every generation
        receipt = Receipt(deleted={"type": "conclusion", "id": uid})
        outcome = await _Settle(conn, deps, ws.pk, _Gone()).run(seeds)
        await _apply(conn, deps, ws.pk, outcome, receipt)
    log.info("deleted conclusion %s in %s: %s", uid, workspace_name, receipt.header())
    return receipt


async def delete_message(deps: Deps, workspace_name: str, session_name: str, uid: str) -> Receipt:
    """Delete a message of an active session and what rests on it (see the module docstring)."""
    async with deps.db.write() as conn:
        session = await sessions.find_active(conn, workspace_name, session_name)
        if session is None:
            raise NotFound(f"Session {session_name} not found in workspace {workspace_name}")
        message = await message_repo.find(conn, session.pk, uid, workspace_name, session_name)
        if message is None:
            raise NotFound(f"Message with ID {uid} not found")
        receipt = Receipt(deleted={"type": "message", "id": uid}, messages_removed=[uid])
        outcome = await _Settle(conn, deps, session.workspace_pk, _Gone(uids=frozenset([uid]))).run([])
        await _apply(conn, deps, session.workspace_pk, outcome, receipt)
        covering = await repo.remove_summaries_from(conn, session.pk, message.seq)
        receipt.summaries_removed += [{"session_id": session_name, "summary_type": kind, "message_id": uid}
                                      for kind, uid in dict.fromkeys((s.kind, s.message_uid) for s in covering)]
        await _resummarize(conn, deps, session.workspace_pk, session.pk, session_name, covering, receipt)
        await repo.delete_message(conn, deps.db.dialect, session.pk, message.pk, message.seq)
    log.info("deleted message %s of %s/%s: %s", uid, workspace_name, session_name, receipt.header())
    return receipt


async def _resummarize(conn: AsyncConnection, deps: Deps, workspace_pk: int, session_pk: int, session_name: str,
                       removed: list[repo.CoveringSummary], receipt: Receipt) -> None:
    """In each generation still derived into, one summary job per kind, up to the last message its removed
    summaries covered."""
    derived_into = await _derived_into(conn, {s.generation_pk for s in removed})
    for generation in derived_into.values():
        mine = [s for s in removed if s.generation_pk == generation.pk]
        upto: dict[int, list[str]] = {}
        for kind in dict.fromkeys(s.kind for s in mine):
            upto.setdefault(max(s.last_seq for s in mine if s.kind == kind), []).append(kind)
        unit = jobs.in_generation(f"summary:{session_pk}", generation)
        queued = [NewJob(kind="summary", work_unit_key=unit, workspace_pk=workspace_pk, session_pk=session_pk,
                         payload={"seq": seq, "summary_types": kinds, "reason": "deletion",
                                  "generation": generation.pk})
                  for seq, kinds in sorted(upto.items())]
        await jobs.enqueue(conn, deps.db.dialect, queued, deps.now())
        receipt.jobs_enqueued += [{"kind": "summary", "session_id": session_name, "summary_types": job.payload[
            "summary_types"], **_named(generation)} for job in queued]


async def settle_removal(conn: AsyncConnection, deps: Deps, workspace_pk: int, seeds: Sequence[Link],
                         stamped: Sequence[Link], receipt: Receipt) -> None:
    """Remove `seeds` and what rests only on them, in the caller's transaction; `stamped` (derived conclusions of the
    same origin) stay only with live support elsewhere. Used when a session leaves a scope (services/scopes.py)."""
    outcome = await _Settle(conn, deps, workspace_pk, _Gone()).run(seeds, stamped)
    await _apply(conn, deps, workspace_pk, outcome, receipt)


async def settle_session(conn: AsyncConnection, deps: Deps, session_pk: int) -> Receipt | None:
    """The cascade of purging a session, applied in the caller's transaction before its rows are deleted (its
    messages and the session row are the caller's to delete). None when the session is already gone."""
    session = await repo.session_ref(conn, session_pk)
    if session is None:
        return None
    receipt = Receipt(deleted={"type": "session", "id": session.name})
    stamped = await repo.in_session(conn, session_pk)
    outcome = await _Settle(conn, deps, session.workspace_pk, _Gone(session_pk=session_pk)).run(
        [link for link in stamped if link.level == "explicit"], [link for link in stamped if link.level != "explicit"])
    await _apply(conn, deps, session.workspace_pk, outcome, receipt)
    receipt.summaries_removed += [{"session_id": session.name, "summary_type": s.kind, "message_id": s.message_uid}
                                  for s in await repo.session_summaries(conn, session_pk)]
    return receipt
