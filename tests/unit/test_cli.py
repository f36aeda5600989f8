"""The command line: refuses an open server on a public address, reports its version, migrates; every mistake is one
line with its fix (exit status 2), credentials never printed; the start-up banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
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
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the default database's home
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("args", [["version"], ["--version"]])
def test_version(args: list[str]) -> None:
    result = runner.invoke(app, args)
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


def test_migrate_says_what_it_applied(tmp_path: Path) -> None:
    from honcho_server.store.migrate import alembic_config, upgrade

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    db = tmp_path / "m.db"
    result = runner.invoke(app, ["migrate", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert db.exists() and f"migrated from no schema to {head}" in result.stdout
    again = runner.invoke(app, ["migrate", "--db", f"sqlite:///{db}"])
    assert f"already at {head} (the newest schema), nothing to do" in again.stdout
    upgrade(f"sqlite:///{tmp_path / 'old.db'}", "0001")
    older = runner.invoke(app, ["migrate", "--db", f"sqlite:///{tmp_path / 'old.db'}"])
    assert f"migrated from 0001 to {head}" in older.stdout


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


def test_worker_once_purges_a_deleted_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The standalone worker drains the queue: a deleted session is gone with everything in it, and the done jobs
    past their retention (none kept here) are pruned."""
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
        for session in ("s", "kept"):
            await messages.create(deps, "w", session, [messages.NewMessage(content="hi", peer_name="a", metadata={})])
        await sessions.delete(deps, "w", "s")

    async def remaining(deps: Deps) -> tuple[int, int, int]:
        async with deps.db.read() as conn:
            count = lambda t: select(func.count()).select_from(t)  # noqa: E731
            done = count(tables.jobs).where(tables.jobs.c.status == "done", tables.jobs.c.dedupe_key.is_(None))
            return ((await conn.execute(count(tables.sessions))).scalar_one(),
                    (await conn.execute(count(tables.messages))).scalar_one(),
                    (await conn.execute(done)).scalar_one())

    asyncio.run(with_deps(setup))
    assert asyncio.run(with_deps(remaining)) == (2, 2, 0)
    monkeypatch.setenv("HONCHO_WORKER__DONE_RETENTION_SECONDS", "0.001")  # done jobs are pruned as they finish
    result = runner.invoke(app, ["worker", "--db", url, "--once"])
    assert result.exit_code == 0, result.output
    assert asyncio.run(with_deps(remaining)) == (1, 1, 0)  # "kept"'s embed job ran and was pruned


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
    assert "Warning" not in result.output and len(started) == 1


def test_app_creation_refuses_a_short_jwt_secret() -> None:
    from honcho_server.api.app import create_app
    from honcho_server.config import Settings

    settings = Settings(db={"url": "sqlite:///never-opened.db"}, auth={"enabled": True, "jwt_secret": "x" * 31})
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(settings)
    create_app(settings, allow_weak_secret=True)
    # Multi-byte characters count as their UTF-8 bytes (the HMAC key is the UTF-8 encoding).
    create_app(Settings(db={"url": "sqlite:///never-opened.db"}, auth={"enabled": True, "jwt_secret": "é" * 16}))


# -- Mistakes: one line with the fix, exit status 2, no traceback, no credentials ---------------------------------

def _one_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(("url", "shown"), [("foo", "--db='foo'"),
                                            ("postgresql://bob:hunter22@db:port/x", "--db='postgresql://bob:***@db")])
def test_a_malformed_db_url_is_one_line(started: list[dict], url: str, shown: str) -> None:
    line = _one_line(runner.invoke(app, ["serve", "--db", url]))
    assert shown in line and "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname" in line
    assert "hunter22" not in line and not started


@pytest.mark.parametrize(("name", "value", "says"), [
    ("HONCHO_SERVER__LOG_LEVEL", "verbose", "'critical', 'error', 'warning', 'info', 'debug' or 'trace'"),
    ("HONCHO_WORKER__CONCURRENCY", "-1", "greater than or equal to 1"),
    ("HONCHO_DIALECTIC__LOW", "{not json", "is not JSON"),
])
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, started: list[dict], name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    line = _one_line(runner.invoke(app, ["serve"]))
    assert line.startswith("Configuration: ") and name in line and says in line and not started


def test_a_malformed_config_toml_names_line_and_column(tmp_path: Path, started: list[dict]) -> None:
    (tmp_path / "config.toml").write_text('[server]\nport = 8000\nhost = "127.0.0.1\n')
    line = _one_line(runner.invoke(app, ["serve"]))
    assert "config.toml is not valid TOML" in line and "line 3, column" in line and not started


def test_unknown_names_are_refused_with_the_closest_valid_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, started: list[dict]
) -> None:
    (tmp_path / "config.toml").write_text('[server]\nprot = 9000\n[llm.deriver]\nmodle = "m"\n')
    monkeypatch.setenv("HONCHO_WORKER__CONCURENCY", "2")
    monkeypatch.setenv("HONCHO_PORT", "9000")
    line = _one_line(runner.invoke(app, ["serve"]))
    for expected in ("server.prot in config.toml (did you mean server.port?)",
                     "llm.deriver.modle in config.toml (did you mean llm.deriver.model?)",
                     "HONCHO_WORKER__CONCURENCY (did you mean HONCHO_WORKER__CONCURRENCY?)",
                     "HONCHO_PORT (did you mean HONCHO_SERVER__PORT?)"):
        assert expected in line
    assert not started


def test_variables_of_the_clients_and_the_test_suite_are_not_settings(
    monkeypatch: pytest.MonkeyPatch, started: list[dict]
) -> None:
    """A shell set up for the official SDKs or for the test suite still starts the server."""
    from honcho_server.api.app import RUN_WORKER_ENV, WEAK_SECRET_ENV
    from honcho_server.cli.settings_check import NOT_SETTINGS

    assert {RUN_WORKER_ENV, WEAK_SECRET_ENV} <= NOT_SETTINGS  # spelled out there: both lists must agree
    for name in ("HONCHO_API_KEY", "HONCHO_URL", "HONCHO_WORKSPACE_ID", "HONCHO_TEST_BACKENDS", "HONCHO_TS_URL"):
        monkeypatch.setenv(name, "x")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert len(started) == 1


def test_an_unreachable_postgresql_is_one_line_without_its_password() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://bob:hunter22@127.0.0.1:{port}/honcho"
    for command in (["migrate", "--db", url], ["worker", "--once", "--db", url]):
        line = _one_line(runner.invoke(app, command))
        assert f"Cannot reach the database postgresql://bob:***@127.0.0.1:{port}/honcho" in line
        assert "hunter22" not in line and "HONCHO_DB__URL" in line


def test_postgresql_without_its_driver_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from honcho_server.store.dialect import postgres

    present = importlib.util.find_spec
    monkeypatch.setattr(postgres.importlib.util, "find_spec",
                        lambda name, *a: None if name == "asyncpg" else present(name, *a))
    url = "postgresql://bob:hunter22@127.0.0.1:5432/honcho"
    for command in (["migrate", "--db", url], ["worker", "--once", "--db", url], ["serve", "--db", url]):
        line = _one_line(runner.invoke(app, command))
        assert line == ("PostgreSQL needs the asyncpg driver, which is not installed: "
                        "pip install 'honcho-server[postgres]'.")


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import honcho_server.cli.main as cli

    def broken(settings: Any) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_migrate", broken)
    line = _one_line(runner.invoke(app, ["migrate", "--db", "sqlite:///x.db"]))
    assert "RuntimeError: boom" in line and "--debug" in line
    assert isinstance(runner.invoke(app, ["--debug", "migrate", "--db", "sqlite:///x.db"]).exception, RuntimeError)
    usage = runner.invoke(app, ["serve", "--port", "abc"])  # typer's own usage errors stay as they are
    assert usage.exit_code == 2 and "'--port'" in usage.output and "bug" not in usage.output


def test_a_database_in_the_old_default_place_is_not_silently_left_behind(tmp_path: Path) -> None:
    (tmp_path / "honcho-data").mkdir()
    (tmp_path / "honcho-data" / "honcho.db").touch()
    line = _one_line(runner.invoke(app, ["migrate"]))
    new_home = tmp_path / "xdg" / "honcho-server"
    assert f"mv honcho-data/* {new_home}/" in line and "--db sqlite:///honcho-data/honcho.db" in line
    assert runner.invoke(app, ["migrate", "--db", "sqlite:///honcho-data/honcho.db"]).exit_code == 0


def test_the_banner_says_what_runs_where(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """serve, up to uvicorn: version, address and docs, the database's absolute path (under the data directory,
    wherever the server starts), embedder, worker, and reasoning off with the fix."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    monkeypatch.setenv("HONCHO_EMBEDDING__PROVIDER", "hash")
    monkeypatch.setenv("HONCHO_EMBEDDING__DIMENSIONS", "32")
    monkeypatch.setenv("HONCHO_LLM__PROVIDER", "openai")
    monkeypatch.setenv("HONCHO_LLM__MODEL", "gpt-4o-mini")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["serve", "--port", "8123", "--no-worker"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"honcho-server {__version__}: API on http://127.0.0.1:8123 (docs http://127.0.0.1:8123/docs)" in text
    assert f"database:  SQLite {tmp_path / 'xdg' / 'honcho-server' / 'honcho.db'}" in text
    assert "schema:    migrated from no schema to" in text and "embedder:  hash" in text and "(32 dimensions)" in text
    assert "worker:    off (--no-worker): run `honcho-server worker` beside it" in text
    assert "reasoning: off: the openai provider needs a key: set HONCHO_LLM__API_KEY" in text


def test_the_banner_masks_a_postgresql_password() -> None:
    from honcho_server.cli.banner import database_line

    assert database_line("postgresql://bob:hunter22@db:5432/honcho") == "PostgreSQL postgresql://bob:***@db:5432/honcho"
