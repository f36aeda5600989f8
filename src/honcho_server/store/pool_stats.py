"""The connection pool's state (this process's engine), for /metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.pool import QueuePool

from honcho_server.store.engine import Database


@dataclass(frozen=True, slots=True)
class PoolStats:
    size: int  # connections the pool keeps open (db.pool_size on PostgreSQL)
    checked_out: int  # in use by a request or job right now
    checked_in: int  # open and idle in the pool
    overflow: int  # in use beyond `size` (at most db.max_overflow)


def pool_stats(db: Database) -> PoolStats | None:
    """None for a pool that does not count its connections (none of ours: both databases use a QueuePool)."""
    pool = db.engine.pool
    if not isinstance(pool, QueuePool):
        return None
    # QueuePool's overflow() starts at -size and rises with each connection opened: only a positive part is
    # overflow in the usual sense.
    return PoolStats(size=pool.size(), checked_out=pool.checkedout(), checked_in=pool.checkedin(),
                     overflow=max(pool.overflow(), 0))
