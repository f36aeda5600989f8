"""Run SQLAlchemy's aiosqlite dialect on a SQLite build that can load extensions, with sqlite-vec loaded.

Why: the pyenv CPython here (and many others) is compiled without `enable_load_extension`, so the stdlib
`sqlite3` module cannot load the sqlite-vec extension. `sqlean.py` (or `pysqlite3-binary`) is a drop-in
`sqlite3` replacement with its own bundled SQLite that can.

How: SQLAlchemy's aiosqlite dialect gets its DBAPI from `import_dbapi()`, an `AsyncAdapt_aiosqlite_dbapi`
built from two modules: `aiosqlite` (the async driver: `connect`, `Connection`) and `sqlite3` (constants).
It also copies the DBAPI exception classes (`Error`, `IntegrityError`, ...) from the driver module; SQLAlchemy
wraps a raised exception into `sqlalchemy.exc.IntegrityError` & co. only if it `isinstance` of those
classes. `aiosqlite.connect()` hard-codes the stdlib `sqlite3.connect`, but `aiosqlite.Connection` itself
accepts any zero-argument connector run on its worker thread.

So we hand `create_async_engine(module=...)` (a documented create_engine argument: "an alternate DBAPI
module") an adapter built from a small stand-in for the `aiosqlite` module whose `connect()` builds an
`aiosqlite.Connection` around the replacement driver, and whose exception classes are the replacement
driver's. URL parsing, pooling, the `connect`/`begin` event hooks and `create_function` keep working
unchanged. sqlite-vec is loaded inside the connector, i.e. on aiosqlite's worker thread that owns the
connection, and extension loading is switched off again right after (so SQL cannot call load_extension()).

Usage:
    engine = create_async_engine("sqlite+aiosqlite:///path.db", module=vec_dbapi("sqlean"), ...)
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path
from typing import Any

import aiosqlite
import sqlite_vec
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

# Module names of the DB-API 2 drivers we know how to use, best first.
DRIVERS = {
    "sqlean": "sqlean.dbapi2",  # PyPI `sqlean.py`: wheels for Linux x86_64/aarch64, macOS, Windows
    "pysqlite3": "pysqlite3.dbapi2",  # PyPI `pysqlite3-binary`: Linux x86_64 wheels only
    "sqlite3": "sqlite3",  # the stdlib module, when this CPython was built with extension loading
}

_ERRORS = ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
           "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError")


def load_driver(name: str | None = None) -> types.ModuleType:
    """The named driver, or the first one that can load extensions."""
    for key in ([name] if name else list(DRIVERS)):
        try:
            module = importlib.import_module(DRIVERS[key])
        except ImportError:
            if name:
                raise
            continue
        if hasattr(module.Connection, "enable_load_extension"):
            return module
        if name:
            raise RuntimeError(f"{key}: this build of SQLite cannot load extensions")
    raise RuntimeError("no SQLite driver with extension loading; pip install sqlean.py")


def load_vec(conn: Any) -> None:
    """Load sqlite-vec into a DB-API connection, leaving extension loading disabled afterwards."""
    conn.enable_load_extension(True)
    try:
        conn.load_extension(sqlite_vec.loadable_path())
    finally:
        conn.enable_load_extension(False)


def vec_dbapi(name: str | None = None, *, vec: bool = True) -> AsyncAdapt_aiosqlite_dbapi:
    """A DBAPI for `create_async_engine(..., module=...)`: aiosqlite over `name`, with sqlite-vec loaded."""
    driver = load_driver(name)

    def connect(database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> aiosqlite.Connection:
        def connector() -> Any:  # runs on the aiosqlite worker thread, which owns the connection
            conn = driver.connect(str(database), **kwargs)
            if vec:
                load_vec(conn)
            return conn

        return aiosqlite.Connection(connector, iter_chunk_size)

    shim = types.ModuleType("aiosqlite_" + driver.__name__.split(".")[0])
    shim.__version__ = aiosqlite.__version__
    shim.Connection = aiosqlite.Connection  # the dialect checks for Connection.stop (terminate support)
    shim.connect = connect
    shim.paramstyle = driver.paramstyle
    shim.sqlite_version = driver.sqlite_version
    shim.sqlite_version_info = driver.sqlite_version_info
    for err in _ERRORS:
        setattr(shim, err, getattr(driver, err))
    return AsyncAdapt_aiosqlite_dbapi(shim, driver)
