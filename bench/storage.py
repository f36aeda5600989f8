"""Storage benchmark: runs the shared workload driver against `honcho-server serve` on SQLite and PostgreSQL.

    .venv/bin/python bench/storage.py [--workload ../shared/bench/workload.py] [--backends sqlite,postgres]
                                      [--processes N]

Each backend gets a fresh database and a fresh server process (embedded worker on, as `serve` runs by
default). PostgreSQL comes from the `pgserver` package (a test dependency). Prints one table with the
figures side by side, plus the reference Honcho 3.0.12 figures measured on the same kind of machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {"bulk ingest msg/s": 1875, "single create p50 ms": 13.9, "messages list p50 ms": 7.8,
             "16 concurrent writers req/s": 99}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_url(tmp: Path, database: str = "bench") -> str:
    """A fresh database on the run's pgserver PostgreSQL (started on first use, stopped at exit)."""
    import pgserver

    server = pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop")
    server.psql(f"CREATE DATABASE {database};")
    return f"postgresql://postgres@/{database}?host={tmp / 'pg'}"


def database_url(backend: str, tmp: Path, name: str = "bench") -> str:
    """A fresh, empty database called `name` on `backend` (sqlite or postgres) under `tmp`."""
    return f"sqlite:///{tmp / (name + '.db')}" if backend == "sqlite" else postgres_url(tmp, name)


@contextmanager
def serving(name: str, db_url: str, processes: int = 1,
            env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """A `honcho-server serve` process on a free port, healthy; yields (port, process) and stops it after."""
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "honcho-server"), "serve", "--port", str(port), "--db", db_url,
           "--migrate", "--processes", str(processes)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, **(env or {})})
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError as exc:
                if time.time() > deadline or server.poll() is not None:
                    log = server.stderr.read().decode()[-2000:]
                    raise RuntimeError(f"{name} server did not start: {log}") from exc
                time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_driver(workload: Path, port: int, server: subprocess.Popen, phases: str, label: str,
               extra: list[str]) -> dict:
    """Run the shared workload driver against a serving server; returns its JSON summary."""
    driver = [sys.executable, str(workload), "--base-url", f"http://127.0.0.1:{port}", "--phases", phases,
              "--server-pid", str(server.pid), "--label", label, *extra]
    print(f"$ {' '.join(driver[1:])}", file=sys.stderr)
    out = subprocess.run(driver, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_backend(name: str, db_url: str, workload: Path, phases: str, processes: int, extra: list[str]) -> dict:
    with serving(name, db_url, processes) as (port, server):
        return run_driver(workload, port, server, phases, f"honcho-server/{name}", extra)


def figures(result: dict) -> dict[str, float]:
    phases = result.get("phases", result)
    pick = {
        "bulk ingest msg/s": ("bulk_ingest", "messages_per_s"),
        "single create p50 ms": ("single_create", "latency_ms", "p50"),
        "messages list p50 ms": ("messages_list", "latency_ms", "p50"),
        "16 concurrent writers req/s": ("concurrent_create", "throughput_rps"),
    }
    out = {}
    for label, path in pick.items():
        node = phases
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, (int, float)):
            out[label] = node
    return out


def cpu_per_unit(result: dict) -> dict[str, float]:
    """Server CPU milliseconds per message (ingest) or per request: steadier than latency on a busy box."""
    cpu, phases = result.get("cpu", {}), result.get("phases", {})
    units = {"bulk_ingest": phases.get("bulk_ingest", {}).get("messages_created"),
             "single_create": phases.get("single_create", {}).get("requests"),
             "messages_list": phases.get("messages_list", {}).get("requests"),
             "concurrent_create": phases.get("concurrent_create", {}).get("requests_ok")}
    return {phase: round(1000 * cpu[phase]["server_cpu_total_s"] / n, 3)
            for phase, n in units.items() if n and phase in cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default=str(ROOT.parent / "shared" / "bench" / "workload.py"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--phases", default="ingest,single,list,concurrent")
    parser.add_argument("--processes", type=int, default=1, help="API processes (`serve --processes`)")
    parser.add_argument("--out", help="write all raw results as JSON here")
    args, extra = parser.parse_known_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="honcho-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in args.backends.split(","):
            results[backend] = run_backend(backend, database_url(backend, tmp), Path(args.workload), args.phases,
                                           args.processes, extra)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    table = {b: figures(r) for b, r in results.items()}
    header = "| metric | reference 3.0.12 (PostgreSQL) | " + " | ".join(f"honcho-server {b}" for b in table) + " |"
    print(header)
    print("|" + "---|" * (2 + len(table)))
    for metric, ref in REFERENCE.items():
        cells = []
        for b in table:
            value = table[b].get(metric)
            if value is None:
                cells.append("—")
                continue
            ratio = value / ref if "/s" in metric else ref / value
            cells.append(f"{value:,.1f} ({ratio:.1f}x)")
        print(f"| {metric} | {ref:,} | " + " | ".join(cells) + " |")
    for backend, result in results.items():
        print(f"server CPU ms per message/request ({backend}): {cpu_per_unit(result)}")


if __name__ == "__main__":
    main()
