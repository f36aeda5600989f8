"""Search benchmark with embeddings on (issue 3): both databases x two embedders, side by side in one run.

    .venv/bin/python bench/search.py [--backends sqlite,postgres] [--embedders local,openai]
                                     [--sessions 50] [--messages-per-session 200] [--out raw.json]

For every (database, embedder) pair: a fresh database and a fresh `honcho-server serve` (embedded worker on),
then
  1. the shared driver's ingest phase (50 sessions x 200 messages = 10,000 by default, batches of 100);
  2. polling the jobs table until no embed job is pending or running: the time until every message has its
     vector (search by meaning works only after that); on PostgreSQL then VACUUM ANALYZE (see `settle`);
  3. the driver's search phase on the same workspace (session and workspace search, 100 queries each).

Embedders: `local` is the server's default (bundled wordllama, 256 dims, in-process); `openai` is the
OpenAI-compatible client pointed at ../shared/bench/fake_openai.py (text-embedding-3-small at 1536 dims, like
the reference's setup). Prints one table with every figure and its ratio to the reference Honcho 3.0.12
(embeddings on, PostgreSQL), and the machine load at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage import ROOT, database_url, free_port, run_driver, serving

# Reference Honcho 3.0.12, embeddings on, ~10k messages (PostgreSQL); p95 and embedding time not published.
REFERENCE = {"bulk ingest msg/s": 190, "session search p50 ms": 18, "workspace search p50 ms": 125}
GOALS = {"bulk ingest msg/s": 10_000, "session search p50 ms": 8, "workspace search p50 ms": 15}
SHARED_BENCH = ROOT.parent / "shared" / "bench"
EMBED_OPEN = "SELECT count(*) FROM jobs WHERE kind = 'embed' AND status IN ('pending', 'running')"
EMBED_FAILED = "SELECT count(*) FROM jobs WHERE kind = 'embed' AND status = 'failed'"


def embedder_env(embedder: str, fake_port: int | None) -> dict[str, str]:
    if embedder == "local":
        return {"HONCHO_EMBEDDING__PROVIDER": "local"}
    return {"HONCHO_EMBEDDING__PROVIDER": "openai", "HONCHO_EMBEDDING__BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "HONCHO_EMBEDDING__MODEL": "text-embedding-3-small", "HONCHO_EMBEDDING__DIMENSIONS": "1536",
            "HONCHO_EMBEDDING__API_KEY": "x"}


@contextmanager
def fake_openai(dims: int = 1536) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SHARED_BENCH / "fake_openai.py"), "--port", str(port),
                             "--dims", str(dims)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        if proc.poll() is not None:
            raise RuntimeError("fake_openai.py did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _count(db_url: str, sql: str) -> int:
    if db_url.startswith("sqlite"):
        with sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True) as conn:
            return int(conn.execute(sql).fetchone()[0])
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def wait_embedded(db_url: str, timeout: float = 1800.0, every: float = 0.25) -> float:
    """Seconds until no embed job is open (polled every `every` s); raises if any failed or on timeout."""
    t0 = time.perf_counter()
    while asyncio.run(_count(db_url, EMBED_OPEN)):
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"embedding not finished after {timeout} s")
        time.sleep(every)
    waited = time.perf_counter() - t0
    failed = asyncio.run(_count(db_url, EMBED_FAILED))
    if failed:
        raise RuntimeError(f"{failed} embed jobs failed")
    return waited


def settle(db_url: str) -> None:
    """PostgreSQL: VACUUM ANALYZE now, what autovacuum does within a minute of the load anyway. Without it the
    search phase overlapped autovacuum's pass over the fresh tables and HNSW index on some runs, and PostgreSQL
    used 2-3x the CPU it needs per search (the driver's `other_cpu_s`)."""
    if db_url.startswith("sqlite"):
        return

    async def vacuum() -> None:
        import asyncpg

        conn = await asyncpg.connect(db_url)
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()

    asyncio.run(vacuum())


def run_pair(backend: str, embedder: str, tmp: Path, workload: Path, fake_port: int | None,
             sizes: list[str]) -> dict:
    db_url = database_url(backend, tmp, f"bench_{embedder}")
    label = f"honcho-server/{backend}/{embedder}"
    with serving(label, db_url, env=embedder_env(embedder, fake_port)) as (port, server):
        workspace = f"bench-{backend}-{embedder}-{int(time.time())}"
        common = ["--workspace", workspace, *sizes]
        ingest = run_driver(workload, port, server, "ingest", label, common)
        lag = wait_embedded(db_url)
        settle(db_url)
        search = run_driver(workload, port, server, "search", label, [*common, "--settle", "0"])
    bulk = ingest["phases"]["bulk_ingest"]
    return {"ingest": ingest, "search": search, "embed_lag_after_ingest_s": round(lag, 2),
            "embedded_s_from_ingest_start": round(bulk["elapsed_s"] + lag, 2), "messages": bulk["messages_created"]}


def figures(result: dict) -> dict[str, float]:
    bulk = result["ingest"]["phases"]["bulk_ingest"]
    search = result["search"]["phases"]
    out = {"bulk ingest msg/s": bulk["messages_per_s"],
           "all embedded, s from ingest start": result["embedded_s_from_ingest_start"],
           "embedded msg/s (ingest start to last vector)": result["messages"] / result["embedded_s_from_ingest_start"]}
    for kind in ("session", "workspace"):
        latency = search[f"{kind}_search"]["latency_ms"]
        out[f"{kind} search p50 ms"] = latency["p50"]
        out[f"{kind} search p95 ms"] = latency["p95"]
    return out


def cell(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    ref = REFERENCE.get(metric)
    if ref is None:
        return f"{value:,.1f}"
    ratio = value / ref if "/s" in metric else ref / value
    goal = GOALS[metric]
    met = value >= goal if "/s" in metric else value <= goal
    return f"{value:,.1f} ({ratio:.1f}x){'' if met else ' ✗'}"


def print_table(results: dict[str, dict]) -> None:
    table = {name: figures(r) for name, r in results.items()}
    order = ["bulk ingest msg/s", "session search p50 ms", "session search p95 ms", "workspace search p50 ms",
             "workspace search p95 ms", "all embedded, s from ingest start",
             "embedded msg/s (ingest start to last vector)"]
    print("| metric | reference 3.0.12 | goal | " + " | ".join(table) + " |")
    print("|" + "---|" * (3 + len(table)))
    for metric in order:
        ref = REFERENCE.get(metric)
        goal = GOALS.get(metric)
        cells = " | ".join(cell(metric, table[name].get(metric)) for name in table)
        print(f"| {metric} | {f'{ref:,}' if ref else '—'} | {f'{goal:,}' if goal else '—'} | {cells} |")
    print("(n.nx) = ratio to the reference, higher is better; ✗ = goal not met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default=str(SHARED_BENCH / "workload.py"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--embedders", default="local,openai")
    parser.add_argument("--sessions", default="50")
    parser.add_argument("--messages-per-session", default="200")
    parser.add_argument("--out", help="write all raw results as JSON here")
    args, extra = parser.parse_known_args()
    sizes = ["--sessions", args.sessions, "--messages-per-session", args.messages_per_session, *extra]
    embedders = args.embedders.split(",")
    load_start = os.getloadavg()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="honcho-bench-") as tmp_name, fake_openai() as fake_port:
        for backend in args.backends.split(","):
            for embedder in embedders:
                print(f"== {backend} / {embedder}", file=sys.stderr)
                results[f"{backend}/{embedder}"] = run_pair(backend, embedder, Path(tmp_name), Path(args.workload),
                                                            fake_port if embedder == "openai" else None, sizes)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    print_table(results)
    load_end = os.getloadavg()
    print(f"load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}; {os.cpu_count()} cores")
    for name, r in results.items():
        cpu = r["ingest"].get("efficiency", {}).get("bulk_ingest_server_cpu_ms_per_msg")
        print(f"{name}: server CPU {cpu} ms per ingested message; embedding finished "
              f"{r['embed_lag_after_ingest_s']} s after the ingest phase")


if __name__ == "__main__":
    main()
