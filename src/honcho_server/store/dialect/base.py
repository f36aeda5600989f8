"""The strategy interface each database implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine


class Dialect(ABC):
    """What differs between SQLite and PostgreSQL: URLs, connection set-up, upserts and JSON operators."""

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

    async def listen_jobs(self, url: URL, wake: Callable[[], None]) -> Callable[[], Awaitable[None]] | None:
        """Call `wake` whenever another process queues jobs; returns an async closer, or None when this
        database cannot notify (workers then rely on polling)."""
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
    def text_search(self, messages: Table, query: Select[Any], terms: list[str]) -> Select[Any]:
        """Restrict a select over `messages` to rows matching any of `terms` (stemmed, case-folded), best
        first, using the full-text index. `terms` are plain words (no operators)."""
