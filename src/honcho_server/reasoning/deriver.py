"""The deriver: turns a sender's messages into explicit conclusions about that sender, for each observer.

A representation job covers one sender's messages in one session (its work unit). The job at the head of the unit
takes in the jobs queued behind it while the conversation window stays within `deriver.max_input_tokens`, so one
LLM call covers a whole batch (services/ingest_jobs.py makes small batches wait for more). The window is the
sender's messages plus, before each, the message it answered when another peer wrote it.

One call per window extracts the conclusions (and durable identity facts for the peer card, when the
configuration lets reasoning write cards); the conclusions are embedded once and written to every observer's collection
with exact and semantic dedup that reinforces (`times_derived`) instead of duplicating. A malformed answer is
re-asked by the LLM layer and then fails the job (retried, then parked with the error): it is never recorded
as "nothing to learn". Re-running a job is harmless: a conclusion already derived from the same messages is not
counted again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from honcho_server.config import DeriverSettings
from honcho_server.domain import cards
from honcho_server.domain import webhooks as events
from honcho_server.domain.conclusions import NewConclusion, fingerprint
from honcho_server.queue import jobs
from honcho_server.queue.jobs import ClaimedJob
from honcho_server.reasoning import dreams, targets
from honcho_server.search.terms import query_terms
from honcho_server.services import webhooks
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import conclusion_blobs
from honcho_server.store.repos import conclusions as repo
from honcho_server.store.repos import messages
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import scopes as scope_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos.messages import Turn

if TYPE_CHECKING:
    from honcho_server.llm.client import LLMClient

log = logging.getLogger("honcho_server.deriver")
MAX_CONCLUSION_CHARS = 2000

INSTRUCTIONS = """\
You read part of a conversation and write down what it reveals about one participant, the target peer.

Rules for each conclusion:
- One atomic fact, self-contained, in the third person, naming the target by their peer id exactly as given \
(never "the user", "he" or "she").
- Enough context to stand alone: say what someone is nervous about, who the sister is, where the trip goes.
- Only what the target's own messages state or clearly imply about the target: their life, circumstances, \
relationships, plans, preferences, opinions, feelings and experiences. Other participants' messages are context \
for understanding the target (the question the target answered); do not record what others say about themselves.
- Resolve every relative time ("yesterday", "next Friday", "two weeks ago", "last year") to an absolute date \
using the timestamp of the message it appears in, never today's date, and write that date into the fact.
- `sources`: the numbers of the messages the fact rests on.
- `about`: the date the fact refers to (YYYY-MM-DD, YYYY-MM or YYYY) when the messages give or imply one, else null.
- No duplicates, no speculation, nothing invented. If the messages reveal nothing about the target, return an \
empty list.

`card`: only durable identity facts about the target stated here (name, age, home, work, family and other lasting \
relationships, standing preferences, standing instructions for the assistant), each starting with IDENTITY:, \
ATTRIBUTE:, RELATIONSHIP: or INSTRUCTION: and at most one line. Usually empty.
"""


class Extracted(BaseModel):
    content: str = Field(description="one atomic, self-contained fact about the target, naming them by peer id")
    sources: list[int] = Field(default_factory=list, description="numbers of the messages the fact rests on")
    about: str | None = Field(default=None, description="YYYY-MM-DD, YYYY-MM or YYYY the fact refers to, or null")


class Extraction(BaseModel):
    conclusions: list[Extracted] = Field(description="facts about the target peer; empty when there are none")
    card: list[str] = Field(default_factory=list, description="durable identity facts for the target's card")


@dataclass(slots=True)
class Batch:
    """The head job and the jobs it takes in: one sender, one observer set, one configuration."""

    observed: str
    observers: list[str]
    config: dict[str, Any]
    seqs: list[int]
    absorbed: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Candidate:
    content: str
    message_ids: list[str]
    observed_at: datetime
    about_at: datetime | None
    blob: bytes | None = None  # the stored vector (float32, unit length)

    @property
    def vector(self) -> np.ndarray | None:
        return None if self.blob is None else np.frombuffer(self.blob, dtype="<f4")


# ------------------------------------------------------------------------------------------------- windows


def window(turns: dict[int, Turn], seqs: list[int], observed: str) -> list[Turn]:
    """The sender's messages in order, each preceded by the message before it when another peer wrote it."""
    out: dict[int, Turn] = {}
    for seq in sorted(seqs):
        before = turns.get(seq - 1)
        if before is not None and before.peer_name != observed:
            out[before.seq] = before
        if seq in turns:
            out[seq] = turns[seq]
    return [out[s] for s in sorted(out)]


def split(turns: dict[int, Turn], seqs: list[int], observed: str, limit: int) -> list[list[Turn]]:
    """Windows of at most `limit` tokens covering `seqs` in order (a message larger than that stands alone)."""
    groups: list[list[int]] = []
    for seq in sorted(seqs):
        if groups and _tokens(window(turns, [*groups[-1], seq], observed)) <= limit:
            groups[-1].append(seq)
        else:
            groups.append([seq])
    return [w for w in (window(turns, g, observed) for g in groups) if w]


def _tokens(turns: list[Turn]) -> int:
    return sum(t.token_count for t in turns)


def render_prompt(target: str, turns: list[Turn], custom_instructions: str | None) -> str:
    lines = [f"[{i}] {t.created_at:%Y-%m-%d %H:%M} {t.peer_name}: {t.content}" for i, t in enumerate(turns, 1)]
    extra = f"Additional instructions from the application:\n{custom_instructions.strip()}\n\n" \
        if custom_instructions and custom_instructions.strip() else ""
    return (f"{extra}Target peer: {target}\n\nMessages (numbered; timestamps are when each was sent, UTC):\n"
            + "\n".join(lines))


# ----------------------------------------------------------------------------------------- model answers

_ABOUT = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def parse_about(value: str | None) -> datetime | None:
    """YYYY[-MM[-DD]] as a UTC midnight; None when absent or not a date (a bad date never fails a job)."""
    match = _ABOUT.match(value or "")
    if match is None:
        return None
    year, month, day = int(match.group(1)), int(match.group(2) or 1), int(match.group(3) or 1)
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def candidates(answer: Extraction, turns: list[Turn], observed: str) -> list[Candidate]:
    """The answer's facts with their source messages (numbers that point nowhere are dropped; a fact citing
    nothing valid rests on the sender's messages in the window)."""
    own = [t for t in turns if t.peer_name == observed] or turns
    out: list[Candidate] = []
    for item in answer.conclusions:
        content = " ".join(item.content.split())[:MAX_CONCLUSION_CHARS]
        if not content:
            continue
        cited = [turns[n - 1] for n in dict.fromkeys(item.sources) if 1 <= n <= len(turns)] or own
        out.append(Candidate(content=content, message_ids=[t.uid for t in cited],
                             observed_at=max(t.created_at for t in cited), about_at=parse_about(item.about)))
    return out


# ---------------------------------------------------------------------------------------------- dedup

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def same_claim(a: str, b: str) -> bool:
    """Whether two close wordings state the same fact: the same numbers, and most content words shared (or one
    wording's words all in the other). Similar vectors alone are not enough: "likes tea" and "likes coffee"
    embed close together and are different facts."""
    if sorted(_NUMBER.findall(a)) != sorted(_NUMBER.findall(b)):
        return False
    wa, wb = set(query_terms(a)), set(query_terms(b))
    if not wa or not wb:
        return False
    return wa <= wb or wb <= wa or len(wa & wb) / len(wa | wb) >= 0.6


def richer(new: str, old: str) -> bool:
    """The new wording carries more: every old content word plus at least one more."""
    wn, wo = set(query_terms(new)), set(query_terms(old))
    return wo < wn


@dataclass(slots=True)
class _Kept:
    pk: int | None  # None: new in this batch
    content: str
    message_ids: list[str]
    vector: np.ndarray | None
    candidate: Candidate | None = None


@dataclass(slots=True)
class Saved:
    inserted: int = 0
    reinforced: int = 0


async def save(conn: Any, workspace_pk: int, generation_pk: int, session_pk: int, observer_pk: int,
               observed_pk: int, found: list[Candidate], settings: DeriverSettings, dimensions: int,
               now: datetime) -> Saved:
    """Write `found` to one observer's collection in a generation: a twin (exact, or close in meaning and wording)
    is reinforced instead of stored again, unless it already rests on the same messages (a re-run)."""
    saved = Saved()
    exact = await repo.exact_twins(conn, generation_pk, observer_pk, observed_pk, "explicit", session_pk,
                                   [fingerprint(c.content) for c in found])
    known_twins, matrix = await repo.vectors(conn, generation_pk, observer_pk, observed_pk, "explicit", session_pk,
                                             dimensions)
    kept = [_Kept(t.pk, t.content, list(t.message_ids or []), matrix[i]) for i, t in enumerate(known_twins)]
    # One _Kept per stored row, whichever way it is matched: its message ids accumulate across the batch.
    by_pk = {k.pk: k for k in kept}
    by_fp = {fp: by_pk.get(t.pk) or _Kept(t.pk, t.content, list(t.message_ids or []), None)
             for fp, t in exact.items()}
    for cand in found:
        fp = fingerprint(cand.content)
        twin = by_fp.get(fp) or _semantic_twin(kept, cand, settings.dedup_similarity)
        if twin is None:
            fresh = _Kept(None, cand.content, list(cand.message_ids), cand.vector, cand)
            by_fp[fp] = fresh
            kept.append(fresh)
            continue
        if set(cand.message_ids) <= set(twin.message_ids):
            continue  # derived from these very messages before: a re-run, not a new derivation
        twin.message_ids = list(dict.fromkeys([*twin.message_ids, *cand.message_ids]))
        if twin.pk is None:  # twice in one batch: one conclusion citing both
            assert twin.candidate is not None
            twin.candidate.message_ids = twin.message_ids
            continue
        await repo.reinforce(conn, twin.pk, twin.message_ids)
        saved.reinforced += 1
        if richer(cand.content, twin.content):
            await repo.replace_content(conn, twin.pk, cand.content, cand.blob)
            twin.content = cand.content
    new = [k.candidate for k in kept if k.pk is None and k.candidate is not None]
    await repo.insert(conn, workspace_pk, generation_pk, [
        NewConclusion(observer_pk=observer_pk, observed_pk=observed_pk, session_pk=session_pk, content=c.content,
                      observed_at=c.observed_at, about_at=c.about_at, message_ids=tuple(c.message_ids),
                      embedding=c.blob) for c in new], now)
    saved.inserted = len(new)
    return saved


def _semantic_twin(kept: list[_Kept], cand: Candidate, threshold: float) -> _Kept | None:
    vector = cand.vector
    if vector is None:
        return None
    best, best_sim = None, threshold
    for item in kept:
        if item.vector is None:
            continue
        sim = float(item.vector @ vector)
        if sim >= best_sim and same_claim(cand.content, item.content):
            best, best_sim = item, sim
    return best


# ------------------------------------------------------------------------------------------------ the job


async def gather(deps: Deps, job: ClaimedJob) -> tuple[Batch, dict[int, Turn]]:
    """The head job's batch, with the queued jobs behind it taken in while the window fits."""
    p = job.payload
    batch = Batch(observed=p["observed"], observers=list(p["observers"]), config=dict(p.get("config") or {}),
                  seqs=[int(s) for s in p["seqs"]])
    limit = deps.settings.deriver.max_input_tokens
    async with deps.db.read() as conn:
        if not await session_repo.is_active(conn, job.session_pk or 0):
            return batch, {}  # deleted meanwhile: nothing to derive
        queued = [f for f in await jobs.followers(conn, job)
                  if f.payload.get("observers") == p["observers"] and f.payload.get("config") == p.get("config")]
        wanted = batch.seqs + [int(s) for f in queued for s in f.payload["seqs"]]
        turns = {t.seq: t for t in await messages.turns_at(conn, job.session_pk or 0,
                                                           wanted + [s - 1 for s in wanted])}
    for follower in queued:  # in queue order; stop at the first that would overflow the window
        seqs = batch.seqs + [int(s) for s in follower.payload["seqs"]]
        if _tokens(window(turns, seqs, batch.observed)) > limit:
            break
        batch.seqs, batch.absorbed = seqs, [*batch.absorbed, follower.id]
    return batch, turns


async def extract(llm: LLMClient, workspace_pk: int, batch: Batch, turns: dict[int, Turn], limit: int,
                  recipe: dict[str, Any] | None = None) -> tuple[list[Candidate], list[str]]:
    """One LLM call per window of the batch (usually one): the conclusions, and card entries proposed. A
    generation's recipe may set its own custom instructions (replacing the configuration's)."""
    found: list[Candidate] = []
    card: list[str] = []
    custom = (recipe or {}).get("custom_instructions", batch.config.get("custom_instructions"))
    for part in split(turns, batch.seqs, batch.observed, limit):
        answer = await llm.run("deriver", instructions=INSTRUCTIONS, output_type=Extraction,
                               prompt=render_prompt(batch.observed, part, custom), workspace_pk=workspace_pk)
        found.extend(candidates(answer, part, batch.observed))
        card.extend(answer.card)
    return found, card


async def derive(deps: Deps, job: ClaimedJob) -> None:
    """The `representation` job (see the module docstring), into the generation it names."""
    assert job.workspace_pk is not None and job.session_pk is not None
    clock = deps.now
    async with deps.db.read() as conn:
        target = await targets.of_job(deps, conn, job)
    if target is None:
        return  # its generation was retired, failed or deleted: nothing to derive into
    batch, turns = await gather(deps, job)
    found, card = await extract(target.llm, job.workspace_pk, batch, turns, deps.settings.deriver.max_input_tokens,
                                target.generation.recipe)
    card = card if batch.config.get("peer_card_create", True) else []
    dims = deps.embedder.dimensions
    if found:  # embedded once for every observer, before the write transaction (the embedder may be remote)
        blobs = await conclusion_blobs(deps.embedder, [c.content for c in found])
        for cand, blob in zip(found, blobs, strict=True):
            cand.blob = blob
    async with deps.db.write() as conn:
        found, card = await _still_sourced(conn, job.session_pk, turns, found, card)
        batch.observers = await scope_repo.reconcile_observers(conn, job.session_pk, batch.observers)
        peers = await peer_repo.find_many(conn, job.workspace_pk, [batch.observed, *batch.observers])
        observed = peers.get(batch.observed)
        observers = [peers[n] for n in dict.fromkeys(batch.observers) if n in peers] if observed else []
        learned: dict[str, dict[str, int]] = {}  # observer -> counts, for the conclusions.derived event
        for observer in observers:
            assert observed is not None
            if found:
                result = await save(conn, job.workspace_pk, target.pk, job.session_pk, observer.id, observed.id,
                                    _copies(found), deps.settings.deriver, dims, clock())
                log.debug("deriver %s -> %s: %d new, %d reinforced", observer.name, batch.observed,
                          result.inserted, result.reinforced)
                if result.inserted or result.reinforced:
                    learned[observer.name] = {"new": result.inserted, "reinforced": result.reinforced}
                if batch.config.get("dream_enabled", True):
                    await dreams.consider(conn, deps.db.dialect, deps.settings.dream, job.workspace_pk,
                                          target.generation, (observer.id, observer.name),
                                          (observed.id, observed.name), clock())
            if card:
                current = await card_repo.get(conn, target.pk, observer.id, observed.id)
                merged = cards.merge(current, card)
                if merged != (current or []):
                    await card_repo.put(conn, deps.db.dialect, job.workspace_pk, target.pk, observer.id, observed.id,
                                        merged, clock())
        await _settle_followers(conn, batch, turns, clock())
        if learned and target.generation.state == "active":  # apps hear of the memory their reads serve
            await webhooks.emit_about(conn, deps.db.dialect, clock(), job.workspace_pk, job.session_pk,
                                      events.CONCLUSIONS_DERIVED, {"observed": batch.observed, "observers": learned})


async def _settle_followers(conn: Any, batch: Batch, turns: dict[int, Turn], now: datetime) -> None:
    """The jobs taken in are done, except for messages merged into them while the model worked (queue/jobs.py):
    those stay queued in the job, for the next run."""
    taken = set(batch.seqs)
    done = []
    for job_id, payload in (await jobs.pending_payloads(conn, batch.absorbed)).items():
        rest = [s for s in payload["seqs"] if int(s) not in taken]
        if not rest:
            done.append(job_id)
            continue
        used = sum(turns[int(s)].token_count for s in payload["seqs"] if int(s) in taken and int(s) in turns)
        await jobs.set_payload(conn, job_id, {**payload, "seqs": rest,
                                              "tokens": max(0, int(payload.get("tokens", 0)) - used)}, now)
    await jobs.absorb(conn, done, now)


async def _still_sourced(conn: Any, session_pk: int, turns: dict[int, Turn], found: list[Candidate],
                         card: list[str]) -> tuple[list[Candidate], list[str]]:
    """Messages deleted while the model worked (services/cascade.py) are not cited: a conclusion read only from
    them is dropped, and so are the proposed card entries (they cannot be traced to their messages)."""
    shown = {t.uid for t in turns.values()}
    present = await messages.present_uids(conn, session_pk, sorted(shown))
    if present == shown:
        return found, card
    kept = []
    for cand in found:
        cand.message_ids = [m for m in cand.message_ids if m in present]
        if cand.message_ids:
            kept.append(cand)
    return kept, []


def _copies(found: list[Candidate]) -> list[Candidate]:
    """Fresh candidates per observer (saving merges message ids into them)."""
    return [Candidate(c.content, list(c.message_ids), c.observed_at, c.about_at, c.blob) for c in found]
