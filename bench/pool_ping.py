"""What validating pooled PostgreSQL connections costs on the hot read path, in microseconds per read.

Compares the server's engine (connections idle for 2 s or more are pinged before use, see
store/dialect/postgres.py) with SQLAlchemy's `pool_pre_ping=True` (a ping on every checkout), each doing the
smallest read the server does: one checkout and one `SELECT 1` through `Database.read()`. Prints per-read figures
(median of the rounds) for sequential reads and for 8 concurrent readers.

    .venv/bin/python bench/pool_ping.py [--db postgresql://...] [--reads 3000] [--rounds 5]

Without --db a throw-away PostgreSQL is started with the test suite's pgserver helper (tests/pg_support.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

from honcho_server.config import DatabaseSettings
from honcho_server.store.engine import Database


async def _reads(db: Database, count: int, concurrency: int) -> float:
    """Seconds per read, `count` reads spread over `concurrency` readers."""

    async def reader(n: int) -> None:
        for _ in range(n):
            async with db.read() as conn:
                await conn.execute(text("SELECT 1"))

    start = time.perf_counter()
    await asyncio.gather(*(reader(count // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - start) / (count // concurrency * concurrency)


async def _measure(url: str, pre_ping: bool, reads: int, rounds: int, concurrency: int) -> float:
    db = Database(url, DatabaseSettings(url=url))
    if pre_ping:
        db.engine.sync_engine.pool._pre_ping = True  # what create_engine(pool_pre_ping=True) sets
    try:
        await _reads(db, 200, concurrency)  # warm the pool and the statement caches
        return statistics.median([await _reads(db, reads, concurrency) for _ in range(rounds)])
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a throw-away pgserver)")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = args.db
    if url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import pg_support

        url = pg_support.start_postgres()
    for concurrency in (1, 8):
        idle = asyncio.run(_measure(url, False, args.reads, args.rounds, concurrency))
        every = asyncio.run(_measure(url, True, args.reads, args.rounds, concurrency))
        print(f"{concurrency} reader(s): ping when idle >= 2 s: {idle * 1e6:7.1f} µs/read   "
              f"pool_pre_ping: {every * 1e6:7.1f} µs/read   (+{(every - idle) * 1e6:.1f} µs, "
              f"{(every / idle - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
