"""Message search: the one retrieval path behind the workspace, peer and session search routes.

Hybrid retrieval in four steps, every one bounded by the candidate count, never by the workspace size:

1. lexical candidates: the full-text index (FTS5 bm25 / tsvector rank), any of the query's content words except
   the names of the workspace's peers: a peer's name is indexed with every message it wrote and every reply to
   it, so within its workspace it is close to a stop word, while the index's statistics (over all workspaces)
   make it look rare and let it outweigh the words that carry the question. The speaker still counts on the
   meaning side, where the sender's name is part of every message's vector (search/documents.py). On LoCoMo,
   where most questions name a speaker, recall@10 0.688 -> 0.706;
2. vector candidates: nearest neighbours of the query vector, with session, peer and time filters applied
   inside the scan (search/pushdown.py);
3. score fusion: `alpha * text score / best text score + (1 - alpha) * cosine`, with the exact cosine of
   every candidate (lexical candidates that the KNN missed get theirs looked up), damped for long messages by
   `min(1, sqrt(long_words / words))`: a long message shares some words and some meaning with almost any
   question, so both scores over-rank it (on BEAM, messages over 320 words were 20% of the evidence but 43%
   of the vector top 10);
4. context: each message also gets `beta *` the better score of its neighbours (the previous and next
   message of its session), because an answer often sits in the reply to the turn that matches the
   question's words.

A query of stop words only ("the", "what is it?") has no words for the index: its lexical candidates are the
messages holding the query's text literally (case-insensitive), newest first, and it is embedded as asked, so
once messages are embedded the nearest ones by meaning are found too (the reference answers such a query the
same two ways).

The caller's filters are applied to every message that can be returned. A message is findable by its words
as soon as its create call returns; by meaning once the worker has embedded it (until then it is scored with
the average cosine of the vector candidates, so it is neither favoured nor buried).
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.models import Message
from honcho_server.search.pushdown import vector_scope
from honcho_server.search.terms import query_terms
from honcho_server.store.engine import Database
from honcho_server.store.repos import search as repo


@dataclass(frozen=True, slots=True)
class Fusion:
    candidates: int = 100  # taken from each of the text and vector indexes
    alpha: float = 0.3  # weight of the normalised text score against the cosine
    beta: float = 0.3  # share of the best neighbour's score a message inherits
    long_words: int = 100  # messages longer than this many words are damped
    cover_rows: int = 2000  # a scope of fewer rows is scanned whole (every cosine from one nearest-neighbour query)


DEFAULT_FUSION = Fusion()


@dataclass(slots=True)
class MessageQuery:
    text: str
    workspace_pk: int
    workspace_name: str
    filters: dict[str, Any] | None
    limit: int
    perspective: str | None = None  # only messages this peer could have seen


async def search_messages(db: Database, query: MessageQuery,
                          vector: Sequence[float] | Awaitable[Sequence[float] | None] | None = None,
                          fusion: Fusion = DEFAULT_FUSION) -> list[Message]:
    """Most relevant first, at most `limit`. Without a query vector (no embedder, or it failed) the text ranking
    alone. `vector` may still be on its way (an awaitable: a remote embedder's round trip): the full-text half
    starts at once and only the nearest-neighbour half waits for it."""
    dialect = db.dialect
    words = query_terms(query.text)
    async with db.read() as conn:
        terms = await _lexical_terms(conn, query.workspace_pk, words)
        # Session and peer filters resolved to keys once: the KNN applies them inside its scan, and the same keys
        # let the text query start from the session's (or peer's) rows instead of every match in the workspace.
        pushed = await vector_scope(conn, query.workspace_pk, query.filters)
        if pushed is None:
            return []  # a session or peer the filters require does not exist
        extra = repo.within(pushed.session_ids, pushed.peer_ids)
        if query.perspective:
            extra.append(repo.seen_by(query.perspective))
        where = repo.scope(dialect, query.workspace_pk, query.workspace_name, query.filters, extra)
        n = max(fusion.candidates, query.limit)
        literal = query.text.strip()
        if not literal:
            return []  # nothing asked (the filters above are still checked)

        async def lexical_side() -> list[tuple[Message, float]]:
            async with db.read() as own:  # its own connection: runs alongside the KNN
                if not words:  # stop words only ("the", "what is it?"): the index has nothing to look up
                    return await repo.substring_candidates(own, query.workspace_name, where, literal, n)
                return await repo.text_candidates(own, dialect, query.workspace_name, where, terms, n,
                                                  pushed.max_rows)

        if vector is None:
            return [m for m, _ in (await lexical_side())[:query.limit]]
        # The two candidate searches are the costly steps and independent: on two connections they overlap
        # (SQLite and PostgreSQL both run them outside the GIL, on the machine's other core). The text half also
        # overlaps the query's embedding when that is still on its way.
        text_half = asyncio.ensure_future(lexical_side())
        try:
            arrived = await vector if inspect.isawaitable(vector) else vector
            if arrived is None:  # the embedder failed: by words alone
                return [m for m, _ in (await text_half)[:query.limit]]
            q = np.asarray(arrived, dtype=np.float32)
            # A small scope (a session's rows, by its counter) is asked for whole: the scan reads every row of
            # it either way, and then the text-only candidates' cosines are known without a second scan.
            whole = pushed.max_rows is not None and n < pushed.max_rows < fusion.cover_rows
            k = pushed.max_rows + 1 if whole and pushed.max_rows is not None else n
            scanned = await dialect.nearest_messages(conn, q, k, pushed)
            lexical = await text_half
        finally:
            settle(text_half)
        near = scanned[:n]
        found = {m.pk: m for m, _ in lexical}
        found.update(await repo.load(conn, query.workspace_name, where, [pk for pk, _ in near if pk not in found]))
        cosine = {pk: sim for pk, sim in near if pk in found}  # the filters the KNN could not apply, applied
        text_only = [pk for pk in found if pk not in cosine]
        if len(scanned) < k:  # the scan returned every vector in scope: a text-only one without is not embedded
            every = dict(scanned)
            cosine.update((pk, every[pk]) for pk in text_only if pk in every)
        else:  # their cosines are computed by the database
            cosine.update(await dialect.similarities(conn, query.workspace_pk, q, text_only))
        scores = _fuse(lexical, found, cosine, fusion)
        return await _with_context(conn, query, where, found, scores, fusion.beta)


def settle(task: asyncio.Future[Any]) -> None:
    """Cancel `task` if it is still running (nothing is left behind on a failure); if it failed, its error is taken
    (it already reached the caller, or does not matter) so that asyncio does not report it as never retrieved."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


async def _lexical_terms(conn: AsyncConnection, workspace_pk: int, terms: list[str]) -> list[str]:
    """The terms without the workspace's peer names (unless nothing else is left: never empty when `terms`
    is not)."""
    names = await repo.peer_name_words(conn, workspace_pk, terms)
    return [t for t in terms if t not in names] or terms


def _fuse(lexical: list[tuple[Message, float]], found: dict[int, Message], cosine: dict[int, float],
          fusion: Fusion) -> dict[int, float]:
    best = max((s for _, s in lexical), default=0.0)
    text = {m.pk: s / best for m, s in lexical} if best > 0 else {}
    # Not embedded yet: score the meaning side as an average candidate.
    unknown = float(np.mean(list(cosine.values()))) if cosine else 0.0
    alpha = fusion.alpha
    return {pk: (alpha * text.get(pk, 0.0) + (1 - alpha) * cosine.get(pk, unknown))
            * min(1.0, math.sqrt(fusion.long_words / max(len(m.content.split()), 1)))
            for pk, m in found.items()}


async def _with_context(conn: AsyncConnection, query: MessageQuery, where: Any, found: dict[int, Message],
                        scores: dict[int, float], beta: float) -> list[Message]:
    """Add neighbour propagation, then load the neighbours that made the cut and return the top `limit`."""
    at = {(m.session_pk, m.seq): pk for pk, m in found.items()}
    base = {pos: scores[pk] for pos, pk in at.items()}
    by_pos = base
    if beta:  # candidates and their neighbours (which score 0 of their own)
        positions = base.keys() | {(s, q + d) for s, q in base for d in (-1, 1)}
        by_pos = {(s, q): base.get((s, q), 0.0) + beta * max(base.get((s, q - 1), 0.0), base.get((s, q + 1), 0.0))
                  for s, q in positions}
    ranked = sorted(by_pos, key=lambda pos: (-by_pos[pos], pos))
    head = ranked[: query.limit * 2]
    new = [pos for pos in head if pos not in at and pos[1] > 0]
    loaded = await repo.at_positions(conn, query.workspace_name, where, new)
    out: list[Message] = []
    for pos in ranked:
        message = found[at[pos]] if pos in at else loaded.get(pos)
        if message is not None:
            out.append(message)
            if len(out) == query.limit:
                break
    return out
