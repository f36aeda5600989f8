"""Compare two generations of a workspace (docs/generations.md, "Compare"): per (observer, observed) pair, the
conclusions each holds by level, those only one holds (by content fingerprint), near-duplicates among those (the
same fact worded differently), and the peer cards' entries added and removed; the newest summaries per session;
each generation's usage. `a` is the baseline, `b` the candidate: "added" means in b and not in a.

The answer is bounded: a few conclusions are listed per side and pair (with counts of all), and the pairs and
sessions with the most differences come first, up to a limit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from honcho_server.errors import NotFound
from honcho_server.services import generations, workspaces
from honcho_server.services.deps import Deps
from honcho_server.services.generations import GenerationInfo
from honcho_server.store.repos import generation_compare as repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos.generation_compare import Differing

LISTED = 50  # conclusions listed per side and pair (and near-duplicate pairs per pair)
NEAR = 0.9  # cosine similarity from which two conclusions count as the same fact reworded
CHECKED = 2000  # conclusions per side and pair searched for near-duplicates (a 2000 x 2000 matrix at most)
PAIRS_LISTED = 200
SESSIONS_LISTED = 200

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Comparison:
    a: GenerationInfo
    b: GenerationInfo
    peer: str | None
    pairs: list[dict[str, Any]]  # the pairs with the most differences first, at most PAIRS_LISTED
    pairs_total: int
    summaries: list[dict[str, Any]]  # sessions whose summaries differ first, at most SESSIONS_LISTED
    sessions_total: int


async def compare(deps: Deps, workspace: str, a: str, b: str, peer: str | None = None) -> Comparison:
    """Compare generation `b` with the baseline `a` (public ids or names); only the memory about `peer` (the
    observed peer, and the sessions it took part in) when given."""
    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace)
        first, second = await generations.find_info(conn, ws, a), await generations.find_info(conn, ws, b)
        observed_pk = None
        if peer is not None:
            found = await peer_repo.find(conn, ws.pk, peer, ws.name)
            if found is None:
                raise NotFound(f"Peer {peer} not found")
            observed_pk = found.pk
        ga, gb = first.generation.pk, second.generation.pk
        counts = await repo.level_counts(conn, ws.pk, [ga, gb], observed_pk)
        only_a = await repo.only_in(conn, ws.pk, ga, gb, observed_pk)
        only_b = await repo.only_in(conn, ws.pk, gb, ga, observed_pk)
        cards = await repo.cards(conn, ws.pk, [ga, gb], observed_pk)
        summaries = await repo.latest_summaries(conn, ws.pk, [ga, gb], observed_pk)
    pairs = _pairs(ga, counts, only_a, only_b, cards)
    sessions = _summaries(ga, summaries)
    return Comparison(first, second, peer, pairs[:PAIRS_LISTED], len(pairs), sessions[:SESSIONS_LISTED],
                      len(sessions))


def _pairs(ga: int, counts: list[tuple[int, str, str, str, int]], only_a: list[Differing], only_b: list[Differing],
           cards: list[tuple[int, str, str, list[str]]]) -> list[dict[str, Any]]:
    levels: dict[Pair, dict[str, dict[str, int]]] = defaultdict(lambda: {"a": {}, "b": {}})
    for generation, observer, observed, level, n in counts:
        levels[(observer, observed)]["a" if generation == ga else "b"][level] = n
    by_pair: dict[Pair, tuple[list[Differing], list[Differing]]] = defaultdict(lambda: ([], []))
    for side, rows in ((0, only_a), (1, only_b)):
        for row in rows:
            by_pair[(row.observer, row.observed)][side].append(row)
    entries: dict[Pair, dict[str, list[str]]] = defaultdict(dict)
    for generation, observer, observed, listed in cards:
        entries[(observer, observed)]["a" if generation == ga else "b"] = listed
    found: list[tuple[int, dict[str, Any]]] = []
    for pair in sorted(set(levels) | set(by_pair) | set(entries)):
        left, right = by_pair.get(pair, ([], []))
        card = _card(entries.get(pair, {}))
        differences = len(left) + len(right) + len(card["added"]) + len(card["removed"])
        found.append((differences, {
            "observer": pair[0], "observed": pair[1], "levels": levels.get(pair, {"a": {}, "b": {}}),
            "only_in_a": _listed(left), "only_in_b": _listed(right), "near_duplicates": _near(left, right),
            "card": card}))
    found.sort(key=lambda p: -p[0])  # stable: by pair within the same count
    return [p for _, p in found]


def _listed(rows: list[Differing]) -> dict[str, Any]:
    return {"count": len(rows), "listed": [{"id": r.uid, "level": r.level, "content": r.content}
                                           for r in rows[:LISTED]]}


def _card(sides: dict[str, list[str]]) -> dict[str, Any]:
    a, b = sides.get("a"), sides.get("b")
    before, after = set(a or []), set(b or [])
    return {"a_entries": None if a is None else len(a), "b_entries": None if b is None else len(b),
            "added": [e for e in b or [] if e not in before], "removed": [e for e in a or [] if e not in after]}


def _near(left: list[Differing], right: list[Differing]) -> dict[str, Any]:
    """Near-duplicate pairs across the two sides, each conclusion in one pair at most."""
    left_checked, right_checked = left[:CHECKED], right[:CHECKED]
    matches = near_pairs([r.embedding for r in left_checked], [r.embedding for r in right_checked], NEAR)
    return {"count": len(matches), "complete": len(left) <= CHECKED and len(right) <= CHECKED,
            "listed": [{"a": {"id": left_checked[i].uid, "content": left_checked[i].content},
                        "b": {"id": right_checked[j].uid, "content": right_checked[j].content},
                        "similarity": round(similarity, 4)} for i, j, similarity in matches[:LISTED]]}


def near_pairs(left: Sequence[bytes | None], right: Sequence[bytes | None], threshold: float
               ) -> list[tuple[int, int, float]]:
    """(index in left, index in right, cosine) of vectors at least `threshold` alike, paired greedily (the most
    alike first, each index used once), most alike first. Vectors are stored float32 blobs; only vectors of the
    same size are compared (others come from another embedder), and missing ones are skipped."""
    by_size: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for side, vectors in ((0, left), (1, right)):
        for index, blob in enumerate(vectors):
            if blob:
                by_size[len(blob)][side].append(index)
    candidates: list[tuple[float, int, int]] = []
    for size, (lefts, rights) in by_size.items():
        if not lefts or not rights or size % 4:
            continue
        a = _unit(np.frombuffer(b"".join(left[i] or b"" for i in lefts), dtype="<f4").reshape(len(lefts), -1))
        b = _unit(np.frombuffer(b"".join(right[j] or b"" for j in rights), dtype="<f4").reshape(len(rights), -1))
        scores = a @ b.T
        for i, j in zip(*np.nonzero(scores >= threshold), strict=True):
            candidates.append((float(scores[i, j]), lefts[int(i)], rights[int(j)]))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_left: set[int] = set()
    used_right: set[int] = set()
    paired = []
    for score, i, j in candidates:
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            paired.append((i, j, score))
    return paired


def _unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (stored vectors should be already; a zero row stays zero and matches nothing)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _summaries(ga: int, rows: list[tuple[int, str, str, str]]) -> list[dict[str, Any]]:
    texts: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for generation, session, kind, content in rows:
        texts[session][kind]["a" if generation == ga else "b"] = content
    found = []
    for session in sorted(texts):
        entry: dict[str, Any] = {"session": session}
        for kind in ("short", "long"):
            sides = texts[session].get(kind, {})
            a, b = sides.get("a"), sides.get("b")
            entry[kind] = {"a_length": None if a is None else len(a), "b_length": None if b is None else len(b),
                           "differs": a != b}
        found.append(entry)
    found.sort(key=lambda e: not (e["short"]["differs"] or e["long"]["differs"]))  # stable: by name within
    return found
