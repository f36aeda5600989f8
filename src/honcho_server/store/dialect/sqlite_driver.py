"""An SQLite DB-API driver that can load sqlite-vec, handed to SQLAlchemy's aiosqlite dialect.

Many CPython builds (pyenv's among them) ship an `sqlite3` module that cannot load extensions, so the driver is
picked at runtime: `sqlean.py` (bundled SQLite, wheels for Linux/macOS/Windows), then `pysqlite3-binary`
(Linux x86_64 only), then the stdlib `sqlite3` when it can load extensions. The first one that really loads
sqlite-vec wins; when none does, `vec_dbapi()` returns None and the caller keeps the stock aiosqlite driver.

How it plugs in (docs/search.md, "Vector search design"): the aiosqlite dialect builds its DBAPI object from the
`aiosqlite` module (connect, exception classes) and a `sqlite3` module (constants). SQLAlchemy wraps a driver
error into `sqlalchemy.exc.*` only if it is an instance of the DBAPI's exception classes, so the replacement
must supply its own. `vec_dbapi()` therefore builds a stand-in for the `aiosqlite` module whose `connect()`
runs `aiosqlite.Connection` around the chosen driver (loading sqlite-vec on the connection's own worker thread,
then switching extension loading off again) and whose exception classes are the driver's, and passes it as
`create_async_engine(module=...)`. `async_creator=` alone is not enough: errors would escape unwrapped.
"""

from __future__ import annotations

import functools
import importlib
import logging
import types
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

# DB-API 2 modules we know how to use, best first.
DRIVERS = ("sqlean.dbapi2", "pysqlite3.dbapi2", "sqlite3")

_ERRORS = ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
           "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError")


def load_vec(conn: Any, path: str) -> None:
    """Load sqlite-vec into a DB-API connection, leaving extension loading disabled afterwards (so SQL can never
    call `load_extension()`)."""
    conn.enable_load_extension(True)
    try:
        conn.load_extension(path)
    finally:
        conn.enable_load_extension(False)


@functools.cache
def vec_driver() -> tuple[types.ModuleType, str] | None:
    """The first driver that loads sqlite-vec, with the extension's path; None when none can (probed once)."""
    try:
        import sqlite_vec
    except ImportError:  # no wheel for this platform (musl, for one)
        return None
    path = sqlite_vec.loadable_path()
    for name in DRIVERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if not hasattr(module.Connection, "enable_load_extension"):
            continue  # this build of SQLite cannot load extensions
        try:
            conn = module.connect(":memory:")
            try:
                load_vec(conn, path)
                conn.execute("SELECT vec_version()").fetchone()
            finally:
                conn.close()
        except Exception as exc:
            log.debug("sqlite driver %s cannot load sqlite-vec: %s", name, exc)
            continue
        return module, path
    return None


def vec_dbapi() -> Any | None:
    """A DBAPI for `create_async_engine(..., module=...)`: aiosqlite over a driver with sqlite-vec loaded on every
    connection, or None when no installed driver can load it."""
    found = vec_driver()
    if found is None:
        return None
    driver, path = found
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

    def connect(database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> aiosqlite.Connection:
        def connector() -> Any:  # runs on the aiosqlite worker thread, which owns the connection
            conn = driver.connect(str(database), **kwargs)
            try:
                load_vec(conn, path)
            except BaseException:
                conn.close()
                raise
            return conn

        return aiosqlite.Connection(connector, iter_chunk_size)

    shim = types.ModuleType("aiosqlite_" + driver.__name__.split(".")[0])
    # A module made at run time: its attributes go into its namespace (what `shim.name = value` does).
    vars(shim).update(
        __version__=aiosqlite.__version__,
        Connection=aiosqlite.Connection,  # the dialect looks for Connection.stop
        connect=connect,
        paramstyle=driver.paramstyle,
        sqlite_version=driver.sqlite_version,
        sqlite_version_info=driver.sqlite_version_info,
    )
    for err in _ERRORS:
        setattr(shim, err, getattr(driver, err))
    return AsyncAdapt_aiosqlite_dbapi(shim, driver)
