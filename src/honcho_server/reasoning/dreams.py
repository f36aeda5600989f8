"""Consolidation ("dreams"): one observer's conclusions about one peer, reviewed as a whole.

A dream reads the collection's newest current conclusions (`dream.max_conclusions`) and the peer card, and asks the
model for the changes worth making, in one structured call:

* merges: conclusions stating the same fact become one (the kept one absorbs the others' `times_derived` and
  source messages; the others are superseded, not deleted);
* updates: a newer fact replaces an older one (a move, a new job): the outdated one is superseded by the current
  one and stays queryable as history;
* deductions and patterns (deductive / inductive conclusions) linked to their premises by id; an inductive
  conclusion's confidence comes from how many premises it cites (2 low, 3-4 medium, 5+ high), not from the model;
* contradictions, recorded as their own level with the conflicting statements as premises, without picking a side;
* the peer card, rewritten with stable identity facts only (when `peer_card.create` allows it).

Everything is applied in one transaction, and only to conclusions still current when it commits, so a dream never
half-applies and a re-run works on the new state. A `card_refresh` dream rewrites the card only (`rebuild`: without
showing the old one).

Scheduling (`consider`, called by the deriver in its write transaction): once a collection holds `dream.threshold`
explicit conclusions newer than its last dream, a dream job is queued to run after `dream.idle_minutes` without new
conclusions about the peer (every later batch pushes it back) and at least `dream.min_hours_between` after the
last one. The job lives in the database, so it survives restarts; its work unit is the collection, so two dreams
of one collection never run at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.config import DreamSettings
from honcho_server.domain import cards
from honcho_server.domain.conclusions import Conclusion, NewConclusion, fingerprint
from honcho_server.domain.configuration import resolve
from honcho_server.domain.generations import Generation
from honcho_server.queue import jobs
from honcho_server.queue.jobs import ClaimedJob, NewJob, dream_key, dream_unit, in_generation
from honcho_server.reasoning import targets
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store.dialect import Dialect
from honcho_server.store.repos import conclusions as repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.repos.conclusions import Collection

log = logging.getLogger("honcho_server.dreams")

INSTRUCTIONS = """\
You consolidate what {observer} knows about {observed}: a numbered list of conclusions, oldest first, and the \
current peer card. Return only the changes worth making; an empty list is better than a doubtful change.

- merges: conclusions that state the same fact. `keep` is the best-worded one, `duplicates` the others; \
`wording` optionally merges them into one sentence that keeps every detail.
- updates: a newer conclusion makes older ones outdated (a move, a new job, a plan that happened or was \
cancelled). `current` is the newer one, `outdated` the older ones; they are kept as history.
- deductions: facts that follow logically from listed conclusions and are not stated yet, with their `premises`.
- patterns: preferences, habits or tendencies supported by at least two conclusions, with their `premises`.
- contradictions: statements that conflict and cannot both hold (two birthdays, two home towns at once): \
describe the conflict, list the `statements`, do not choose a side.
- card: the complete card for {observed}, durable identity facts only, each line starting with IDENTITY:, \
ATTRIBUTE:, RELATIONSHIP: or INSTRUCTION: (at most 40; nothing likely to change within six months, no moods or \
traits). null leaves the card as it is.

Refer to conclusions by their numbers. Write new statements in the third person, naming peers by id.
"""

CARD_INSTRUCTIONS = """\
Write the peer card {observer} keeps about {observed}: durable identity facts only, taken from the numbered \
conclusions, each line starting with IDENTITY:, ATTRIBUTE:, RELATIONSHIP: or INSTRUCTION: (at most 40; nothing \
likely to change within six months, no moods or traits).
"""


class Merge(BaseModel):
    keep: int
    duplicates: list[int]
    wording: str | None = None


class Update(BaseModel):
    current: int
    outdated: list[int]


class Deduction(BaseModel):
    content: str
    premises: list[int]


class Pattern(BaseModel):
    content: str
    premises: list[int]
    pattern_type: Literal["preference", "behavior", "personality", "tendency", "correlation"] = "tendency"


class Contradiction(BaseModel):
    content: str
    statements: list[int]


class Consolidation(BaseModel):
    merges: list[Merge] = Field(default_factory=list)
    updates: list[Update] = Field(default_factory=list)
    deductions: list[Deduction] = Field(default_factory=list)
    patterns: list[Pattern] = Field(default_factory=list)
    contradictions: list[Contradiction] = Field(default_factory=list)
    card: list[str] | None = None


class CardOnly(BaseModel):
    card: list[str]


# --------------------------------------------------------------------------------------------------- plan


@dataclass(slots=True)
class Derived:
    level: str
    content: str
    premises: list[Conclusion]
    metadata: dict[str, Any] = field(default_factory=dict)
    blob: bytes | None = None


@dataclass(slots=True)
class Fold:
    keep: Conclusion
    duplicates: list[Conclusion]
    wording: str | None = None
    blob: bytes | None = None


@dataclass(slots=True)
class Plan:
    """What a dream changes, in terms of conclusions (model numbers resolved and checked)."""

    folds: list[Fold] = field(default_factory=list)
    superseded: list[tuple[Conclusion, Conclusion]] = field(default_factory=list)  # (outdated, current)
    derived: list[Derived] = field(default_factory=list)
    card: list[str] | None = None

    @property
    def empty(self) -> bool:
        return not (self.folds or self.superseded or self.derived) and self.card is None


def confidence(premises: int) -> str:
    return "high" if premises >= 5 else "medium" if premises >= 3 else "low"


def plan(answer: Consolidation, listed: list[Conclusion]) -> Plan:
    """Turn the model's numbered answer into changes. Numbers that point nowhere are dropped; a conclusion is
    retired at most once; derived conclusions need their premises (patterns and contradictions at least two)."""
    def pick(numbers: list[int]) -> list[Conclusion]:
        return [listed[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(listed)]

    out = Plan(card=cards.merge([], answer.card) if answer.card is not None else None)
    _retire(answer, pick, out)
    # (level, content, premises, least premises, metadata)
    wanted: list[tuple[str, str, list[Conclusion], int, dict[str, Any]]] = [
        ("deductive", d.content, pick(d.premises), 1, {}) for d in answer.deductions]
    wanted += [("inductive", p.content, pick(p.premises), 2, {"pattern_type": p.pattern_type})
               for p in answer.patterns]
    wanted += [("contradiction", c.content, pick(c.statements), 2, {}) for c in answer.contradictions]
    for level, content, premises, least, meta in wanted:
        if len(premises) >= least and content.strip():
            if level == "inductive":
                meta = {**meta, "confidence": confidence(len(premises))}
            out.derived.append(Derived(level, content.strip(), premises, meta))
    return out


def _retire(answer: Consolidation, pick: Callable[[list[int]], list[Conclusion]], out: Plan) -> None:
    """Merges first, then updates; nothing is retired twice, and a retired one cannot be kept."""
    retired: set[int] = set()
    for merge in answer.merges:
        keep = pick([merge.keep])
        if not keep or keep[0].pk in retired:
            continue
        dups = [c for c in pick(merge.duplicates) if c.pk != keep[0].pk and c.pk not in retired]
        if dups:
            retired.update(c.pk for c in dups)
            out.folds.append(Fold(keep[0], dups, (merge.wording or "").strip() or None))
    for update in answer.updates:
        current = pick([update.current])
        if not current or current[0].pk in retired:
            continue
        for old in pick(update.outdated):
            if old.pk != current[0].pk and old.pk not in retired:
                retired.add(old.pk)
                out.superseded.append((old, current[0]))


def render_prompt(listed: list[Conclusion], card: list[str] | None) -> str:
    number = {c.uid: i for i, c in enumerate(listed, 1)}
    lines = []
    for i, c in enumerate(listed, 1):
        premises = [str(number[s]) for s in c.source_ids or [] if s in number]
        sources = f" (from {', '.join(premises)})" if premises else ""
        lines.append(f"[{i}] {c.level}, {c.observed_at:%Y-%m-%d}, x{c.times_derived}: {c.content}{sources}")
    shown = "\n".join(card) if card else "(empty)"
    return f"Current peer card:\n{shown}\n\nConclusions:\n" + "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- run


@dataclass(frozen=True, slots=True)
class Target:
    scope: Collection
    observer: str
    observed: str
    config: Any


async def _target(deps: Deps, workspace_pk: int, generation_pk: int, payload: dict[str, Any]) -> Target | None:
    """The collection a dream job names in its generation, with its resolved configuration; None when a peer is
    gone."""
    async with deps.db.read() as conn:
        ws = await workspace_repo.find_by_pk(conn, workspace_pk)
        if ws is None:
            return None
        rows = await peer_repo.find_many(conn, ws.pk, [payload["observer"], payload["observed"]])
        if payload["observer"] not in rows or payload["observed"] not in rows:
            return None
        session_config = None
        if payload.get("session"):
            session = await session_repo.find(conn, ws.pk, payload["session"], ws.name)
            session_config = session.configuration if session else None
    config = resolve(deps.defaults_layer(), ws.configuration, session_config)
    scope = Collection(ws.pk, ws.name, generation_pk, rows[payload["observer"]].id, rows[payload["observed"]].id)
    return Target(scope, payload["observer"], payload["observed"], config)


async def run_dream(deps: Deps, job: ClaimedJob) -> None:
    """The `dream` job, in the generation it names."""
    assert job.workspace_pk is not None
    async with deps.db.read() as conn:
        generation = await targets.of_job(deps, conn, job)
    if generation is None:
        return  # retired, failed or deleted meanwhile
    target = await _target(deps, job.workspace_pk, generation.pk, job.payload)
    if target is None or not target.config.dream_enabled:
        return
    dream_type = job.payload.get("dream_type", "omni")
    may_write_card = target.config.peer_card_create
    async with deps.db.read() as conn:
        listed = list(reversed(await repo.recent(conn, target.scope, deps.settings.dream.max_conclusions)))
        card = await card_repo.get(conn, generation.pk, target.scope.observer_pk, target.scope.observed_pk)
    if not listed:
        if dream_type == "card_refresh" and job.payload.get("rebuild") and may_write_card and card:
            async with deps.db.write() as conn:  # nothing left to know: a rebuilt card is empty
                await card_repo.clear(conn, generation.pk, target.scope.observer_pk, target.scope.observed_pk)
        return
    names = {"observer": target.observer, "observed": target.observed}
    if dream_type == "card_refresh":
        if not may_write_card:
            return
        shown = None if job.payload.get("rebuild") else card
        answer = await generation.llm.run("dream", instructions=CARD_INSTRUCTIONS.format(**names), output_type=CardOnly,
                                    prompt=render_prompt(listed, shown), workspace_pk=job.workspace_pk)
        changes = Plan(card=cards.merge([], answer.card))
    else:
        consolidation = await generation.llm.run("dream", instructions=INSTRUCTIONS.format(**names),
                                                 output_type=Consolidation, prompt=render_prompt(listed, card),
                                                 workspace_pk=job.workspace_pk)
        changes = plan(consolidation, listed)
        if not may_write_card:
            changes.card = None
    if changes.empty:
        return
    await _embed(deps, changes)
    async with deps.db.write() as conn:
        await apply(conn, deps.db.dialect, target.scope, changes, deps.now())


async def _embed(deps: Deps, changes: Plan) -> None:
    """Vectors for every new text, in one embedder call, before the write transaction."""
    texts = [d.content for d in changes.derived] + [f.wording for f in changes.folds if f.wording]
    blobs = iter(await conclusion_blobs(deps.embedder, texts)) if texts else iter(())
    for item in changes.derived:
        item.blob = next(blobs)
    for fold in changes.folds:
        if fold.wording:
            fold.blob = next(blobs)


async def apply(conn: AsyncConnection, dialect: Dialect, scope: Collection, changes: Plan, now: datetime) -> None:
    """Write a plan; conclusions no longer current (changed since the dream read them) are left alone."""
    mentioned = [c.pk for f in changes.folds for c in (f.keep, *f.duplicates)]
    mentioned += [c.pk for pair in changes.superseded for c in pair]
    mentioned += [p.pk for d in changes.derived for p in d.premises]
    current = await repo.lock_current(conn, mentioned)
    alive = set(current)  # premises may be merged away below and still be premises (history)
    for fold in changes.folds:
        dups = [d for d in fold.duplicates if d.pk in current]
        if fold.keep.pk not in current or not dups:
            continue
        await repo.fold_in(conn, fold.keep.pk, [d.pk for d in dups], fold.wording, fold.blob)
        await repo.supersede(conn, [d.pk for d in dups], fold.keep.uid, now)
        current.difference_update(d.pk for d in dups)
    for old, new in changes.superseded:
        if old.pk in current and new.pk in current:
            await repo.supersede(conn, [old.pk], new.uid, now)
            current.discard(old.pk)
    existing = await repo.exact_twins_any_level(conn, scope.generation_pk, scope.observer_pk, scope.observed_pk,
                                                [fingerprint(d.content) for d in changes.derived])
    fresh = []
    for item in changes.derived:
        fp = fingerprint(item.content)
        if fp in existing or not all(p.pk in alive for p in item.premises):
            continue
        existing.add(fp)
        fresh.append(NewConclusion(
            observer_pk=scope.observer_pk, observed_pk=scope.observed_pk, session_pk=None, content=item.content,
            observed_at=max(p.observed_at for p in item.premises), level=item.level,
            source_ids=tuple(p.uid for p in item.premises), embedding=item.blob, metadata=item.metadata or None))
    await repo.insert(conn, scope.workspace_pk, scope.generation_pk, fresh, now)
    if changes.card is not None:
        await card_repo.put(conn, dialect, scope.workspace_pk, scope.generation_pk, scope.observer_pk,
                            scope.observed_pk, changes.card, now)


# ----------------------------------------------------------------------------------------------- schedule


async def consider(conn: AsyncConnection, dialect: Dialect, settings: DreamSettings, workspace_pk: int,
                   generation: Generation, observer: tuple[int, str], observed: tuple[int, str], now: datetime
                   ) -> None:
    """Queue (or push back) the collection's automatic dream in a generation (see the module docstring). In the
    caller's transaction."""
    key = in_generation(dream_key("omni", workspace_pk, observer[1], observed[1]), generation)
    due = now + timedelta(minutes=settings.idle_minutes)
    await jobs.push_back(conn, dialect, key, due, now)  # the peer is active again: wait for quiet
    last = await jobs.last_done(conn, key)
    if await repo.count_explicit_since(conn, generation.pk, observer[0], observed[0], last) < settings.threshold:
        return
    if last is not None:
        due = max(due, last + timedelta(hours=settings.min_hours_between))
    job = NewJob(kind="dream", work_unit_key=in_generation(dream_unit(workspace_pk, observer[1], observed[1]),
                                                           generation),
                 dedupe_key=key, workspace_pk=workspace_pk, observed=observed[1], observers=[observer[1]],
                 run_after=due, payload={"observer": observer[1], "observed": observed[1], "dream_type": "omni",
                                         "session": None, "rebuild": False, "auto": True, "generation": generation.pk})
    await jobs.enqueue(conn, dialect, [job], now)

