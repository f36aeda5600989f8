"""Soak benchmark: sustained writes against the default server, and how far the background work falls behind.

    .venv/bin/python bench/soak.py [--seconds 60 | --long] [--clients 8] [--batch 10] [--backend sqlite|postgres]
                                   [--env HONCHO_WORKER__BACKGROUND_SHARE=0.25 ...]

To compare with another version of the server, put its `src` first on PYTHONPATH (e.g. an export of HEAD:
`git archive HEAD src | tar -x -C /tmp/base`, then `PYTHONPATH=/tmp/base/src .venv/bin/python bench/soak.py`).

Starts `honcho-server serve` as a subprocess with the defaults (local embedder, no LLM) on a fresh database,
then `--clients` writers each append batches of `--batch` messages (two peers taking turns) to their own session
for `--seconds` (`--long`: 300 s). Prints, as JSON:

- messages written and write throughput; create latency p50/p95;
- time from a message's create response to its vector being stored (searchable by meaning), p50/p95/max, read
  from the database every 0.25 s (so figures have that resolution);
- the job backlog when writes stop, by kind and status, and how long until every message is embedded and no
  embed job is open (the drain);
- the job rows left after the drain, by kind and status;
- the server's RSS before the writes and after the drain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx
import psutil

POLL = 0.25
DRAIN_LIMIT = 900.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Probe:
    """Reads the server's database directly: which messages have a vector, and the job table's counts."""

    def __init__(self, backend: str, url: str, sqlite_path: Path | None) -> None:
        self.backend, self.url, self.path = backend, url, sqlite_path
        self.pg = None
        self.lock = asyncio.Lock()  # one asyncpg connection runs one query at a time

    async def open(self) -> None:
        if self.backend == "postgres":
            import asyncpg

            parts = urllib.parse.urlsplit(self.url)
            host = urllib.parse.parse_qs(parts.query)["host"][0]
            self.pg = await asyncpg.connect(host=host, user="postgres", database=parts.path.lstrip("/"))

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()

    async def rows(self, sql: str, args: list) -> list[tuple]:
        if self.pg is not None:
            for i in range(len(args)):
                sql = sql.replace("?", f"${i + 1}", 1)
            async with self.lock:
                return [tuple(r) for r in await self.pg.fetch(sql, *args)]
        assert self.path is not None
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    async def pks(self, uids: list[str]) -> dict[str, int]:
        marks = ",".join("?" * len(uids))
        return dict(await self.rows(f"SELECT uid, id FROM messages WHERE uid IN ({marks})", uids))

    async def embedded(self, pks: list[int]) -> set[int]:
        """Which of `pks` have a stored vector (sqlite-vec keeps an integer primary key as the rowid of its
        `_rowids` shadow table, which plain sqlite3 can read)."""
        marks = ",".join("?" * len(pks))
        table = "message_embeddings_rowids" if self.pg is None else "message_embeddings"
        column = "rowid" if self.pg is None else "message_id"
        try:
            return {r[0] for r in await self.rows(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", pks)}
        except (sqlite3.OperationalError, Exception) as exc:  # table not created yet
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return set()
            raise

    async def jobs(self) -> dict[str, int]:
        rows = await self.rows("SELECT kind, status, count(*) FROM jobs GROUP BY kind, status", [])
        return {f"{kind}/{status}": count for kind, status, count in sorted(rows)}


async def writer(client: httpx.AsyncClient, n: int, batch: int, until: float, created: dict[str, float],
                 latencies: list[float], errors: list[str]) -> None:
    session, i = f"soak-{n}", 0
    while time.monotonic() < until:
        body = {"messages": [{"peer_id": f"p{n}-{(i + k) % 2}", "content": f"soak {n} {i + k}: the weather in "
                              f"city number {(i + k) % 97} was mild and we talked about book {i + k}"}
                             for k in range(batch)]}
        started = time.monotonic()
        try:
            response = await client.post(f"/v3/workspaces/soak/sessions/{session}/messages", json=body)
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            continue
        done = time.monotonic()
        if response.status_code >= 300:
            errors.append(f"{response.status_code} {response.text[:200]}")
            continue
        latencies.append(done - started)
        for message in response.json():
            created[message["id"]] = done
        i += batch


async def watch(probe: Probe, created: dict[str, float], embedded_at: dict[str, float], stop: asyncio.Event) -> None:
    """Every POLL seconds: which created messages now have a vector."""
    pk_of: dict[str, int] = {}
    while not stop.is_set():
        now = time.monotonic()
        waiting = [u for u in list(created) if u not in embedded_at]
        unknown = [u for u in waiting if u not in pk_of]
        for i in range(0, len(unknown), 500):
            pk_of.update(await probe.pks(unknown[i:i + 500]))
        known = [pk_of[u] for u in waiting if u in pk_of]
        uid_of = {pk: u for u, pk in pk_of.items()}
        for i in range(0, len(known), 500):
            for pk in await probe.embedded(known[i:i + 500]):
                embedded_at[uid_of[pk]] = now
        await asyncio.sleep(POLL)


def _server_code(env: dict[str, str]) -> str:
    """Where the server's package comes from (PYTHONPATH may point at another checkout, to compare)."""
    out = subprocess.run([sys.executable, "-c", "import honcho_server; print(honcho_server.__file__)"], env=env,
                         capture_output=True, text=True)
    return out.stdout.strip()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--long", action="store_true", help="300 s of writes")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10, help="messages per create request")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="server setting, e.g. HONCHO_WORKER__BACKGROUND_SHARE=0.25 (repeatable)")
    args = parser.parse_args()
    seconds = 300.0 if args.long else args.seconds
    tmp = Path(tempfile.mkdtemp(prefix="honcho-soak-"))
    sqlite_path = None
    if args.backend == "sqlite":
        sqlite_path = tmp / "soak.db"
        url = f"sqlite:///{sqlite_path}"
    else:
        import pgserver

        pg = pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop")
        pg.psql("CREATE DATABASE soak;")
        url = f"postgresql://postgres@/soak?host={tmp / 'pg'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    env["HONCHO_CONFIG_FILE"] = str(tmp / "none.toml")
    env.update(item.split("=", 1) for item in args.env)
    server = subprocess.Popen([str(Path(sys.executable).parent / "honcho-server"), "serve", "--port", str(port),
                               "--db", url, "--migrate"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "server.log", "wb"), cwd=tmp)  # noqa: SIM115 (open for the run)
    probe = Probe(args.backend, url, sqlite_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"server did not start: {(tmp / 'server.log').read_text()[-2000:]}") from None
                time.sleep(0.2)
        await probe.open()
        proc = psutil.Process(server.pid)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            # one warm-up write, so the model and vocabulary are loaded before RSS is read
            await client.post("/v3/workspaces/soak/sessions/warm/messages",
                              json={"messages": [{"peer_id": "w", "content": "warm up"}]})
            await asyncio.sleep(2)
            rss_before = proc.memory_info().rss
            created: dict[str, float] = {}
            embedded_at: dict[str, float] = {}
            latencies: list[float] = []
            errors: list[str] = []
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch(probe, created, embedded_at, stop))
            load_start = os.getloadavg()[0]
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(*(writer(client, n, args.batch, until, created, latencies, errors)
                                   for n in range(args.clients)))
            stopped = time.monotonic()
            backlog = await probe.jobs()
            not_yet = len(created) - len(embedded_at)
            drained = None
            while time.monotonic() - stopped < DRAIN_LIMIT:
                counts = await probe.jobs()
                open_embed = counts.get("embed/pending", 0) + counts.get("embed/running", 0)
                if len(embedded_at) == len(created) and not open_embed:
                    drained = round(time.monotonic() - stopped, 2)
                    break
                await asyncio.sleep(POLL)
            stop.set()
            await watcher
            await asyncio.sleep(3)
            rss_after = proc.memory_info().rss
            left = await probe.jobs()
        delays = [embedded_at[u] - created[u] for u in embedded_at]
        print(json.dumps({
            "command": " ".join(sys.argv), "server_code": _server_code(env), "server_env": args.env,
            "backend": args.backend, "seconds": seconds, "clients": args.clients,
            "batch": args.batch, "messages": len(created), "messages_per_s": round(len(created) / (stopped - started)),
            "errors": len(errors), "first_errors": errors[:3],
            "create_latency_s": {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95)},
            "to_searchable_s": {"p50": pct(delays, 0.5), "p95": pct(delays, 0.95),
                                "max": round(max(delays), 3) if delays else None, "embedded": len(delays)},
            "when_writes_stopped": {"messages_not_yet_embedded": not_yet, "jobs": backlog},
            "embed_drain_s": drained if drained is not None else f"not drained after {DRAIN_LIMIT:.0f} s",
            "jobs_left_after_drain": left,
            "rss_mb": {"before": round(rss_before / 2**20), "after": round(rss_after / 2**20)},
            "machine_load_1min": {"start": load_start, "end": os.getloadavg()[0], "cpus": os.cpu_count()},
        }, indent=2))
    finally:
        await probe.close()
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    asyncio.run(main())
