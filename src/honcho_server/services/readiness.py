"""Readiness (/ready): the database answers, its schema is this code's, a worker is alive and the queue keeps up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text

from honcho_server.errors import DatabaseUnavailable
from honcho_server.queue import levels, workers
from honcho_server.services.deps import Deps
from honcho_server.store.migrate import current_and_head


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str
    skipped: bool = False  # not run because a check it needs failed (not a reason of its own)


@dataclass(slots=True)
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def reasons(self) -> list[str]:
        """What fails, one line per failing check (those skipped because of it are left out)."""
        return [f"{name}: {c.detail}" for name, c in self.checks.items() if not c.ok and not c.skipped]


async def check(deps: Deps) -> Readiness:
    """Run every check; the ones that need the database are skipped (and fail) when it does not answer."""
    result = Readiness()
    result.checks["database"] = await _bounded(deps, _database)
    if not result.checks["database"].ok:
        skipped = Check(False, "not checked: the database is unavailable", skipped=True)
        result.checks.update(schema=skipped, worker=skipped, queue=skipped)
        return result
    result.checks["schema"] = await _bounded(deps, _schema)
    result.checks["worker"] = await _bounded(deps, _worker)
    result.checks["queue"] = await _bounded(deps, _queue)
    return result


async def _bounded(deps: Deps, probe: Callable[[Deps], Awaitable[Check]]) -> Check:
    """A check that must answer within `ready.database_timeout_seconds`; a database fault fails it with its
    cause."""
    timeout = deps.settings.ready.database_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            return await probe(deps)
    except TimeoutError:
        return Check(False, f"the database did not answer within {timeout:g} s")
    except DatabaseUnavailable as exc:
        return Check(False, exc.cause)
    except Exception as exc:
        if (cause := deps.db.dialect.fault(exc, connecting=True)) is not None:
            return Check(False, cause)
        raise


async def _database(deps: Deps) -> Check:
    async with deps.db.read() as conn:
        await conn.execute(text("SELECT 1"))
    return Check(True, "ok")


async def _schema(deps: Deps) -> Check:
    current, head = await current_and_head(deps.db.engine)
    if current == head:
        return Check(True, f"ok (revision {head})")
    return Check(False, f"the database is at schema revision {current or 'none'}, this server needs {head}: run "
                        "`honcho-server migrate`")


async def _worker(deps: Deps) -> Check:
    settings = deps.settings.ready
    if not settings.require_worker:
        return Check(True, "not required (ready.require_worker is off)")
    async with deps.db.read() as conn:
        last = await workers.last_beat(conn)
    if last is None:
        return Check(False, "no worker is running (run `honcho-server worker`, or `serve` with its worker)")
    age = (deps.now() - last).total_seconds()
    if age > settings.worker_beat_max_age_seconds:
        limit = settings.worker_beat_max_age_seconds
        return Check(False, f"no worker heartbeat for {age:.0f} s (more than {limit:g} s)")
    return Check(True, f"ok (last heartbeat {max(age, 0):.0f} s ago)")


async def _queue(deps: Deps) -> Check:
    settings = deps.settings.ready
    now = deps.now()
    async with deps.db.read() as conn:
        kinds = await workers.live_kinds(conn, now - timedelta(seconds=settings.worker_beat_max_age_seconds))
        found = await levels.read(conn, deps.db.dialect, now)  # the lag /metrics reports, per kind
    oldest = min((level.oldest_due_at for kind, level in found.kinds.items()
                  if kind in kinds and level.oldest_due_at is not None), default=None)
    if not kinds:
        return Check(True, "ok (not measured: no live worker)")
    if oldest is None:
        return Check(True, "ok (no job waiting)")
    lag = (now - oldest).total_seconds()
    if lag > settings.queue_lag_max_seconds:
        limit = settings.queue_lag_max_seconds
        return Check(False, f"the oldest due job has waited {lag:.0f} s (more than {limit:g} s)")
    return Check(True, f"ok (the oldest due job has waited {max(lag, 0):.0f} s)")
