"""How faults are answered (issue 13, 1): each database's availability faults are told from other errors by the
dialect and named; a fault answers 503 with Retry-After, anything else unexpected 500, and neither closes the
kept-alive connection. No database needed."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import exc as sa_exc

from honcho_server.api.app import create_app
from honcho_server.config import Settings
from honcho_server.store.dialect.postgres import PostgresDialect
from honcho_server.store.dialect.sqlite import SqliteDialect


def _wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver error: the driver's exception as `orig` and as the cause."""
    try:
        raise sa_exc.OperationalError("SELECT 1", {}, orig) from orig  # type: ignore[arg-type]
    except sa_exc.DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(("orig", "cause"), [
    (asyncpg.CannotConnectNowError("the database system is starting up"), "PostgreSQL is starting up"),
    (asyncpg.CannotConnectNowError("the database system is shutting down"), "PostgreSQL is shutting down"),
    (asyncpg.CannotConnectNowError("the database system is in recovery mode"), "PostgreSQL is in recovery"),
    (asyncpg.AdminShutdownError("terminating connection due to administrator command"),
     "PostgreSQL is shutting down (administrator command)"),
    (asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
     "the database is read-only (a standby, or a failover in progress)"),
    (asyncpg.DiskFullError("could not extend file: No space left on device"), "disk full on the PostgreSQL server"),
    (asyncpg.TooManyConnectionsError("sorry, too many clients already"), "PostgreSQL has too many connections"),
    (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
     "the connection to PostgreSQL was lost"),
    (ConnectionRefusedError(111, "Connection refused"), "PostgreSQL is unreachable (connection refused)"),
    (asyncpg.UniqueViolationError("duplicate key"), None),
    (ValueError("not a database fault"), None),
])
def test_postgres_faults_are_named(orig: BaseException, cause: str | None) -> None:
    dialect = PostgresDialect()
    assert dialect.fault(_wrapped(orig)) == cause
    assert dialect.fault(orig, connecting=True) == cause


@pytest.mark.parametrize(("message", "cause"), [
    ("database or disk is full", "disk full: SQLite could not write (database or disk is full)"),
    ("attempt to write a readonly database",
     "the SQLite database is read-only (check the file's and directory's permissions)"),
    ("unable to open database file", "the SQLite database file cannot be opened"),
    ("disk I/O error", "a disk I/O error on the SQLite database"),
    ("database is locked", "the SQLite database is locked by another process (busy)"),
    ("no such table: nothing", None),
])
def test_sqlite_faults_are_named(message: str, cause: str | None) -> None:
    assert SqliteDialect().fault(_wrapped(sqlite3.OperationalError(message))) == cause


def test_a_network_error_of_another_service_is_not_blamed_on_the_database() -> None:
    """Outside opening a connection, only errors that came through the driver count."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as refused:
            raise httpx.ConnectError("embedding provider unreachable") from refused
    except httpx.ConnectError as error:
        assert PostgresDialect().fault(error) is None


def test_an_exhausted_pool_is_named() -> None:
    assert PostgresDialect().fault(sa_exc.TimeoutError("QueuePool limit reached")) == (
        "every database connection is in use (the pool is exhausted)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real uvicorn server (a thread) on an app with two extra routes: one that fails unexpectedly, one whose
    database fault escaped the transaction scopes."""
    settings = Settings(db={"url": f"sqlite:///{tmp_path_factory.mktemp('answers') / 'h.db'}"})
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/full")
    async def full() -> None:
        raise _wrapped(sqlite3.OperationalError("database or disk is full"))

    app.router.lifespan_context = None  # type: ignore[assignment]  # no start-up work: nothing here needs it
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    yield server.servers[0].sockets[0].getsockname()[:2]
    server.should_exit = True
    thread.join(timeout=10)


def _exchange(sock: socket.socket, path: str) -> bytes:
    """One request on the kept-alive socket and its whole response (headers and a JSON body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection (after {data!r})"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(lengths[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_500_and_a_503_keep_the_connection(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=10) as sock:
        failed = _exchange(sock, "/boom")
        assert failed.startswith(b"HTTP/1.1 500") and b'{"detail":"An unexpected error occurred"}' in failed
        assert b"connection: close" not in failed.lower()
        unavailable = _exchange(sock, "/full")
        assert unavailable.startswith(b"HTTP/1.1 503") and b"retry-after: 5" in unavailable.lower()
        assert b"disk full" in unavailable
        assert _exchange(sock, "/health").startswith(b"HTTP/1.1 200")  # the same connection, still open
