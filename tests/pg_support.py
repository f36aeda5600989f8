"""PostgreSQL (with pgvector) for the test suite.

Public helpers
--------------
``start_postgres() -> str``
    URL of a running PostgreSQL 16 server that has the ``vector`` extension
    available.  If ``HONCHO_TEST_DATABASE_URL`` is set, that server is used and
    nothing is started.  Otherwise a throw-away server is started with the
    ``pgserver`` package (PostgreSQL 16 + pgvector bundled in a wheel) in a
    fresh temporary directory.  Calling it again in the same process returns
    the same URL (the server is started once per process).

``create_database(admin_url, name) -> str``
    Drops (if present) and creates database ``name`` on the server behind
    ``admin_url``, runs ``CREATE EXTENSION IF NOT EXISTS vector`` in it and
    returns its URL.

URL form
--------
All returned URLs are plain ``postgresql://`` URLs.  For the pgserver case the
server only listens on a unix socket, and the URL has this exact form::

    postgresql://postgres@/postgres?host=/tmp/honcho-pg-abc123/data

i.e. user ``postgres``, no password (trust auth), an *empty* host part, the
database name as the path, and the socket *directory* (not the socket file) in
the ``host`` query parameter.  The default port 5432 is implied (the socket
file is ``<dir>/.s.PGSQL.5432``).  This form works unchanged with

* ``asyncpg.connect(url)``, and
* ``sqlalchemy.ext.asyncio.create_async_engine(
  url.replace("postgresql://", "postgresql+asyncpg://", 1))`` -- SQLAlchemy's
  asyncpg dialect passes ``host=/tmp/...`` through to ``asyncpg.connect``,
  which treats a host starting with ``/`` as a unix-socket directory.

(pgserver's own ``get_uri()`` yields ``postgresql://postgres:@/postgres?host=``
with an empty password; that also works, but the form above is cleaner.)
The socket directory never contains ``,`` or ``:``, which SQLAlchemy would
otherwise interpret as multi-host / port separators.

Cleanup
-------
The server is started with ``cleanup_mode="stop"``: pgserver registers an
``atexit`` hook that runs ``pg_ctl stop`` when the test process exits.  On top
of that a tiny watchdog process (stdlib only, own session so Ctrl-C does not
hit it) waits for this process to go away -- however it ends, even SIGKILL --
then stops the server if it is still running and deletes the temporary
directory.  A normal pytest exit therefore leaves no postgres process and no
data directory behind.

Running as root
---------------
PostgreSQL refuses to run as root, so pgserver runs it as the system user
``pgserver`` (created with ``useradd`` on first use).  That user must be able
to traverse every parent of the data directory.  pgserver "fixes" this by
chmod-ing *every* ancestor ``g+rx,o+rx``; to avoid it touching anything
private (e.g. ``/root`` if ``TMPDIR`` pointed there) we only place the data
directory under a base whose ancestors are already world-traversable,
falling back to ``/tmp``.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_VAR = "HONCHO_TEST_DATABASE_URL"

# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS); stay well below.
_MAX_SOCKET_PATH = 100
_SOCKET_NAME = ".s.PGSQL.5432"

_lock = threading.Lock()
_url: str | None = None
_server = None  # keeps the pgserver handle alive for the process lifetime
_watchdog: subprocess.Popen | None = None


# --------------------------------------------------------------------------- #
# URL helpers
# --------------------------------------------------------------------------- #
def _plain_url(url: str) -> str:
    """Normalise ``postgres://`` / ``postgresql+driver://`` to ``postgresql://``."""
    return re.sub(r"^postgres(?:ql)?(?:\+[A-Za-z0-9_]+)?://", "postgresql://", url.strip())


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


# --------------------------------------------------------------------------- #
# Starting the server
# --------------------------------------------------------------------------- #
def _world_traversable(path: Path) -> bool:
    """True if every directory from ``path`` up to ``/`` has o+x."""
    for p in (path, *path.parents):
        try:
            if not p.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _pick_base_dir() -> Path:
    """A directory in which to create the server's temp folder.

    Must be short enough for the unix socket path and, when running as root,
    traversable by the unprivileged ``pgserver`` user.
    """
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    # "honcho-pg-XXXXXXXX/data/.s.PGSQL.5432" -> 38 chars below the base dir.
    reserve = len("/honcho-pg-XXXXXXXX/data/") + len(_SOCKET_NAME) + 8
    candidates = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    for cand in candidates:
        try:
            cand = cand.resolve()
        except OSError:
            continue
        if not cand.is_dir() or not os.access(cand, os.W_OK | os.X_OK):
            continue
        if len(str(cand)) + reserve > _MAX_SOCKET_PATH:
            continue
        if is_root and not _world_traversable(cand):
            continue
        return cand
    raise RuntimeError(
        "pg_support: no suitable short, world-traversable temp directory found "
        "(tried {}); set {} to use an existing server".format(", ".join(map(str, candidates)), ENV_VAR)
    )


_WATCHDOG_SRC = r"""
import os, shutil, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pg_ctl, pgdata, base, user = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None
try:
    sys.stdin.buffer.read()          # returns when the parent process is gone
except BaseException:
    pass
pidfile = os.path.join(pgdata, "postmaster.pid")
if os.path.exists(pidfile):
    try:
        subprocess.run([pg_ctl, "-D", pgdata, "-m", "fast", "-w", "-t", "20", "stop"],
                       user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    except Exception:
        pass
    if os.path.exists(pidfile):
        try:
            pid = int(open(pidfile).readline().strip())
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown of the postmaster
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
shutil.rmtree(base, ignore_errors=True)
"""


def _spawn_watchdog(pg_ctl: Path, pgdata: Path, base: Path, user: str | None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG_SRC, str(pg_ctl), str(pgdata), str(base), user or ""],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _atexit_finish() -> None:
    """Runs after pgserver's own atexit stop hook (registered earlier => runs later)."""
    wd = _watchdog
    if wd is None:
        return
    try:
        if wd.stdin is not None:
            wd.stdin.close()  # EOF -> watchdog stops leftovers and removes the temp dir
        wd.wait(timeout=40)
    except Exception:
        pass


def _start_pgserver() -> str:
    global _server, _watchdog
    # Imported lazily: not needed when ENV_VAR is set.  pgserver evaluates
    # platformdirs.user_runtime_path() at import time, which warns when
    # XDG_RUNTIME_DIR is unset (containers/CI); that warning is harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH

    base = Path(tempfile.mkdtemp(prefix="honcho-pg-", dir=_pick_base_dir()))
    os.chmod(base, 0o755)  # mkdtemp gives 0700; the pgserver user must traverse it
    pgdata = base / "data"
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # Order matters: atexit is LIFO.  Registering ours before get_server()
    # (which registers pgserver's stop hook) makes ours run *after* it.
    _watchdog = _spawn_watchdog(POSTGRES_BIN_PATH / "pg_ctl", pgdata, base, "pgserver" if is_root else None)
    atexit.register(_atexit_finish)

    _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    info = _server.get_postmaster_info()
    if info.socket_dir is None:  # not expected on Linux/macOS
        return _plain_url(_server.get_uri())
    sock_dir = str(info.socket_dir)
    if "," in sock_dir or ":" in sock_dir:
        raise RuntimeError(f"pg_support: socket dir {sock_dir!r} cannot be expressed in a URL")
    port = f"&port={info.port}" if info.port and info.port != 5432 else ""
    return f"postgresql://postgres@/postgres?host={sock_dir}{port}"


def start_postgres() -> str:
    """Return the URL of a running PostgreSQL 16 with pgvector available.

    Uses ``$HONCHO_TEST_DATABASE_URL`` if set; otherwise starts (once per
    process) a pgserver instance that is stopped when the process exits.
    See the module docstring for the URL form.
    """
    global _url
    with _lock:
        if _url is None:
            env = os.environ.get(ENV_VAR, "").strip()
            _url = _plain_url(env) if env else _start_pgserver()
        return _url


# --------------------------------------------------------------------------- #
# Databases
# --------------------------------------------------------------------------- #
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


async def _create_database_async(admin_url: str, name: str, db_url: str) -> None:
    import asyncpg

    ident = '"' + name + '"'
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        # WITH (FORCE) (PG13+) terminates leftover connections from a prior run.
        await conn.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {ident}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(db_url, timeout=30)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    finally:
        await conn.close()


def _run(coro) -> None:
    """asyncio.run(), also usable when called from inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    err: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if err:
        raise err[0]


def create_database(admin_url: str, name: str) -> str:
    """(Re)create database ``name`` with the ``vector`` extension; return its URL.

    ``admin_url`` is any URL to the server (e.g. the one from
    :func:`start_postgres`); the returned URL is the same with the database
    path replaced by ``name``.  Synchronous (uses asyncpg under asyncio.run;
    safe to call from within a running event loop, e.g. an async fixture).
    """
    if not _DB_NAME_RE.match(name):
        raise ValueError(f"invalid database name: {name!r}")
    admin_url = _plain_url(admin_url)
    db_url = _with_database(admin_url, name)
    _run(_create_database_async(admin_url, name, db_url))
    return db_url
