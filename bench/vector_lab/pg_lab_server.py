"""A long-lived pgserver PostgreSQL (16 + bundled pgvector) for the vector benchmarks.

    python bench/vector_lab/pg_lab_server.py start [--dir /tmp/vlab-pg]   # prints the URL
    python bench/vector_lab/pg_lab_server.py stop  [--dir /tmp/vlab-pg]   # stops it (keeps the data)
    python bench/vector_lab/pg_lab_server.py stop --delete                # stops it and deletes the data

Unlike tests/pg_support.py (a throw-away server per test process) this one survives between runs, so
the 1M-row table and its HNSW index are built once. Settings suited to the benchmark on this machine
(2 cores, 23 GB RAM) are applied with ALTER SYSTEM: shared_buffers 4GB (table + index stay cached),
maintenance_work_mem 3GB (the HNSW graph of 1M x 384 fits in memory while building, otherwise the build
slows down a lot), 2 parallel maintenance workers, work_mem 64MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import warnings
from pathlib import Path

SETTINGS = {
    "shared_buffers": "4GB",
    "maintenance_work_mem": "3GB",
    "max_parallel_maintenance_workers": "2",
    "max_parallel_workers": "4",
    "work_mem": "64MB",
    "effective_cache_size": "12GB",
    "random_page_cost": "1.1",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "synchronous_commit": "off",
}


def _server(pgdata: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver.get_server(pgdata, cleanup_mode=None)


def _url(server) -> str:  # type: ignore[no-untyped-def]
    info = server.get_postmaster_info()
    return f"postgresql://postgres@/postgres?host={info.socket_dir}"


def _pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH

    user = "pgserver" if os.geteuid() == 0 else None
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", *args],
                   user=user, check=True, stdout=subprocess.DEVNULL)


def start(base: Path) -> str:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    pgdata = base / "data"
    server = _server(pgdata)
    current = server.psql("SELECT name || '=' || setting || coalesce(unit, '') FROM pg_settings "
                          "WHERE name = 'shared_buffers'")
    if "524288" not in current:  # 4GB in 8kB pages: settings not applied yet
        for k, v in SETTINGS.items():
            server.psql(f"ALTER SYSTEM SET {k} = '{v}'")
        _pg_ctl(pgdata, "restart")  # reuses the start options pgserver chose (postmaster.opts)
    return _url(server)


def stop(base: Path, delete: bool) -> None:
    pgdata = base / "data"
    if (pgdata / "postmaster.pid").exists():
        _pg_ctl(pgdata, "stop")
    if delete:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["start", "stop"])
    ap.add_argument("--dir", default="/tmp/vlab-pg")
    ap.add_argument("--delete", action="store_true")
    args = ap.parse_args()
    if args.action == "start":
        print(start(Path(args.dir)))
    else:
        stop(Path(args.dir), args.delete)


if __name__ == "__main__":
    main()
