"""A scoped rederive's carry-over (store/repos/generation_copy.py): what lies outside the scope is copied from the
source generation into the new one, with new public ids and the references between copies remapped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import add_messages, create_session, msg, workspace_pk
from memory_helpers import store_conclusion, store_summary
from sqlalchemy import insert, select, update

from honcho_server.domain.ids import new_id
from honcho_server.services.deps import Deps
from honcho_server.store import tables
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos.generation_copy import copy_outside_scope

c_, g_, p_, s_ = tables.conclusions, tables.generations, tables.peers, tables.sessions
T1, T2 = datetime(2024, 1, 1, 10, 0, tzinfo=UTC), datetime(2024, 1, 1, 10, 1, tzinfo=UTC)
T3, T4 = datetime(2024, 1, 2, 10, 0, tzinfo=UTC), datetime(2024, 1, 2, 10, 1, tzinfo=UTC)

# name: (observer, observed, level, session, observed_at, premises)
CONCLUSIONS: dict[str, tuple[str, str, str, str | None, datetime, list[str]]] = {
    "c1": ("alice", "alice", "explicit", "s1", T1, []),
    "c2": ("alice", "alice", "explicit", "s2", T3, []),
    "c3": ("bob", "bob", "explicit", "s1", T2, []),
    "c4": ("bob", "alice", "explicit", "s2", T3, []),
    "c5": ("bob", "bob", "explicit", "s2", T4, []),
    "c6": ("alice", "alice", "explicit", "s2", T4, []),
    "d1": ("alice", "alice", "deductive", None, T3, ["c1", "c2"]),
    "d2": ("alice", "alice", "inductive", None, T2, ["c1"]),
    "e1": ("alice", "bob", "explicit", None, T1, []),  # written through the API without a session
}
SUPERSEDED = {"c1": "c2", "c2": "c6", "c3": "c5"}  # replaced -> replacement
CARDS = [("alice", "alice"), ("bob", "bob"), ("alice", "bob")]
SUMMARIES = [("s1", "short", 2), ("s1", "long", 2), ("s2", "short", 1), ("s2", "long", 2)]


async def seed(client: httpx.AsyncClient, deps: Deps, ws: str) -> dict[str, Any]:
    """Generation 1 (active) holding the rows above, and a building generation 2 to copy into."""
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code in (200, 201)
    for session, day in (("s1", T1), ("s2", T3)):
        await create_session(client, ws, session, peers={"alice": {}, "bob": {}})
        await add_messages(client, ws, session, [
            msg("alice", f"{session} one", created_at=day.isoformat()),
            msg("bob", f"{session} two", created_at=(day + timedelta(minutes=1)).isoformat())])
    uids: dict[str, str] = {}
    for name, (observer, observed, level, session, when, premises) in CONCLUSIONS.items():
        uids[name] = await store_conclusion(deps, ws, observer, observed, name, level=level, session=session,
                                            observed_at=when, times_derived=len(name), message_ids=[f"m-{name}"],
                                            source_ids=[uids[p] for p in premises] or None)
    ws_pk = await workspace_pk(deps, ws)
    assert ws_pk is not None
    async with deps.db.write() as conn:
        await conn.execute(update(c_).where(c_.c.uid == uids["d1"]).values(metadata={"premises": 2}))
        for old, new in SUPERSEDED.items():
            await conn.execute(update(c_).where(c_.c.uid == uids[old]).values(superseded_by=uids[new],
                                                                                superseded_at=T4))
        pks = {r.name: r.id for r in await conn.execute(select(p_.c.name, p_.c.id).where(p_.c.workspace_id == ws_pk))}
        source = (await conn.execute(select(g_.c.id).where(g_.c.workspace_id == ws_pk))).scalar_one()
        for observer, observed in CARDS:
            await card_repo.put(conn, deps.db.dialect, ws_pk, source, pks[observer], pks[observed],
                                [f"IDENTITY: {observer} on {observed}"], T2)
        target = (await conn.execute(insert(g_).values(
            workspace_id=ws_pk, number=2, state="building", recipe={}, fingerprint="f", scope={}, started_by="test",
            progress={}, created_at=T4).returning(g_.c.id))).scalar_one()
    messages = {(r.session, r.seq): r.uid for r in await _rows(deps, select(
        s_.c.name.label("session"), tables.messages.c.seq, tables.messages.c.uid)
        .join(s_, s_.c.id == tables.messages.c.session_id).where(s_.c.workspace_id == ws_pk))}
    for session, kind, last_seq in SUMMARIES:
        await store_summary(deps, ws, session, kind, last_seq=last_seq, message_id=messages[(session, last_seq)],
                            token_count=10, content=f"{session} {kind}")
    return {"ws_pk": ws_pk, "source": source, "target": target, "uids": uids, "peers": {v: k for k, v in pks.items()}}


async def _rows(deps: Deps, query: Any) -> list[Any]:
    async with deps.db.read() as conn:
        return list(await conn.execute(query))


async def snapshot(deps: Deps, generation: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of one generation, in a stable order."""
    out = {}
    for table, order in ((c_, c_.c.id), (tables.peer_cards, tables.peer_cards.c.observer_id),
                         (tables.summaries, tables.summaries.c.id)):
        rows = await _rows(deps, select(table).where(table.c.generation_id == generation)
                           .order_by(order, *table.primary_key.columns))
        out[table.name] = [tuple(r) for r in rows]
    return out


async def copy(deps: Deps, world: dict[str, Any], scope: dict[str, Any]) -> dict[str, int]:
    async with deps.db.write() as conn:
        return await copy_outside_scope(conn, world["ws_pk"], world["source"], world["target"], scope)


# (scope, conclusions copied, their remapped references {name: (premises, superseded_by)}, cards, summaries)
CASES: dict[str, tuple[dict[str, Any], set[str], dict[str, tuple[list[str] | None, str | None]],
                       set[tuple[str, str]], set[tuple[str, str]]]] = {
    "peer": ({"peer": "alice"}, {"c3", "c5", "e1"}, {"c3": (None, "c5")},
             {("bob", "bob"), ("alice", "bob")}, {(s, k) for s, k, _ in SUMMARIES}),
    # Derived levels carry no session: copied, their premises in s1 dropped (d2 keeps none).
    "sessions": ({"sessions": ["s1"]}, {"c2", "c4", "c5", "c6", "d1", "d2", "e1"},
                 {"c2": (None, "c6"), "d1": (["c2"], None), "d2": (None, None)},
                 set(CARDS), {("s2", "short"), ("s2", "long")}),
    # What was learned from T3 on is derived again: c1 and c3 are current again until a dream replaces them.
    "since": ({"since": T3.isoformat()}, {"c1", "c3", "d2", "e1"},
              {"c1": (None, None), "c3": (None, None), "d2": (["c1"], None)},
              set(CARDS), {("s1", "short"), ("s1", "long")}),
    # Rules together: only what every one of them takes is in scope.
    "peer and since": ({"peer": "alice", "since": "2024-01-02T10:00:00Z"}, {"c1", "c3", "c5", "d2", "e1"},
                       {"c1": (None, None), "c3": (None, "c5"), "d2": (["c1"], None)},
                       {("bob", "bob"), ("alice", "bob")}, {(s, k) for s, k, _ in SUMMARIES}),
    "sessions and since": ({"sessions": ["s2"], "since": T4.isoformat()},
                           {"c1", "c2", "c3", "c4", "d1", "d2", "e1"},
                           {"c1": (None, "c2"), "c2": (None, None), "c3": (None, None), "d1": (["c1", "c2"], None),
                            "d2": (["c1"], None)},
                           set(CARDS), {("s1", "short"), ("s1", "long"), ("s2", "short")}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_copies_exactly_what_lies_outside_the_scope(client: httpx.AsyncClient, deps: Deps, ws: str,
                                                          case: str) -> None:
    scope, names, references, cards, kept_summaries = CASES[case]
    world = await seed(client, deps, ws)
    before = await snapshot(deps, world["source"])
    counts = await copy(deps, world, scope)
    assert counts == {"conclusions": len(names), "peer_cards": len(cards), "summaries": len(kept_summaries)}
    assert await snapshot(deps, world["source"]) == before  # the source generation is untouched

    originals = {r.content: r for r in await _rows(deps, select(c_).where(c_.c.generation_id == world["source"]))}
    copies = {r.content: r for r in await _rows(deps, select(c_).where(c_.c.generation_id == world["target"]))}
    assert set(copies) == names
    new_uids = {name: row.uid for name, row in copies.items()}
    assert not set(new_uids.values()) & {r.uid for r in originals.values()}  # new public ids
    same = [c.name for c in c_.c if c.name not in ("id", "uid", "generation_id", "source_ids", "superseded_by",
                                                   "superseded_at")]
    for name, row in copies.items():
        old = originals[name]
        assert {k: getattr(row, k) for k in same} == {k: getattr(old, k) for k in same}, name
        premises, by = references.get(name, (None, None))
        assert row.source_ids == ([new_uids[p] for p in premises] if premises else None), name
        assert row.superseded_by == (new_uids[by] if by else None), name
        assert row.superseded_at == (old.superseded_at if by else None), name
    assert copies["e1"].embedding is not None and copies["e1"].embedding == originals["e1"].embedding

    peers = world["peers"]
    found_cards = await _rows(deps, select(tables.peer_cards).where(tables.peer_cards.c.generation_id
                                                                    == world["target"]))
    assert {(peers[r.observer_id], peers[r.observed_id]) for r in found_cards} == cards
    assert all(r.entries == [f"IDENTITY: {peers[r.observer_id]} on {peers[r.observed_id]}"] and r.updated_at == T2
               for r in found_cards)
    sm = tables.summaries
    found_summaries = await _rows(deps, select(s_.c.name, sm.c.kind, sm.c.content, sm.c.last_seq, sm.c.message_uid)
                                  .join(s_, s_.c.id == sm.c.session_id).where(sm.c.generation_id == world["target"]))
    assert {(r.name, r.kind) for r in found_summaries} == kept_summaries
    assert all(r.content == f"{r.name} {r.kind}" for r in found_summaries)


async def test_the_whole_workspace_copies_nothing_derived(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    world = await seed(client, deps, ws)
    for scope in ({}, {"peer": None, "sessions": [], "since": None}):
        assert await copy(deps, world, scope) == {"conclusions": 0, "peer_cards": 0, "summaries": 0}
    assert await snapshot(deps, world["target"]) == {"conclusions": [], "peer_cards": [], "summaries": []}


@pytest.mark.parametrize("scope", [{}, {"peer": "alice"}, {"since": "2020-01-01T00:00:00Z"}])
async def test_an_apps_own_conclusions_are_copied_whatever_the_scope(client: httpx.AsyncClient, deps: Deps, ws: str,
                                                                    scope: dict[str, Any]) -> None:
    """Written through the API (read from no message), no rederive can make them again."""
    world = await seed(client, deps, ws)
    mine = await store_conclusion(deps, ws, "alice", "alice", "alice said so herself", observed_at=T4)
    derived = await copy(deps, world, scope)
    copied = await _rows(deps, select(c_.c.content, c_.c.uid).where(c_.c.generation_id == world["target"]))
    assert ("alice said so herself" in [r.content for r in copied]) and mine not in [r.uid for r in copied]
    if scope == {}:
        assert derived["conclusions"] == 1, "a whole-workspace rederive carries only the app's own"


async def test_a_scope_naming_nothing_copies_everything(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """A peer or sessions that do not exist take nothing into the scope."""
    world = await seed(client, deps, ws)
    assert await copy(deps, world, {"peer": "nobody", "sessions": ["missing"]}) == {
        "conclusions": len(CONCLUSIONS), "peer_cards": len(CARDS), "summaries": len(SUMMARIES)}


async def test_references_across_batches(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    """1,200 conclusions in a chain (each superseded by the next, each citing the one before) copied in batches:
    every reference, forward or back, lands on the copy."""
    world = await seed(client, deps, ws)
    pks = {v: k for k, v in world["peers"].items()}
    chain = [new_id() for _ in range(1200)]
    rows = [dict(uid=uid, workspace_id=world["ws_pk"], generation_id=world["source"], observer_id=pks["alice"],
                 observed_id=pks["alice"], session_id=None, level="deductive", content=f"link {i}", fingerprint=str(i),
                 times_derived=1, message_ids=None, source_ids=[chain[i - 1]] if i else None, observed_at=T1,
                 about_at=None, metadata={}, embedding=None, superseded_by=chain[i + 1] if i + 1 < len(chain) else None,
                 superseded_at=T2 if i + 1 < len(chain) else None, created_at=T1) for i, uid in enumerate(chain)]
    async with deps.db.write() as conn:
        await conn.execute(insert(c_), rows)
    counts = await copy(deps, world, {"peer": "bob"})
    assert counts["conclusions"] == 1200 + 6  # the chain, and the seeded ones not about bob (c1 c2 c4 c6 d1 d2)
    copied = {r.content: r for r in await _rows(deps, select(c_).where(c_.c.generation_id == world["target"],
                                                                       c_.c.content.like("link %")))}
    uid = {int(name.split()[1]): r.uid for name, r in copied.items()}
    assert len(uid) == 1200 and not set(uid.values()) & set(chain)
    for i, row in ((int(n.split()[1]), r) for n, r in copied.items()):
        assert row.source_ids == ([uid[i - 1]] if i else None)
        assert row.superseded_by == (uid[i + 1] if i + 1 < len(chain) else None)
