"""The strategy interface each database implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TableValuedAlias

# Message vectors live in tables whose names all start with this (created by code, not by migrations: the
# dimension is runtime configuration). Drift checks skip every table with this prefix.
VECTOR_TABLE = "message_embeddings"
# Largest k a nearest-neighbour query accepts (sqlite-vec's own limit).
MAX_K = 4096


@dataclass(frozen=True, slots=True)
class VectorScope:
    """Which vectors a nearest-neighbour query may return: always one workspace, optionally narrowed.

    `session_ids` / `peer_ids` are primary keys (an empty tuple matches nothing); `created_from` is inclusive and
    `created_before` exclusive, compared with the message's `created_at` (timezone-aware UTC; naive values are
    read as UTC)."""

    workspace_id: int
    session_ids: tuple[int, ...] | None = None
    peer_ids: tuple[int, ...] | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    # An upper bound of the messages in scope when known without counting (the sessions' message counters).
    max_rows: int | None = None

    def is_empty(self) -> bool:
        """True when the scope can match nothing whatever the data (an empty id list or an empty time range)."""
        if self.session_ids == () or self.peer_ids == ():
            return True
        return (self.created_from is not None and self.created_before is not None
                and utc(self.created_from) >= utc(self.created_before))


class DriverMissing(RuntimeError):
    """The database's driver is not installed; the message names the command that installs it."""


class VectorsUnavailable(RuntimeError):
    """This database connection cannot store or search vectors (SQLite without a driver that loads sqlite-vec)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    return (utc(value) - _EPOCH) // timedelta(microseconds=1)


def unit_rows(vectors: Sequence[Sequence[float] | np.ndarray]) -> np.ndarray:
    """The vectors as one float32 matrix of unit rows; ValueError for ragged, empty, non-finite or zero vectors
    (cosine distance is undefined for a zero vector)."""
    try:
        matrix = np.asarray(vectors, dtype=np.float64)
    except ValueError as exc:
        raise ValueError("vectors must all have the same dimension") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError("expected a sequence of non-empty vectors")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors must be finite")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("cannot store or search a zero vector (cosine distance is undefined)")
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def unit_vector(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    return unit_rows([np.asarray(vector).reshape(-1)])[0]


class Dialect(ABC):
    """What differs between SQLite and PostgreSQL: URLs, connection set-up, upserts, JSON operators, full-text
    search and message-vector storage with filtered nearest-neighbour search."""

    name: str
    # Execution options for read-only connections.
    read_options: dict[str, Any] = {}

    @abstractmethod
    def async_url(self, url: URL) -> URL:
        """The URL with this database's async driver."""

    @abstractmethod
    def engine_options(self, settings: Any) -> dict[str, Any]:
        """Keyword arguments for `create_async_engine`."""

    def configure_engine(self, engine: AsyncEngine) -> None:  # noqa: B027 - optional hook
        """Install connection hooks (pragmas, functions) on a fresh engine."""

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[None]:
        """Held around every write transaction; SQLite serialises writers here, PostgreSQL does not."""
        yield

    def fault(self, exc: BaseException, *, connecting: bool = False) -> str | None:
        """The cause, in a few words, when `exc` means the database cannot serve requests now (unreachable,
        restarting, failing over, read-only, full, busy): answered 503, retrying later helps. None for anything
        else (a bug or bad input stays what it is). Outside `connecting` (opening a connection), only errors that
        came through the database driver count, so a network error of some other service is never blamed on it."""
        chain = exception_chain(exc)
        if any(isinstance(e, sa_exc.TimeoutError) for e in chain):
            return "every database connection is in use (the pool is exhausted)"
        if not connecting and not any(isinstance(e, sa_exc.DBAPIError) or self.is_driver_error(e) for e in chain):
            return None
        return next((cause for e in chain if (cause := self.fault_of(e)) is not None), None)

    def is_driver_error(self, exc: BaseException) -> bool:
        """Whether the driver raised `exc` itself (errors SQLAlchemy did not wrap)."""
        return False

    def fault_of(self, exc: BaseException) -> str | None:
        """The availability fault one exception of a chain names, if any (see `fault`)."""
        return None

    async def listen_jobs(self, url: URL, wake: Callable[[], None],
                          lost: Callable[[], None]) -> Callable[[], Awaitable[None]] | None:
        """Call `wake` whenever another process queues jobs, and `lost` once if the listening connection drops;
        returns an async closer, or None when this database cannot notify (workers then rely on polling)."""
        return None

    @abstractmethod
    def insert(self, table: Table) -> Any:
        """An INSERT that supports `on_conflict_do_nothing` / `on_conflict_do_update`."""

    @abstractmethod
    def json_contains(self, column: Any, value: Any) -> ColumnElement[bool]:
        """`column` contains the JSON `value` (PostgreSQL `@>` semantics)."""

    @abstractmethod
    def json_text(self, column: Any, key: str) -> ColumnElement[str]:
        """The text of top-level `key` of a JSON object column (PostgreSQL `->>` semantics), NULL if absent."""

    @abstractmethod
    def json_number(self, column: Any, key: str) -> ColumnElement[float]:
        """Top-level `key` as a number, NULL when absent or not numeric."""

    @abstractmethod
    def utc_day(self, column: Any) -> ColumnElement[str]:
        """The UTC calendar day of a UTCDateTime column as 'YYYY-MM-DD' text (for grouping by day)."""

    @abstractmethod
    def json_array_items(self, column: Any) -> TableValuedAlias:
        """The elements of a JSON array column as a table (one text column, `value`), for a correlated EXISTS;
        NULL, JSON null and non-array values have no elements."""

    @abstractmethod
    async def refresh_message_text(self, conn: AsyncConnection, message_pks: Sequence[int]) -> None:
        """Recompute the full-text documents of these messages. Each holds the tail of the turn before it (the
        message with the previous seq), so a message that follows a deleted one must be re-indexed to forget it."""

    @abstractmethod
    async def text_search(self, conn: AsyncConnection, messages: Table, query: Select[Any], terms: list[str],
                          limit: int, scope_rows: int | None = None) -> Select[Any]:
        """Restrict a select over `messages` to the `limit` best rows matching any of `terms` (stemmed,
        case-folded), best first, using the full-text index, with a `text_score` column (higher is better).
        `terms` are plain words (no operators). `scope_rows`: an upper bound of the rows the select's own
        conditions allow, when known (a small one can be cheaper to scan than the index)."""

    # ------------------------------------------------------------------------------------------ message vectors
    # One vector per message in `message_embeddings` (plus shadow tables or partitions, all named with that
    # prefix), carrying copies of the message's workspace, session, peer and created_at for filtering. Deleting a
    # message (directly or through its session / peer / workspace) deletes its vector. Similarities are cosine.

    @property
    @abstractmethod
    def vectors_available(self) -> bool:
        """Whether this database can store and search vectors; when False the vector methods raise
        `VectorsUnavailable` (full-text search keeps working)."""

    @abstractmethod
    async def create_vector_table(self, conn: AsyncConnection, dimensions: int, *, with_index: bool = True) -> None:
        """Create the vector table with its triggers and indexes if missing (idempotent). ValueError when it exists
        with another dimension: drop it first. `with_index=False` leaves out the ANN index for a bulk load; call
        `build_vector_index` afterwards."""

    @abstractmethod
    async def build_vector_index(self, conn: AsyncConnection) -> None:
        """Create the ANN index if it is missing (after a load made with `with_index=False`)."""

    async def lock_vector_setup(self, conn: AsyncConnection) -> None:
        """Serialise vector set-up (recording the model, creating or dropping the table) across processes until
        the transaction ends. SQLite's single writer already does."""
        return

    @abstractmethod
    async def drop_vector_table(self, conn: AsyncConnection) -> None:
        """Drop the vector table and everything made with it (idempotent)."""

    @abstractmethod
    async def vector_table_dimensions(self, conn: AsyncConnection) -> int | None:
        """The vector table's dimension, or None when it does not exist."""

    @abstractmethod
    async def store_vectors(self, conn: AsyncConnection,
                            rows: Sequence[tuple[int, Sequence[float] | np.ndarray]]) -> int:
        """Store or replace the vector of each message primary key (normalised to unit length); the tenant columns
        are copied from the message row in SQL, and a message that no longer exists is skipped. Returns how many
        vectors were stored. ValueError for a ragged batch or a zero / non-finite vector; a dimension that differs
        from the table's fails in the database."""

    @abstractmethod
    async def nearest_messages(self, conn: AsyncConnection, query: Sequence[float] | np.ndarray, k: int,
                               scope: VectorScope) -> list[tuple[int, float]]:
        """Up to `k` (<= MAX_K) messages in `scope` nearest to `query`, best first, as (message pk, cosine
        similarity = 1 - cosine distance). A filter never makes the answer come back short: when fewer than k
        vectors are in scope, all of them are returned."""

    @abstractmethod
    async def message_vectors(self, conn: AsyncConnection, workspace_id: int,
                              message_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored (float32, unit-length) vectors of those of `message_ids` in the workspace that have one."""

    @abstractmethod
    async def similarities(self, conn: AsyncConnection, workspace_id: int, query: Sequence[float] | np.ndarray,
                           message_ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity to `query` of those of `message_ids` in the workspace that have a vector, computed
        by the database (no vector leaves it). At most MAX_K ids at a time."""

    @abstractmethod
    async def count_vectors(self, conn: AsyncConnection, workspace_id: int | None = None) -> int:
        """How many vectors are stored, in one workspace or in all (0 when the table does not exist)."""


def exception_chain(exc: BaseException, limit: int = 12) -> list[BaseException]:
    """`exc`, what it wraps (a SQLAlchemy error's `orig`) and what caused it, outermost first."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < limit:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return seen


def check_k(k: int) -> None:
    if k > MAX_K:
        raise ValueError(f"k must be at most {MAX_K}, got {k}")
