"""The command line: refuses an open server on a public address, reports its version, migrates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from honcho_server import __version__
from honcho_server.cli.main import app, is_loopback

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HONCHO_") or name in ("DB_CONNECTION_URI", "AUTH_USE_AUTH", "AUTH_JWT_SECRET"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.stdout.strip() == __version__


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_serve_refuses_public_address_without_auth(host: str) -> None:
    result = runner.invoke(app, ["serve", "--host", host, "--db", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "--insecure" in result.output
    assert not Path("x.db").exists()  # refused before touching anything


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("10.1.2.3", False)])
def test_loopback_detection(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    result = runner.invoke(app, ["migrate", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert db.exists() and "up to date" in result.stdout


def test_serve_and_worker_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    """PostgreSQL is never migrated implicitly; starting on an empty schema is a clear error, not 500s later."""
    from support import BACKENDS, fresh_database_url

    if "postgres" not in BACKENDS:
        pytest.skip("PostgreSQL backend not selected")
    url = fresh_database_url("postgres", tmp_path)
    for command in (["serve", "--port", "0", "--db", url], ["worker", "--db", url, "--once"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "honcho-server migrate" in result.output


def test_worker_once_purges_a_deleted_session(tmp_path: Path) -> None:
    """The standalone worker drains the queue: a deleted session is gone with everything in it."""
    import asyncio

    from sqlalchemy import func, select

    from honcho_server.config import Settings
    from honcho_server.services import messages, sessions
    from honcho_server.services.deps import Deps
    from honcho_server.store import tables
    from honcho_server.store.engine import Database
    from honcho_server.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    settings = Settings(db={"url": url})

    async def with_deps(action):  # type: ignore[no-untyped-def]
        deps = Deps(db=Database(url, settings.db), settings=settings)
        try:
            return await action(deps)
        finally:
            await deps.db.dispose()

    async def setup(deps: Deps) -> None:
        await messages.create(deps, "w", "s", [messages.NewMessage(content="hi", peer_name="a", metadata={})])
        await sessions.delete(deps, "w", "s")

    async def remaining(deps: Deps) -> tuple[int, int]:
        async with deps.db.read() as conn:
            count = lambda t: select(func.count()).select_from(t)  # noqa: E731
            return ((await conn.execute(count(tables.sessions))).scalar_one(),
                    (await conn.execute(count(tables.messages))).scalar_one())

    asyncio.run(with_deps(setup))
    assert asyncio.run(with_deps(remaining)) == (1, 1)
    result = runner.invoke(app, ["worker", "--db", url, "--once"])
    assert result.exit_code == 0, result.output
    assert asyncio.run(with_deps(remaining)) == (0, 0)
