"""Message vectors and filtered nearest-neighbour search (store/dialect), on SQLite (sqlite-vec) and PostgreSQL
(pgvector), checked against numpy ground truth.

The test databases are shared by the whole session, so the vector table is created with 256 dimensions (the
default local embedder's) and never dropped there; the drop / recreate test uses a database of its own.
"""

from __future__ import annotations

import itertools
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, text

from honcho_server.domain.ids import new_id
from honcho_server.services.deletion import purge_session, purge_workspace
from honcho_server.services.deps import Deps
from honcho_server.store.dialect import MAX_K, VectorScope, VectorsUnavailable, pg_vectors
from honcho_server.store.dialect import sqlite as sqlite_dialect
from honcho_server.store.engine import Database
from honcho_server.store.migrate import schema_drift, upgrade
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.tables import messages, sessions
from support import fresh_database_url, make_settings

DIM = 256
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TOL = 2e-5


# ------------------------------------------------------------------------------------------------ data
def textlike(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    """Unit vectors with a shared direction and a low effective dimension, like sentence embeddings (HNSW recall
    on isotropic noise says little about real data)."""
    base = np.random.default_rng(7).normal(size=dim)
    basis = np.random.default_rng(8).normal(size=(48, dim))
    low = rng.normal(size=(n, 48)) @ basis
    v = 0.5 * base / np.linalg.norm(base) + low / np.linalg.norm(low, axis=1, keepdims=True)
    v += rng.normal(scale=0.3 / np.sqrt(dim), size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class World:
    """One workspace of messages with vectors, and numpy copies of everything for ground truth."""

    workspace_pk: int
    session_pks: list[int]
    peer_pks: list[int]
    ids: np.ndarray
    sessions: np.ndarray
    peers: np.ndarray
    created: list[datetime]
    vectors: np.ndarray
    created_us: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.created_us = np.array([(c - T0) // timedelta(microseconds=1) for c in self.created])

    def mask(self, scope: VectorScope) -> np.ndarray:
        m = np.ones(len(self.ids), dtype=bool)
        if scope.session_ids is not None:
            m &= np.isin(self.sessions, scope.session_ids)
        if scope.peer_ids is not None:
            m &= np.isin(self.peers, scope.peer_ids)
        if scope.created_from is not None:
            m &= self.created_us >= (_aware(scope.created_from) - T0) // timedelta(microseconds=1)
        if scope.created_before is not None:
            m &= self.created_us < (_aware(scope.created_before) - T0) // timedelta(microseconds=1)
        return m

    def truth(self, q: np.ndarray, k: int, scope: VectorScope) -> tuple[np.ndarray, np.ndarray]:
        m = self.mask(scope)
        sims = self.vectors[m].astype(np.float64) @ (q / np.linalg.norm(q))
        order = np.argsort(-sims, kind="stable")[:k]
        return self.ids[m][order], sims[order]

    def sim_of(self, q: np.ndarray) -> dict[int, float]:
        sims = self.vectors.astype(np.float64) @ (q / np.linalg.norm(q))
        return dict(zip(self.ids.tolist(), sims.tolist(), strict=True))

    def at(self, i: int) -> datetime:
        return self.created[i]


async def make_world(deps: Deps, rng: np.random.Generator, *, n: int, n_sessions: int, n_peers: int,
                     peer_of: Sequence[int] | None = None, store: bool = True) -> World:
    """`n` messages, one every ~7 seconds (distinct microseconds), spread over sessions and peers at random
    unless `peer_of` says which peer wrote each."""
    db, dialect, now = deps.db, deps.db.dialect, deps.now()
    name = f"vec-{uuid.uuid4().hex[:12]}"
    async with db.write() as conn:
        ws = await workspace_repo.insert_if_missing(conn, dialect, name, {}, {}, now)
        assert ws is not None
        peer_names = [f"p{i}" for i in range(n_peers)]
        await peer_repo.insert_missing(conn, dialect, ws.pk, peer_names, now)
        peer_rows = await peer_repo.find_many(conn, ws.pk, peer_names)
        peer_pks = [peer_rows[p].id for p in peer_names]
        session_pks = []
        for i in range(n_sessions):
            s = await session_repo.insert_if_missing(conn, dialect, ws.pk, name, f"s{i}", {}, {}, now)
            assert s is not None
            session_pks.append(s.pk)
        sess_idx = rng.integers(0, n_sessions, size=n)
        peer_idx = np.asarray(peer_of) if peer_of is not None else rng.integers(0, n_peers, size=n)
        created = [T0 + timedelta(seconds=7 * i, microseconds=int(rng.integers(0, 1_000_000))) for i in range(n)]
        seqs: dict[int, int] = {}
        rows = []
        for i in range(n):
            s = session_pks[sess_idx[i]]
            seqs[s] = seqs.get(s, 0) + 1
            rows.append(dict(uid=new_id(), workspace_id=ws.pk, session_id=s, peer_id=peer_pks[peer_idx[i]],
                             seq=seqs[s], content=f"message {i}", metadata={}, token_count=2,
                             created_at=created[i]))
        await message_repo.insert_many(conn, rows)
        uid_order = {r["uid"]: i for i, r in enumerate(rows)}
        found = await conn.execute(select(messages.c.id, messages.c.uid).where(messages.c.workspace_id == ws.pk))
        ids = np.zeros(n, dtype=np.int64)
        for pk, uid in found:
            ids[uid_order[uid]] = pk
    vectors = textlike(rng, n)
    world = World(ws.pk, session_pks, peer_pks, ids, np.array(session_pks)[sess_idx], np.array(peer_pks)[peer_idx],
                  created, vectors)
    if store:
        async with db.write() as conn:
            assert await dialect.store_vectors(conn, list(zip(ids.tolist(), vectors, strict=True))) == n
    return world


def assert_exact(got: list[tuple[int, float]], world: World, q: np.ndarray, k: int, scope: VectorScope) -> None:
    """`got` is a true top-k of the scope: right length, best first, every row in scope and as near as the k-th
    true neighbour (ties within float tolerance may swap), similarities right."""
    truth_ids, truth_sims = world.truth(q, k, scope)
    assert len(got) == len(truth_ids), (len(got), len(truth_ids))
    if not got:
        return
    sims = world.sim_of(q)
    in_scope = set(world.ids[world.mask(scope)].tolist())
    assert len({pk for pk, _ in got}) == len(got)
    for pk, sim in got:
        assert pk in in_scope
        assert sim == pytest.approx(sims[pk], abs=TOL)
        assert sims[pk] >= truth_sims[-1] - TOL
    assert np.allclose([s for _, s in got], truth_sims, atol=TOL)
    assert all(a[1] >= b[1] - TOL for a, b in itertools.pairwise(got))


def recall(got: list[tuple[int, float]], world: World, q: np.ndarray, k: int, scope: VectorScope) -> float:
    truth_ids, _ = world.truth(q, k, scope)
    return len({pk for pk, _ in got} & set(truth_ids.tolist())) / max(1, len(truth_ids))


async def nearest(db: Database, q: np.ndarray, k: int, scope: VectorScope) -> list[tuple[int, float]]:
    async with db.read() as conn:
        return await db.dialect.nearest_messages(conn, q, k, scope)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
async def vector_table(deps: Deps) -> Database:
    async with deps.db.write() as conn:
        await deps.db.dialect.create_vector_table(conn, DIM)
    return deps.db


@pytest.fixture(scope="session")
async def small(deps: Deps, vector_table: Database) -> World:
    """600 messages, 6 sessions (one of them with only 3 messages), 4 peers."""
    rng = np.random.default_rng(1)
    world = await make_world(deps, rng, n=600, n_sessions=5, n_peers=4)
    # A tiny session: the most selective filter.
    async with deps.db.write() as conn:
        tiny = await session_repo.insert_if_missing(conn, deps.db.dialect, world.workspace_pk, "x", "tiny", {}, {},
                                                    deps.now())
        assert tiny is not None
        await conn.execute(messages.update().where(messages.c.id.in_(world.ids[:3].tolist()))
                           .values(session_id=tiny.pk, seq=messages.c.id + 10**9))
        await deps.db.dialect.store_vectors(conn, list(zip(world.ids[:3].tolist(), world.vectors[:3], strict=True)))
    world.sessions[:3] = tiny.pk
    world.session_pks.append(tiny.pk)
    return world


@pytest.fixture(scope="session")
async def big(deps: Deps, vector_table: Database) -> World:
    """2,400 messages: peer 0 wrote the older 1,200, peer 1 the newer 1,200; 40 sessions. Used with `exact_max`,
    large enough for PostgreSQL's HNSW path (at real scale, 12k vectors, the HNSW inserts alone took 20 s here)."""
    rng = np.random.default_rng(2)
    return await make_world(deps, rng, n=2400, n_sessions=40, n_peers=2, peer_of=[0] * 1200 + [1] * 1200)


@pytest.fixture
def exact_max(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PostgreSQL searches exactly up to 500 vectors in scope instead of 5,000 (same code paths, smaller data).
    The list records the paths its searches took ("hnsw", "exact")."""
    monkeypatch.setattr(pg_vectors, "EXACT_MAX", 500)
    paths: list[str] = []
    for name in ("hnsw", "exact"):
        def wrap(*args: Any, _name: str = name, _fn: Any = getattr(pg_vectors, f"_{name}")) -> Any:
            paths.append(_name)
            return _fn(*args)
        monkeypatch.setattr(pg_vectors, f"_{name}", wrap)
    return paths


# ------------------------------------------------------------------------------------------------ schema
async def test_create_is_idempotent_and_knows_its_dimension(vector_table: Database) -> None:
    db = vector_table
    assert db.dialect.vectors_available
    async with db.write() as conn:
        await db.dialect.create_vector_table(conn, DIM)
        await db.dialect.create_vector_table(conn, DIM, with_index=False)
        await db.dialect.build_vector_index(conn)
    async with db.read() as conn:
        assert await db.dialect.vector_table_dimensions(conn) == DIM
    with pytest.raises(ValueError, match="dimensions"):
        async with db.write() as conn:
            await db.dialect.create_vector_table(conn, DIM + 1)
    assert await schema_drift(db.engine) == []


# ------------------------------------------------------------------------------------------------ search
SMALL_SCOPES = {
    "workspace": lambda w: {},
    "one session": lambda w: {"session_ids": (w.session_pks[1],)},
    "two sessions": lambda w: {"session_ids": (w.session_pks[0], w.session_pks[3])},
    "tiny session": lambda w: {"session_ids": (w.session_pks[-1],)},
    "one peer": lambda w: {"peer_ids": (w.peer_pks[2],)},
    "two peers": lambda w: {"peer_ids": (w.peer_pks[0], w.peer_pks[3])},
    "from (inclusive)": lambda w: {"created_from": w.at(450)},
    "before (exclusive)": lambda w: {"created_before": w.at(40)},
    "range": lambda w: {"created_from": w.at(100), "created_before": w.at(130)},
    "one message": lambda w: {"created_from": w.at(200), "created_before": w.at(201)},
    "session + peer": lambda w: {"session_ids": (w.session_pks[2],), "peer_ids": (w.peer_pks[1],)},
    "session + peer + range": lambda w: {"session_ids": (w.session_pks[0], w.session_pks[4]),
                                         "peer_ids": (w.peer_pks[1], w.peer_pks[2]),
                                         "created_from": w.at(50), "created_before": w.at(400)},
    "peer + from, naive datetime": lambda w: {"peer_ids": (w.peer_pks[3],),
                                              "created_from": w.at(300).replace(tzinfo=None)},
    "unknown session": lambda w: {"session_ids": (10**12,)},
    "no sessions": lambda w: {"session_ids": ()},
    "empty range": lambda w: {"created_from": w.at(300), "created_before": w.at(300)},
}


@pytest.mark.parametrize("case", list(SMALL_SCOPES))
async def test_filtered_search_is_exact(small: World, vector_table: Database, case: str) -> None:
    scope = VectorScope(small.workspace_pk, **SMALL_SCOPES[case](small))
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    for q in textlike(rng, 5):
        for k in (1, 10, 57):
            assert_exact(await nearest(vector_table, q, k, scope), small, q, k, scope)


async def test_time_bounds_are_inclusive_then_exclusive(small: World, vector_table: Database) -> None:
    q = small.vectors[200]
    got = await nearest(vector_table, q, 5, VectorScope(small.workspace_pk, created_from=small.at(200),
                                                        created_before=small.at(201)))
    assert [pk for pk, _ in got] == [small.ids[200]]
    assert got[0][1] == pytest.approx(1.0, abs=TOL)
    just_after = small.at(200) + timedelta(microseconds=1)
    assert await nearest(vector_table, q, 5, VectorScope(small.workspace_pk, created_from=just_after,
                                                         created_before=small.at(201))) == []


async def test_k_up_to_the_limit_returns_everything_in_order(small: World, vector_table: Database) -> None:
    q = textlike(np.random.default_rng(3), 1)[0]
    scope = VectorScope(small.workspace_pk)
    assert_exact(await nearest(vector_table, q, MAX_K, scope), small, q, MAX_K, scope)
    assert await nearest(vector_table, q, 0, scope) == []
    with pytest.raises(ValueError):
        await nearest(vector_table, q, MAX_K + 1, scope)
    with pytest.raises(ValueError):
        await nearest(vector_table, np.zeros(DIM), 3, scope)


async def test_many_session_ids(small: World, vector_table: Database) -> None:
    """A long id list (most of it unknown ids) is still checked inside the scan."""
    sessions = (*range(10**9, 10**9 + 400), small.session_pks[1], small.session_pks[4])
    scope = VectorScope(small.workspace_pk, session_ids=sessions, peer_ids=(*small.peer_pks[:3], 10**9))
    q = textlike(np.random.default_rng(4), 1)[0]
    assert_exact(await nearest(vector_table, q, 25, scope), small, q, 25, scope)


BIG_EXACT = {
    # Up to EXACT_MAX vectors in scope: exact on both databases.
    "one session": lambda w: {"session_ids": (w.session_pks[7],)},
    "last 300": lambda w: {"created_from": w.at(2100)},
    "session + newer peer": lambda w: {"session_ids": (w.session_pks[3], w.session_pks[9]),
                                       "peer_ids": (w.peer_pks[1],)},
    # Over EXACT_MAX per filter but only 12 rows together: on PostgreSQL the (workspace, peer, created) index
    # counts the intersection, so the exact scan at once, reading those rows only.
    "older peer + from (12 rows)": lambda w: {"peer_ids": (w.peer_pks[0],), "created_from": w.at(1188)},
    "older peer + from (0 rows)": lambda w: {"peer_ids": (w.peer_pks[0],), "created_from": w.at(1200)},
}
# The PostgreSQL path of each case, per query, when it is not just the exact scan (nothing in scope: no scan).
BIG_PATHS: dict[str, list[str]] = {"older peer + from (0 rows)": []}
BIG_HNSW = {
    # Over EXACT_MAX: HNSW in the partition on PostgreSQL (approximate), exact on SQLite; never short.
    "workspace": lambda w: {},
    "newer peer": lambda w: {"peer_ids": (w.peer_pks[1],)},
    "last 1400": lambda w: {"created_from": w.at(1000)},
}


@pytest.mark.parametrize("case", list(BIG_EXACT))
async def test_selective_filters_on_a_large_workspace_are_exact(big: World, vector_table: Database,
                                                                exact_max: list[str], backend: str,
                                                                case: str) -> None:
    scope = VectorScope(big.workspace_pk, **BIG_EXACT[case](big))
    for q in textlike(np.random.default_rng(5), 4):
        for k in (10, 40):
            exact_max.clear()
            assert_exact(await nearest(vector_table, q, k, scope), big, q, k, scope)
            assert exact_max == (BIG_PATHS.get(case, ["exact"]) if backend == "postgres" else [])


@pytest.mark.parametrize("case", list(BIG_HNSW))
async def test_broad_scopes_on_a_large_workspace_never_come_back_short(big: World, vector_table: Database,
                                                                       exact_max: list[str], backend: str,
                                                                       case: str) -> None:
    scope = VectorScope(big.workspace_pk, **BIG_HNSW[case](big))
    recalls = []
    for q in textlike(np.random.default_rng(6), 10):
        exact_max.clear()
        got = await nearest(vector_table, q, 10, scope)
        assert len(got) == 10
        assert exact_max == (["hnsw"] if backend == "postgres" else [])
        if backend == "sqlite":
            assert_exact(got, big, q, 10, scope)
        sims, in_scope = big.sim_of(q), set(big.ids[big.mask(scope)].tolist())
        assert all(pk in in_scope and s == pytest.approx(sims[pk], abs=TOL) for pk, s in got)
        recalls.append(recall(got, big, q, 10, scope))
    assert np.mean(recalls) >= 0.9, recalls


async def test_large_k_on_a_large_workspace_is_exact(big: World, vector_table: Database, exact_max: list[str],
                                                     backend: str) -> None:
    """k above HNSW's candidate limit (1000) takes the exact path on PostgreSQL."""
    q = textlike(np.random.default_rng(9), 1)[0]
    scope = VectorScope(big.workspace_pk)
    assert_exact(await nearest(vector_table, q, 1500, scope), big, q, 1500, scope)
    assert exact_max == (["exact"] if backend == "postgres" else [])


async def test_search_in_a_write_transaction_and_ef_is_not_left_behind(big: World, vector_table: Database,
                                                                       exact_max: list[str], backend: str) -> None:
    db, q = vector_table, big.vectors[17]
    scope = VectorScope(big.workspace_pk)
    async with db.write() as conn:
        got = await db.dialect.nearest_messages(conn, q, 3, scope)
    assert got[0][0] == big.ids[17]
    if backend == "postgres":  # the search's own ef_search does not outlive it
        async with db.read() as conn:  # autocommit: set for the session, then reset
            assert (await db.dialect.nearest_messages(conn, q, 3, scope))[0][0] == big.ids[17]
            assert (await conn.execute(text("SELECT current_setting('hnsw.ef_search')"))).scalar() == "40"
        async with db.engine.connect() as conn:  # in a transaction: set locally
            async with conn.begin():
                assert (await db.dialect.nearest_messages(conn, q, 3, scope))[0][0] == big.ids[17]
            assert (await conn.execute(text("SELECT current_setting('hnsw.ef_search')"))).scalar() == "40"
            await conn.rollback()


# ------------------------------------------------------------------------------------------------ isolation
async def test_workspaces_are_isolated(deps: Deps, small: World, vector_table: Database) -> None:
    """Another workspace with the very same vectors, in the same PostgreSQL bucket, is never returned."""
    rng = np.random.default_rng(11)
    other = await make_world(deps, rng, n=50, n_sessions=1, n_peers=1, store=False)
    while other.workspace_pk % 16 != small.workspace_pk % 16:
        other = await make_world(deps, rng, n=50, n_sessions=1, n_peers=1, store=False)
    async with deps.db.write() as conn:
        assert await deps.db.dialect.store_vectors(
            conn, list(zip(other.ids.tolist(), small.vectors[:50], strict=True))) == 50
    q = small.vectors[10]
    got = await nearest(vector_table, q, 100, VectorScope(small.workspace_pk))
    assert not {pk for pk, _ in got} & set(other.ids.tolist())
    assert_exact(got, small, q, 100, VectorScope(small.workspace_pk))
    got_other = await nearest(vector_table, q, 100, VectorScope(other.workspace_pk))
    assert {pk for pk, _ in got_other} == set(other.ids.tolist())
    # A session or peer of one workspace named in another's scope matches nothing there.
    assert await nearest(vector_table, q, 5, VectorScope(other.workspace_pk, session_ids=(small.session_pks[0],))) == []
    async with deps.db.read() as conn:
        assert await deps.db.dialect.message_vectors(conn, other.workspace_pk, small.ids[:5].tolist()) == {}
        assert await deps.db.dialect.count_vectors(conn, other.workspace_pk) == 50


# ------------------------------------------------------------------------------------------------ writes
async def test_store_replaces_and_skips_missing_messages(deps: Deps, vector_table: Database) -> None:
    db, dialect = deps.db, deps.db.dialect
    world = await make_world(deps, np.random.default_rng(12), n=20, n_sessions=2, n_peers=2)
    new = textlike(np.random.default_rng(13), 3)
    pk = int(world.ids[4])
    async with db.write() as conn:
        assert await dialect.count_vectors(conn, world.workspace_pk) == 20
        # Replaced (the last of two in one batch wins), stored as a unit vector; a message that is gone is skipped.
        stored = await dialect.store_vectors(conn, [(pk, new[0] * 3.0), (10**12, new[1]), (pk, new[2] * 0.5)])
        assert stored == 1
        assert await dialect.count_vectors(conn, world.workspace_pk) == 20
        got = await dialect.message_vectors(conn, world.workspace_pk, [pk, int(world.ids[5]), 10**12])
    assert set(got) == {pk, int(world.ids[5])}
    assert got[pk].dtype == np.float32
    assert np.allclose(got[pk], new[2], atol=1e-6)
    assert np.allclose(got[int(world.ids[5])], world.vectors[5], atol=1e-6)
    assert np.linalg.norm(got[pk]) == pytest.approx(1.0, abs=1e-5)
    top = await nearest(db, new[2], 1, VectorScope(world.workspace_pk))
    assert top[0][0] == pk and top[0][1] == pytest.approx(1.0, abs=TOL)
    # Tenant columns came from the message row: the replaced vector is still found through its filters.
    scope = VectorScope(world.workspace_pk, session_ids=(int(world.sessions[4]),), peer_ids=(int(world.peers[4]),),
                        created_from=world.at(4), created_before=world.at(5))
    assert [p for p, _ in await nearest(db, new[2], 5, scope)] == [pk]


async def test_bad_vectors_are_refused(deps: Deps, small: World) -> None:
    pk = int(small.ids[30])
    for rows in ([(pk, np.zeros(DIM))], [(pk, np.full(DIM, np.nan))], [(pk, [1.0, 2.0]), (pk + 1, [1.0])]):
        with pytest.raises(ValueError):
            async with deps.db.write() as conn:
                await deps.db.dialect.store_vectors(conn, rows)
    with pytest.raises(Exception):  # noqa: B017 - the database's own error for the wrong dimension
        async with deps.db.write() as conn:
            await deps.db.dialect.store_vectors(conn, [(pk, [1.0, 2.0, 3.0])])
    async with deps.db.write() as conn:
        assert await deps.db.dialect.store_vectors(conn, []) == 0
        assert await deps.db.dialect.message_vectors(conn, small.workspace_pk, []) == {}


async def test_deletes_remove_vectors(deps: Deps, vector_table: Database) -> None:
    db, dialect = deps.db, deps.db.dialect
    world = await make_world(deps, np.random.default_rng(14), n=90, n_sessions=3, n_peers=2)
    async with db.read() as conn:
        before_total = await dialect.count_vectors(conn)
    # A message deleted directly.
    gone = int(world.ids[0])
    async with db.write() as conn:
        await conn.execute(delete(messages).where(messages.c.id == gone))
    async with db.read() as conn:
        assert await dialect.count_vectors(conn, world.workspace_pk) == 89
        assert await dialect.message_vectors(conn, world.workspace_pk, [gone]) == {}
    got = await nearest(db, world.vectors[0], 90, VectorScope(world.workspace_pk))
    assert gone not in {pk for pk, _ in got} and len(got) == 89
    # A session purged (its messages deleted in batches, then the session).
    session = world.session_pks[1]
    left = int((world.sessions[1:] != session).sum())
    async with db.read() as conn:  # a purge names the session by id and uid (an id alone may be reused)
        uid = (await conn.execute(select(sessions.c.uid).where(sessions.c.id == session))).scalar_one()
    await purge_session(deps, session, uid=uid)
    async with db.read() as conn:
        assert await dialect.count_vectors(conn, world.workspace_pk) == left
        assert await dialect.message_vectors(conn, world.workspace_pk, world.ids[world.sessions == session]) == {}
    assert await nearest(db, world.vectors[5], 10, VectorScope(world.workspace_pk, session_ids=(session,))) == []
    # The whole workspace purged.
    await purge_workspace(deps, world.workspace_pk)
    async with db.read() as conn:
        assert await dialect.count_vectors(conn, world.workspace_pk) == 0
        assert await dialect.count_vectors(conn) == before_total - 90
    assert await nearest(db, world.vectors[5], 10, VectorScope(world.workspace_pk)) == []


async def test_counts(deps: Deps, small: World, big: World, vector_table: Database) -> None:
    async with deps.db.read() as conn:
        assert await deps.db.dialect.count_vectors(conn, small.workspace_pk) == 600
        assert await deps.db.dialect.count_vectors(conn, big.workspace_pk) == 2400
        assert await deps.db.dialect.count_vectors(conn) >= 3000
        assert await deps.db.dialect.count_vectors(conn, 10**12) == 0
        got = await deps.db.dialect.message_vectors(conn, small.workspace_pk, small.ids.tolist())
    assert set(got) == set(small.ids.tolist())
    assert np.allclose(np.stack([got[int(i)] for i in small.ids]), small.vectors, atol=1e-6)


async def test_similarities_are_the_exact_cosines(deps: Deps, small: World, big: World,
                                                  vector_table: Database) -> None:
    rng = np.random.default_rng(21)
    q = textlike(rng, 1)[0] * 4.0  # not unit length: the query is normalised like nearest_messages does
    picked = [int(i) for i in rng.choice(small.ids, 80, replace=False)]
    other = [int(i) for i in big.ids[:5]]  # another workspace's messages are never answered
    async with deps.db.read() as conn:
        got = await deps.db.dialect.similarities(conn, small.workspace_pk, q, [*picked, *other, 10**12, picked[0]])
        assert await deps.db.dialect.similarities(conn, small.workspace_pk, q, []) == {}
    unit = q / np.linalg.norm(q)
    want = {int(i): float(v @ unit) for i, v in zip(small.ids, small.vectors, strict=True) if int(i) in picked}
    assert set(got) == set(want)
    assert all(got[i] == pytest.approx(want[i], abs=TOL) for i in want)


# ------------------------------------------------------------------------------------------------ own database
async def test_drop_and_recreate_with_another_dimension(backend: str, tmp_path) -> None:
    url = fresh_database_url(backend, tmp_path)
    upgrade(url)
    settings = make_settings(url)
    deps = Deps(db=Database(settings.db.url, settings.db), settings=settings)
    db, dialect = deps.db, deps.db.dialect
    try:
        async with db.read() as conn:
            assert await dialect.vector_table_dimensions(conn) is None
            assert await dialect.count_vectors(conn) == 0
        async with db.write() as conn:
            await dialect.drop_vector_table(conn)  # nothing to drop: fine
            await dialect.create_vector_table(conn, DIM, with_index=False)
        world = await make_world(deps, np.random.default_rng(15), n=30, n_sessions=1, n_peers=1)
        async with db.write() as conn:
            await dialect.build_vector_index(conn)
            await dialect.drop_vector_table(conn)
            await dialect.drop_vector_table(conn)
            assert await dialect.vector_table_dimensions(conn) is None
            assert await dialect.count_vectors(conn) == 0
        assert await schema_drift(db.engine) == []
        async with db.write() as conn:  # deleting messages still works without the table (and its trigger)
            await conn.execute(delete(messages).where(messages.c.id == int(world.ids[0])))
            await dialect.create_vector_table(conn, 8)
            assert await dialect.vector_table_dimensions(conn) == 8
        small = textlike(np.random.default_rng(16), 29, dim=8)
        async with db.write() as conn:
            assert await dialect.store_vectors(conn, list(zip(world.ids[1:].tolist(), small, strict=True))) == 29
        got = await nearest(db, small[3], 2, VectorScope(world.workspace_pk))
        assert got[0][0] == world.ids[4] and got[0][1] == pytest.approx(1.0, abs=TOL)
        assert await schema_drift(db.engine) == []
    finally:
        await db.dispose()


async def test_sqlite_without_sqlite_vec_keeps_working(backend: str, tmp_path, monkeypatch, caplog) -> None:
    """No driver that can load sqlite-vec: the stock driver, a warning, no vectors, everything else as before."""
    if backend != "sqlite":
        pytest.skip("SQLite only")
    monkeypatch.setattr(sqlite_dialect, "vec_dbapi", lambda: None)
    monkeypatch.setattr(sqlite_dialect, "_warned_no_vectors", False)
    url = fresh_database_url(backend, tmp_path)
    with caplog.at_level("WARNING"):
        upgrade(url)
        db = Database(url, make_settings(url).db)
    try:
        assert not db.dialect.vectors_available
        assert "sqlite-vec" in caplog.text
        assert "module" not in db.dialect.engine_options(make_settings(url).db)
        async with db.write() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM messages"))).scalar() == 0
            with pytest.raises(VectorsUnavailable):
                await db.dialect.create_vector_table(conn, DIM)
        with pytest.raises(VectorsUnavailable):
            await nearest(db, np.ones(DIM), 3, VectorScope(1))
    finally:
        await db.dispose()
