"""Schema migrations: upgrade any database to the newest revision, and report drift from the tables."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


# Search indexes live outside the table definitions (FTS5 tables on SQLite, a generated tsvector column on
# PostgreSQL); they are created by migrations and are not drift. The message vectors (`message_embeddings`, its
# sqlite-vec shadow tables and its PostgreSQL partitions) are made by code, sized to the configured embedder.
SEARCH_ONLY_TABLES = ("messages_fts", "message_embeddings")
SEARCH_ONLY_COLUMNS = ("content_tsv",)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: leave the search-index objects out of schema comparisons."""
    if type_ == "table" and name and name.startswith(SEARCH_ONLY_TABLES):
        return False
    if type_ == "index" and name and name.startswith("ix_message_embeddings"):
        return False
    if type_ == "column" and name in SEARCH_ONLY_COLUMNS:
        return False
    return not (type_ == "index" and name == "ix_messages_content_tsv")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic filter applied before reflection: code-made tables are not even read (PostgreSQL's `vector` type
    would otherwise be reported as unknown)."""
    return not (type_ == "table" and name and name.startswith(SEARCH_ONLY_TABLES))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Alembic's env runs its own event loop, so keep it off any loop the caller is running."""
    errors: list[BaseException] = []
    results: list[Any] = []

    def target() -> None:
        try:
            results.append(fn(*args))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="honcho-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def upgrade(url: str, revision: str = "head") -> None:
    _in_thread(command.upgrade, alembic_config(url), revision)


@dataclass(frozen=True, slots=True)
class Upgraded:
    """What an upgrade did: the schema revision before (None: an empty database) and after, and the steps."""

    before: str | None
    after: str | None
    steps: int


def upgrade_reporting(url: str) -> Upgraded:
    """Upgrade to the newest revision and say from which revision to which, in how many steps."""
    from alembic.script import ScriptDirectory

    before = revision_of(url)
    upgrade(url)
    after = revision_of(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    steps = 0 if before == after else len(list(script.iterate_revisions(after, before)))
    return Upgraded(before, after, steps)


def revision_of(url: str) -> str | None:
    """The database's schema revision (None when never migrated)."""
    from honcho_server.config import DatabaseSettings
    from honcho_server.store.engine import Database

    async def read() -> str | None:
        database = Database(url, DatabaseSettings(pool_size=1))
        try:
            return (await current_and_head(database.engine))[0]
        finally:
            await database.dispose()

    return _in_thread(lambda: asyncio.run(read()))


def downgrade(url: str, revision: str) -> None:
    _in_thread(command.downgrade, alembic_config(url), revision)


async def schema_drift(engine: Any) -> list[Any]:
    """Differences between the migrated database and the tables in code (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from honcho_server.store.tables import metadata

    def compare(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name,
                                                               "include_object": include_object})
        return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


@functools.cache
def head_revision() -> str:
    """The newest schema revision this code knows (read from the migration scripts once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


async def current_and_head(engine: Any) -> tuple[str | None, str]:
    """The database's schema revision (None when never migrated) and the newest one this code knows."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    return current, head_revision()
