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


WEAK = "1"
STRONG = "s" * 32


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """`serve` up to uvicorn (not run): no migration, no schema check; what it would have served is recorded."""
    import uvicorn

    import honcho_server.cli.main as cli

    runs: list[dict] = []
    monkeypatch.setattr(cli, "_migrate", lambda settings: None)
    monkeypatch.setattr(cli, "_require_current_schema", lambda settings: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: runs.append({"app": app, **options}))
    return runs


@pytest.mark.parametrize("command", [["serve"], ["serve", "--host", "0.0.0.0", "--insecure"], ["worker", "--once"]])
def test_a_short_jwt_secret_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, started: list[dict], command: list[str]
) -> None:
    monkeypatch.setenv("HONCHO_AUTH__ENABLED", "true")
    monkeypatch.setenv("HONCHO_AUTH__JWT_SECRET", "x" * 31)
    result = runner.invoke(app, [*command, "--db", "sqlite:///x.db"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "at least 32 bytes" in lines[0] and "HONCHO_AUTH__JWT_SECRET" in lines[0]
    assert not started and not Path("x.db").exists()


def test_insecure_on_loopback_allows_a_short_jwt_secret(monkeypatch: pytest.MonkeyPatch, started: list[dict]) -> None:
    monkeypatch.setenv("HONCHO_AUTH__ENABLED", "true")
    monkeypatch.setenv("HONCHO_AUTH__JWT_SECRET", WEAK)
    result = runner.invoke(app, ["serve", "--insecure", "--db", "sqlite:///x.db"])
    assert result.exit_code == 0, result.output
    assert "at least 32 bytes" in result.output and len(started) == 1


def test_a_32_byte_secret_starts(monkeypatch: pytest.MonkeyPatch, started: list[dict]) -> None:
    monkeypatch.setenv("HONCHO_AUTH__ENABLED", "true")
    monkeypatch.setenv("HONCHO_AUTH__JWT_SECRET", STRONG)
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--db", "sqlite:///x.db"])
    assert result.exit_code == 0, result.output
    assert result.output == "" and len(started) == 1


def test_app_creation_refuses_a_short_jwt_secret() -> None:
    from honcho_server.api.app import create_app
    from honcho_server.config import Settings

    settings = Settings(db={"url": "sqlite:///never-opened.db"}, auth={"enabled": True, "jwt_secret": "x" * 31})
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(settings)
    create_app(settings, allow_weak_secret=True)
    # Multi-byte characters count as their UTF-8 bytes (the HMAC key is the UTF-8 encoding).
    create_app(Settings(db={"url": "sqlite:///never-opened.db"}, auth={"enabled": True, "jwt_secret": "é" * 16}))
