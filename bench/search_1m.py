#!/usr/bin/env python3
"""Message search latency at 1M messages in one workspace on PostgreSQL, with a bulk loader.

    .venv/bin/python bench/search_1m.py                      # start/reuse the server, load once, measure
    .venv/bin/python bench/search_1m.py --http               # also measure through a running HTTP server
    .venv/bin/python bench/search_1m.py --db postgresql://...  # use an existing server (database must exist)
    .venv/bin/python bench/search_1m.py --reload             # drop the bench workspaces and load again
    .venv/bin/python bench/search_1m.py --stop               # stop the persistent server (keeps its data)

What it does:
1. Starts (or reuses) a pgserver PostgreSQL 16 + pgvector 0.6.2 in /tmp/honcho-search1m (kept alive between runs),
   creates database `honcho_search1m`, runs the migrations, records the embedding space and creates the vector
   table without its HNSW index (what `services.embedding.prepare_vectors` does, minus the index).
2. Bulk-loads workspace `bench-1m` (1,000 sessions x 1,000 messages, 6 peers) and `bench-10k` (10 x 1,000) with
   asyncpg COPY straight into the tables, keeping the server's invariants: per-session `seq` 1..n with
   `sessions.last_seq` / `message_count`, every author a member of the session (`session_peers`, joined before
   its first message), nanoid `uid`s, tiktoken `token_count`, `content_tsv` computed by PostgreSQL itself (the
   migration 0005 trigger: sender + text, and the previous turn as context; COPY fires it row by row, and each
   row sees the ones before it), and a vector per message from the default local embedder (wordllama, 256 dims)
   made the way the embed job makes it (`search.documents.document_vectors`). The GIN index is dropped for the
   load and recreated with its migration's definition; the HNSW index is built after the load by
   `dialect.build_vector_index` with maintenance_work_mem 3GB; then VACUUM ANALYZE. The text is synthetic small
   talk from a small vocabulary (~400 lexemes), so at 1M messages every word is common: a harsh case for the
   full-text side (real text has rare words: names, places, things).
3. Measures `services.search.search` (the function the routes call) for ~100 natural-language queries per
   scenario (workspace / session / peer / last 10% of time / peer + last 10%) in both workspaces, prints
   p50/p95, the vector path taken (store/dialect/pg_vectors.py: exact / hnsw / hnsw with a larger ef /
   hnsw then exact) and the mean time of each step of the search; with --http also through
   `honcho-server serve --no-worker` with httpx (one client, sequential requests).

One file (~680 lines, a third of it the text generator's word lists) so the benchmark is one command to copy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import time
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASE = Path("/tmp/honcho-search1m")
DB_NAME = "honcho_search1m"
PG_SETTINGS = {  # for a 2-core / 24 GB shared box; the 1M-row tables and indexes stay cached
    "shared_buffers": "4GB",
    "maintenance_work_mem": "1GB",
    "max_parallel_maintenance_workers": "2",
    "work_mem": "32MB",
    "effective_cache_size": "12GB",
    "random_page_cost": "1.1",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
}
BUILD_MEM = "3GB"  # maintenance_work_mem of the session that builds HNSW (the 1M x 256 graph fits)
WORKSPACES = {"bench-1m": (1000, 1000), "bench-10k": (10, 1000)}  # name -> (sessions, messages per session)
PEERS = ["Maya", "Jonas", "Priya", "Tomas", "Aiko", "Liam"]
CHUNK_SESSIONS = 25
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- server
def _pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH

    user = "pgserver" if os.geteuid() == 0 else None
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", *args],
                   user=user, check=True, stdout=subprocess.DEVNULL)


def start_server(base: Path) -> str:
    """URL of the persistent server's `postgres` database (started, configured and restarted if needed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    pgdata = base / "data"
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    if "524288" not in server.psql("SELECT setting FROM pg_settings WHERE name = 'shared_buffers'"):
        for key, value in PG_SETTINGS.items():
            server.psql(f"ALTER SYSTEM SET {key} = '{value}'")
        _pg_ctl(pgdata, "restart")  # shared_buffers needs a restart; pgserver's start options are kept
    return f"postgresql://postgres@/postgres?host={server.get_postmaster_info().socket_dir}"


def with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


async def ensure_database(admin_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_db(admin_url, name)


# ------------------------------------------------------------------------------------------------- text
_NAMES = ["Maya", "Jonas", "Priya", "Tomas", "Aiko", "Liam", "my sister", "my brother", "my mom", "my dad",
          "my neighbour", "my boss", "Grandpa", "our landlord", "the new intern"]
_PLACES = ["Lisbon", "Kyoto", "Oslo", "the Alps", "Montreal", "Marrakech", "Iceland", "Oaxaca", "Edinburgh",
           "Seoul", "Cape Town", "Patagonia", "Vienna", "Hanoi", "Sicily", "the Lake District", "Chicago"]
_HOBBIES = ["bouldering", "baking bread", "playing the violin", "running", "birdwatching", "carpentry",
            "learning Spanish", "painting watercolours", "chess", "growing tomatoes", "kayaking", "knitting",
            "pottery", "swing dancing", "fixing up an old motorbike", "writing poetry", "photography"]
_FOODS = ["ramen", "lentil soup", "sourdough pizza", "green curry", "shakshuka", "mushroom risotto", "tacos",
          "grilled salmon", "dumplings", "banana bread", "a big salad", "paella", "chili"]
_PETS = ["the dog", "our cat", "the puppy", "my parrot", "the kitten", "our old beagle", "the hamster"]
_WORK = ["quarterly report", "product launch", "client presentation", "budget review", "new database migration",
         "hiring round", "team reorganisation", "deadline on Friday", "performance review", "office move"]
_FEEL = ["exhausting", "great", "a bit stressful", "surprisingly fun", "really relaxing", "chaotic", "boring",
         "amazing", "harder than I expected", "totally worth it"]
_WHEN = ["yesterday", "last weekend", "this morning", "on Tuesday", "last night", "a few days ago", "in March",
         "over the holidays", "earlier today", "last month"]
_ROOMS = ["kitchen", "garden", "garage", "laundry basket", "neighbour's yard", "pantry", "bathroom"]
_THINGS = ["a new bike", "a better laptop", "running shoes", "a standing desk", "a camera lens", "a tent",
           "a coffee grinder", "noise cancelling headphones", "a second hand piano"]
_SENTENCES = [
    "I went {hobby} {when} and it was {feel}.",
    "Have you ever been to {place}? I keep thinking about a trip there.",
    "{name} asked me about {place} again, I think they want to come along.",
    "We made {food} for dinner {when}, honestly the best one so far.",
    "Work has been {feel} because of the {work}.",
    "{pet} got into the {room} again {when}, what a mess.",
    "Do you think I should buy {thing}? It is pretty expensive.",
    "I read something about {hobby} that said beginners should start slowly.",
    "Thanks, that is really helpful, I will try it {when2}.",
    "My plan is to visit {place} next spring if the budget allows.",
    "{name} started {hobby} and now talks about nothing else.",
    "I am so tired, the {work} kept me up late.",
    "Can you remind me what we said about the {work}?",
    "The recipe for {food} needs more garlic than you would think.",
    "I finally booked the flights to {place}!",
    "Honestly I am not sure, maybe we can talk about it {when2}.",
    "{pet} has been sleeping all day, I wonder if something is wrong.",
    "That sounds lovely, I would love to see pictures from {place}.",
    "I have been saving up for {thing} since {when}.",
    "How did the {work} go in the end?",
    "It rained the whole time, but {place} was still {feel}.",
    "I keep forgetting to water the plants in the {room}.",
    "{name} recommended a place that serves amazing {food}.",
    "Yes, exactly, that is what I meant.",
    "Oh no, I hope everything is okay with {pet}.",
    "I think {hobby} is a good way to switch off after the {work}.",
]
_FILL = {"name": _NAMES, "place": _PLACES, "hobby": _HOBBIES, "food": _FOODS, "pet": _PETS, "work": _WORK,
         "feel": _FEEL, "when": _WHEN, "when2": ["tomorrow", "next week", "this weekend", "later"],
         "room": _ROOMS, "thing": _THINGS}


def _fill(rng: random.Random, template: str) -> str:
    out = template
    for key, options in _FILL.items():
        slot = "{" + key + "}"
        while slot in out:
            out = out.replace(slot, rng.choice(options), 1)
    return out[0].upper() + out[1:]


def message_text(rng: random.Random) -> str:
    """10-60 words of small talk."""
    target = rng.randint(10, 60)
    words: list[str] = []
    while len(words) < target:
        words += _fill(rng, rng.choice(_SENTENCES)).split()
    return " ".join(words[:60])


_QUERIES = [
    "What did {peer} say about the trip to {place}?",
    "Who started {hobby}?",
    "recipe for {food}",
    "problems with the {work}",
    "when are the flights to {place} booked",
    "which pet got into the {room}",
    "should I buy {thing}",
    "{peer} stressed about work deadlines",
    "Is {pet} sick?",
    "restaurant recommendation for {food}",
    "what does {peer} do to relax after work",
    "plans for next spring",
    "rainy holiday in {place}",
    "saving money for {thing}",
    "forgot to water the plants",
]


def queries(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    fill = dict(_FILL, peer=PEERS)
    out = []
    for i in range(n):
        q = _QUERIES[i % len(_QUERIES)]
        for key, options in fill.items():
            q = q.replace("{" + key + "}", rng.choice(options))
        out.append(q)
    return out


# -------------------------------------------------------------------------------------------------- load
def _vector_bytes(v: np.ndarray) -> bytes:
    """pgvector's binary input: int16 dims, int16 unused, float4 big-endian values."""
    return struct.pack(">HH", v.shape[0], 0) + v.astype(">f4").tobytes()


async def _document_vectors(embedder: Any, sources: list[Any]) -> np.ndarray:
    """The vectors the embed job would store for these messages (search/documents.py's recipe)."""
    from honcho_server.search import documents

    if hasattr(documents, "document_vectors"):
        matrix = np.asarray(await documents.document_vectors(embedder, sources), dtype=np.float32)
    else:
        texts = [documents.embedding_text(m) for m in sources]
        matrix = np.asarray(await embedder.embed(texts, "document"), dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


async def prepare_schema(url: str, deps: Any) -> None:
    from honcho_server.services.embedding import configured_space
    from honcho_server.store import migrate
    from honcho_server.store.repos import embeddings as emb_repo

    migrate.upgrade(url)
    wanted = configured_space(deps.embedder)
    async with deps.db.write() as conn:
        recorded = await emb_repo.recorded_space(conn)
        if recorded is not None and recorded != wanted:
            raise SystemExit(f"database holds {recorded}, embedder is {wanted}: use another database")
        if recorded is None:
            await emb_repo.record_space(conn, deps.db.dialect, wanted, deps.now())
        await deps.db.dialect.create_vector_table(conn, wanted.dimensions, with_index=False)


async def loaded(conn: Any, name: str, n_sessions: int, per_session: int) -> bool:
    row = await conn.fetchrow("SELECT w.id, (SELECT coalesce(sum(message_count), 0) FROM sessions s "
                              "WHERE s.workspace_id = w.id) AS n FROM workspaces w WHERE w.name = $1", name)
    if row is None:
        return False
    if row["n"] != n_sessions * per_session:
        raise SystemExit(f"workspace {name} is partly loaded ({row['n']} messages): run with --reload")
    return True


async def load_workspace(conn: Any, deps: Any, name: str, n_sessions: int, per_session: int) -> dict[str, float]:
    from honcho_server.domain.ids import new_id
    from honcho_server.domain.tokens import count_tokens_many
    from honcho_server.store.dialect.pg_vectors import BUCKETS
    from honcho_server.store.repos.embeddings import SourceMessage

    rng = random.Random(name)
    times: Counter[str] = Counter()
    ws_id = await conn.fetchval("INSERT INTO workspaces (uid, name, metadata, configuration, created_at) "
                                "VALUES ($1, $2, '{}', '{}', $3) RETURNING id", new_id(), name, T0)
    await conn.execute("INSERT INTO generations (workspace_id, number, state, recipe, fingerprint, scope, "
                       "started_by, progress, created_at, activated_at) "
                       "VALUES ($1, 1, 'active', '{}', '', '{}', 'bench', '{}', $2, $2)", ws_id, T0)
    peer_ids: dict[str, int] = {}
    for peer in PEERS:
        peer_ids[peer] = await conn.fetchval(
            "INSERT INTO peers (uid, workspace_id, name, metadata, configuration, created_at) "
            "VALUES ($1, $2, $3, '{}', '{}', $4) RETURNING id", new_id(), ws_id, peer, T0)
    seq_name = await conn.fetchval("SELECT pg_get_serial_sequence('messages', 'id')")
    embedder = deps.embedder
    for first in range(0, n_sessions, CHUNK_SESSIONS):
        t = time.perf_counter()
        messages, sources, contents = [], [], []
        members = []
        for s in range(first, min(first + CHUNK_SESSIONS, n_sessions)):
            start = T0 + timedelta(seconds=rng.uniform(0, 365 * 86400))
            who = rng.sample(PEERS, rng.choice((2, 2, 3)))
            sid = await conn.fetchval(
                "INSERT INTO sessions (uid, workspace_id, name, is_active, metadata, configuration, last_seq, "
                "message_count, created_at) VALUES ($1, $2, $3, true, '{}', '{}', $4, $4, $5) RETURNING id",
                new_id(), ws_id, f"session-{s:04d}", per_session, start)
            members += [(ws_id, sid, peer_ids[p], None, None, start, None) for p in who]
            at = start
            for seq in range(1, per_session + 1):
                at += timedelta(seconds=rng.uniform(15, 240))
                peer = who[(seq - 1) % len(who)] if rng.random() < 0.8 else rng.choice(who)
                content = message_text(rng)
                contents.append(content)
                sources.append(SourceMessage(pk=0, session_pk=sid, seq=seq, peer_name=peer, content=content))
                messages.append([new_id(), ws_id, sid, peer_ids[peer], seq, content, at])
        times["generate"] += time.perf_counter() - t
        t = time.perf_counter()
        tokens = count_tokens_many(contents)
        times["tokens"] += time.perf_counter() - t
        t = time.perf_counter()
        matrix = await _document_vectors(embedder, sources)
        times["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        n = len(messages)
        last = await conn.fetchval("SELECT setval($1, nextval($1) + $2 - 1)", seq_name, n)
        ids = range(last - n + 1, last + 1)
        await conn.copy_records_to_table(
            "session_peers", records=members,
            columns=["workspace_id", "session_id", "peer_id", "observe_me", "observe_others", "joined_at",
                     "left_at"])
        records = [(pk, uid, w, s, p, seq, c, "{}", tok, at)
                   for pk, (uid, w, s, p, seq, c, at), tok in zip(ids, messages, tokens, strict=True)]
        await conn.copy_records_to_table(
            "messages", records=records,
            columns=["id", "uid", "workspace_id", "session_id", "peer_id", "seq", "content", "metadata",
                     "token_count", "created_at"])
        times["copy messages"] += time.perf_counter() - t
        t = time.perf_counter()
        vrecords = [(pk, ws_id % BUCKETS, w, s, p, at, _vector_bytes(matrix[i]))
                    for i, (pk, (_u, w, s, p, _q, _c, at)) in enumerate(zip(ids, messages, strict=True))]
        await conn.copy_records_to_table(
            "message_embeddings", records=vrecords,
            columns=["message_id", "bucket", "workspace_id", "session_id", "peer_id", "created_at", "embedding"])
        times["copy vectors"] += time.perf_counter() - t
        done = min(first + CHUNK_SESSIONS, n_sessions) * per_session
        log(f"{name}: {done:,} / {n_sessions * per_session:,} messages "
            f"({', '.join(f'{k} {v:.0f}s' for k, v in times.items())})")
    return dict(times)


async def load_all(url: str, deps: Any, reload: bool) -> dict[str, Any]:
    import asyncpg

    from honcho_server.store.dialect.pg_vectors import T

    report: dict[str, Any] = {}
    conn = await asyncpg.connect(url)
    await conn.set_type_codec("vector", schema="public", encoder=lambda b: b, decoder=lambda b: b,
                              format="binary")
    try:
        if reload:
            for name in WORKSPACES:
                log(f"deleting workspace {name}")
                await conn.execute("DELETE FROM workspaces WHERE name = $1", name)
        todo = [(n, s, m) for n, (s, m) in WORKSPACES.items() if not await loaded(conn, n, s, m)]
        if not todo:
            return report
        big = sum(s * m for _, s, m in todo) >= 100_000
        t_all = time.perf_counter()
        if big:  # bulk load without the search indexes, then build them once
            await conn.execute("DROP INDEX IF EXISTS ix_messages_content_tsv")
            await conn.execute(f"DROP INDEX IF EXISTS ix_{T}_hnsw")
        for name, sessions, per in todo:
            t = time.perf_counter()
            steps = await load_workspace(conn, deps, name, sessions, per)
            report[f"load {name}"] = (time.perf_counter() - t, steps)
        t = time.perf_counter()
        await conn.execute(f"SET maintenance_work_mem = '{BUILD_MEM}'")
        await conn.execute("CREATE INDEX IF NOT EXISTS ix_messages_content_tsv ON messages USING gin (content_tsv)")
        report["build GIN (content_tsv)"] = time.perf_counter() - t
        log(f"GIN built in {report['build GIN (content_tsv)']:.0f}s; building HNSW (minutes)")
    finally:
        await conn.close()
    from sqlalchemy import text

    t = time.perf_counter()
    async with deps.db.write() as sa_conn:
        await sa_conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEM}'"))
        await deps.db.dialect.build_vector_index(sa_conn)
    report["build HNSW (build_vector_index)"] = time.perf_counter() - t
    log(f"HNSW built in {report['build HNSW (build_vector_index)']:.0f}s; VACUUM ANALYZE")
    t = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        for table in ("workspaces", "peers", "sessions", "session_peers", "messages", T):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    report["vacuum analyze"] = time.perf_counter() - t
    report["total load"] = time.perf_counter() - t_all
    return report


# ----------------------------------------------------------------------------------------------- measure
class PathLog:
    """Which branch of store/dialect/pg_vectors.nearest ran (wraps its private steps; bench only)."""

    def __init__(self) -> None:
        from honcho_server.store.dialect import pg_vectors

        self.mod, self.current, self.efs = pg_vectors, [], []
        hnsw, exact, set_ef = pg_vectors._hnsw, pg_vectors._exact, pg_vectors._set_ef

        async def _hnsw(*a: Any, **k: Any) -> Any:
            self.current.append("hnsw")
            return await hnsw(*a, **k)

        async def _exact(*a: Any, **k: Any) -> Any:
            self.current.append("exact")
            return await exact(*a, **k)

        async def _set_ef(conn: Any, ef: int | None) -> None:
            if ef is not None:
                self.efs.append(ef)
            await set_ef(conn, ef)

        pg_vectors._hnsw, pg_vectors._exact, pg_vectors._set_ef = _hnsw, _exact, _set_ef

    def take(self) -> str:
        path = "+".join(self.current) or "none"
        if "hnsw" in self.current and len(self.efs) > 1:
            path += f"(ef {max(self.efs)})"
        self.current, self.efs = [], []
        return path


class StepTimer:
    """Times the steps of a real `services.search.search` call by wrapping the functions it calls (bench only):
    the query embedding, FTS candidates, vector scope, KNN, loading rows, cosines, neighbour lookups."""

    STEPS = [  # (module, attribute, label); a missing attribute is skipped (the search code may change)
        ("honcho_server.services.search", "_query_vector", "embed query"),
        ("honcho_server.store.repos.search", "text_candidates", "FTS candidates"),
        ("honcho_server.search.messages", "_lexical_terms", "peer-name words"),
        ("honcho_server.search.messages", "vector_scope", "vector scope"),
        ("honcho_server.store.dialect.postgres.PostgresDialect", "nearest_messages", "KNN"),
        ("honcho_server.store.repos.search", "load", "load KNN rows"),
        ("honcho_server.store.dialect.postgres.PostgresDialect", "similarities", "cosines of FTS rows (in the db)"),
        ("honcho_server.store.repos.search", "at_positions", "load neighbours"),
    ]

    def __init__(self) -> None:
        import importlib

        self.totals: Counter[str] = Counter()
        self.on = False
        for module_name, attr, label in self.STEPS:
            owner: Any
            try:
                owner = importlib.import_module(module_name)
            except ImportError:
                mod, cls = module_name.rsplit(".", 1)
                owner = getattr(importlib.import_module(mod), cls)
            original = getattr(owner, attr, None)
            if original is not None:
                setattr(owner, attr, self._wrap(original, label))

    def _wrap(self, fn: Any, label: str) -> Any:
        async def timed(*a: Any, **k: Any) -> Any:
            if not self.on:
                return await fn(*a, **k)
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                self.totals[label] += time.perf_counter() - t
        return timed

    def per_query(self, total: float, n: int) -> dict[str, float]:
        out = {label: self.totals[label] * 1000 / n for _, _, label in self.STEPS}
        out["rest (Python, connection, workspace)"] = (total - sum(self.totals.values())) * 1000 / n
        self.totals.clear()
        return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


async def scenarios(deps: Any, ws_name: str) -> dict[str, tuple[dict | None, list[str | None]]]:
    """name -> (filters, per-query session names or None)."""
    from sqlalchemy import text

    async with deps.db.read() as conn:
        ws_id = (await conn.execute(text("SELECT id FROM workspaces WHERE name = :n"), {"n": ws_name})).scalar()
        t90 = (await conn.execute(text(
            "SELECT created_at FROM messages WHERE workspace_id = :w ORDER BY created_at DESC "
            "OFFSET (SELECT sum(message_count) / 10 FROM sessions WHERE workspace_id = :w) LIMIT 1"),
            {"w": ws_id})).scalar()
        names = list((await conn.execute(text("SELECT name FROM sessions WHERE workspace_id = :w ORDER BY id"),
                                         {"w": ws_id})).scalars())
        # The peer filters name the peer with the most messages in the last 10% (so the combined filter matches).
        peer = (await conn.execute(text(
            "SELECT p.name FROM messages m JOIN peers p ON p.id = m.peer_id WHERE m.workspace_id = :w "
            "AND m.created_at >= :t GROUP BY p.name ORDER BY count(*) DESC, p.name LIMIT 1"),
            {"w": ws_id, "t": t90})).scalar()
    rng = random.Random(ws_name)
    since = {"created_at": {"gte": t90.isoformat()}}
    return {
        "workspace": (None, [None]),
        "session": (None, [rng.choice(names) for _ in range(200)]),
        f"peer ({peer})": ({"peer_id": peer}, [None]),
        "last 10% of time": (since, [None]),
        "peer + last 10%": ({"AND": [{"peer_id": peer}, since]}, [None]),
    }


async def measure(deps: Any, qs: list[str], paths: PathLog, timer: StepTimer, warm: int) -> list[dict[str, Any]]:
    from honcho_server.services.search import search

    rows = []
    for ws_name in WORKSPACES:
        for scen, (filters, sessions) in (await scenarios(deps, ws_name)).items():
            for i, q in enumerate(qs[:warm]):  # warm caches and prepared statements
                await search(deps, ws_name, q, filters, 10, session=sessions[i % len(sessions)])
                paths.take()
            lat, seen, counts = [], Counter(), []
            for i, q in enumerate(qs):
                t = time.perf_counter()
                found = await search(deps, ws_name, q, filters, 10, session=sessions[i % len(sessions)])
                lat.append((time.perf_counter() - t) * 1000)
                seen[paths.take()] += 1
                counts.append(len(found))
            timer.on, t = True, time.perf_counter()
            for i, q in enumerate(qs):
                await search(deps, ws_name, q, filters, 10, session=sessions[i % len(sessions)])
                paths.take()
            timer.on = False
            steps = timer.per_query(time.perf_counter() - t, len(qs))
            row = dict(ws=ws_name, scenario=scen, p50=statistics.median(lat), p95=pct(lat, 95), max=max(lat),
                       results=statistics.mean(counts), paths=dict(seen),
                       steps=steps)
            log(f"{ws_name:9} {scen:18} p50 {row['p50']:6.1f} ms  p95 {row['p95']:6.1f} ms  {dict(seen)}")
            rows.append(row)
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def measure_http(url: str, qs: list[str], warm: int, deps: Any) -> list[dict[str, Any]]:
    import httpx

    port = _free_port()
    env = dict(os.environ, HONCHO_SERVER__LOG_LEVEL="warning")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/honcho-server"), "serve", "--db", url, "--no-worker",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code < 500:
                        break
                await asyncio.sleep(0.25)
            for ws_name in WORKSPACES:
                for scen, (filters, sessions) in (await scenarios(deps, ws_name)).items():
                    lat = []
                    for i, q in enumerate(qs[:warm] + qs):
                        session = sessions[i % len(sessions)]
                        path = (f"/v3/workspaces/{ws_name}/sessions/{session}/search" if session
                                else f"/v3/workspaces/{ws_name}/search")
                        body: dict[str, Any] = {"query": q, "limit": 10}
                        if filters:
                            body["filters"] = filters
                        t = time.perf_counter()
                        r = await client.post(path, json=body)
                        if i >= warm:
                            lat.append((time.perf_counter() - t) * 1000)
                        r.raise_for_status()
                    rows.append(dict(ws=ws_name, scenario=scen, p50=statistics.median(lat), p95=pct(lat, 95)))
                    log(f"HTTP {ws_name:9} {scen:18} p50 {rows[-1]['p50']:6.1f} ms  p95 {rows[-1]['p95']:6.1f} ms")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


# -------------------------------------------------------------------------------------------------- report
def render(load: dict[str, Any], rows: list[dict[str, Any]], http: list[dict[str, Any]], meta: dict[str, str]) -> str:
    out = ["# bench/search_1m.py: message search on PostgreSQL 16 + pgvector 0.6.2 (pgserver)", ""]
    out += [f"{k}: {v}" for k, v in meta.items()]
    if load:
        out += ["", "## Load"]
        for k, v in load.items():
            if isinstance(v, tuple):
                out.append(f"{k}: {v[0]:.0f} s ({', '.join(f'{s} {t:.0f} s' for s, t in v[1].items())})")
            else:
                out.append(f"{k}: {v:.0f} s")
    out += ["", "## services.search.search (in process), k=10, 100 queries each after a warm-up",
            "", "| workspace | scenario | p50 ms | p95 ms | max ms | results | vector path (queries) |",
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        paths = ", ".join(f"{k} {v}" for k, v in sorted(r["paths"].items(), key=lambda kv: -kv[1]))
        out.append(f"| {r['ws']} | {r['scenario']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
                   f"{r['results']:.1f} | {paths} |")
    if http:
        out += ["", "## HTTP (honcho-server serve --no-worker, httpx, one client)", "",
                "| workspace | scenario | p50 ms | p95 ms |", "|---|---|---|---|"]
        out += [f"| {r['ws']} | {r['scenario']} | {r['p50']:.1f} | {r['p95']:.1f} |" for r in http]
    names = list(rows[0]["steps"]) if rows else []
    out += ["", "## Mean time per step (ms per query; a second pass with the steps of search() wrapped in timers)", "",
            "| workspace | scenario | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for r in rows:
        out.append(f"| {r['ws']} | {r['scenario']} | " + " | ".join(f"{r['steps'].get(n, 0):.1f}" for n in names)
                   + " |")
    out += ["", "The FTS candidates and the KNN run at the same time on two connections, so the steps add up to more "
            "than the query's time and `rest` (the query's time minus the steps) can be negative."]
    return "\n".join(out) + "\n"


async def amain(args: argparse.Namespace) -> None:
    from honcho_server.config import Settings
    from honcho_server.services.deps import Deps
    from honcho_server.store.engine import Database

    if args.smoke:  # a tiny run of the whole pipeline, in its own database
        WORKSPACES.clear()
        WORKSPACES.update({"bench-1m": (30, 200), "bench-10k": (5, 200)})
    url = args.db or await ensure_database(start_server(BASE), DB_NAME + ("_smoke" if args.smoke else ""))
    log(f"database: {url}")
    settings = Settings(db={"url": url})
    deps = Deps(db=Database(url, settings.db), settings=settings)
    try:
        await prepare_schema(url, deps)
        load = await load_all(url, deps, args.reload)
        saved = BASE / f"load_report_{DB_NAME}{'_smoke' if args.smoke else ''}.json"
        if load:
            saved.write_text(json.dumps(load))
        elif saved.exists() and not args.db:
            load = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(saved.read_text()).items()}
            load["(loaded by an earlier run; figures from then)"] = 0.0
        if args.load_only:
            return
        qs = queries(args.queries)
        paths = PathLog()
        deps.vectors_ready = None
        rows = await measure(deps, qs, paths, StepTimer(), args.warm)
        http = await measure_http(url, qs, args.warm, deps) if args.http else []
        meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores, shared",
                "load average at measurement": os.getloadavg().__repr__(),
                "embedder": deps.embedder.model_id, "server settings": ", ".join(f"{k}={v}" for k, v in
                                                                               PG_SETTINGS.items())}
        report = render(load, rows, http, meta)
        print(report)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(report)
    finally:
        await deps.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL to use instead of the persistent pgserver")
    ap.add_argument("--reload", action="store_true", help="delete the bench workspaces and load them again")
    ap.add_argument("--load-only", action="store_true")
    ap.add_argument("--http", action="store_true", help="also measure through honcho-server serve")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--out", help="write the report here too (e.g. bench/results/search_1m.txt)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes in a separate database (a self-test)")
    ap.add_argument("--stop", action="store_true", help="stop the persistent server and exit")
    args = ap.parse_args()
    if args.stop:
        if (BASE / "data" / "postmaster.pid").exists():
            _pg_ctl(BASE / "data", "stop")
        return
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
