"""Database handle: the async engine, its dialect strategy, and read/write transaction scopes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from honcho_server.domain import jsontext
from honcho_server.errors import DatabaseUnavailable, HonchoError
from honcho_server.store.dialect import Dialect, dialect_for


def plain_backend(url: str) -> str:
    """'sqlite' or 'postgresql' for a database URL in any of its spellings."""
    name = make_url(url).get_backend_name()
    return "postgresql" if name in ("postgres", "postgresql") else name


class Database:
    """One engine per process. Services open transactions here; repositories never commit."""

    def __init__(self, url: str, settings: Any) -> None:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
        self.dialect: Dialect = dialect_for(plain_backend(url))
        self.url = self.dialect.async_url(parsed)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            json_serializer=jsontext.dumps_text,
            json_deserializer=jsontext.loads,
            **self.dialect.engine_options(settings),
        )
        self.dialect.configure_engine(self.engine)
        # Called after a write transaction that queued jobs commits (the in-process worker wakes on it).
        self.job_listeners: list[Callable[[], None]] = []

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; each statement sees committed data (no BEGIN/COMMIT round trips).
        DatabaseUnavailable when the database cannot serve it now (see `Dialect.fault`)."""
        stage = _Stage()
        with self._faults(stage):
            async with self.engine.connect() as conn:
                stage.connected = True
                conn = await conn.execution_options(**self.dialect.read_options)
                async with conn.begin():
                    yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block exits normally and rolled back otherwise.
        DatabaseUnavailable when the database cannot serve it now (see `Dialect.fault`)."""
        stage = _Stage()
        with self._faults(stage):
            async with self.dialect.writer(), self.engine.connect() as conn:
                stage.connected = True
                conn = await conn.execution_options(honcho_write=True)
                async with conn.begin():
                    yield conn
                queued = conn.info.pop(JOBS_QUEUED, False)
        if queued:
            for listener in self.job_listeners:
                listener()

    @contextlib.contextmanager
    def _faults(self, stage: _Stage) -> Iterator[None]:
        """Re-raise an availability fault of the database as DatabaseUnavailable (a 503 naming the cause)."""
        try:
            yield
        except HonchoError:
            raise
        except Exception as exc:
            cause = self.dialect.fault(exc, connecting=not stage.connected)
            if cause is None:
                raise
            raise DatabaseUnavailable(cause) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


JOBS_QUEUED = "honcho_jobs_queued"


class _Stage:
    """Whether a transaction scope got its connection (errors before that are all about reaching the database)."""

    connected = False


def mark_jobs_queued(conn: AsyncConnection) -> None:
    """Note on a write connection that its transaction queued jobs (listeners run after the commit)."""
    conn.info[JOBS_QUEUED] = True


def is_embedded(url: str) -> bool:
    """Whether the URL names the embedded database (migrated automatically on start)."""
    return plain_backend(url) == "sqlite"
