"""Settings sources: HONCHO_ environment with nesting, the reference server's names, config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from honcho_server.config import load_settings

REFERENCE_NAMES = ("DB_CONNECTION_URI", "AUTH_USE_AUTH", "AUTH_JWT_SECRET")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HONCHO_") or name in REFERENCE_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray config.toml


def test_defaults_are_embedded_and_open_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.db.url == f"sqlite:///{tmp_path}/data/honcho-server/honcho.db"
    assert settings.server.host == "127.0.0.1" and settings.server.port == 8000
    assert settings.auth.enabled is False


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONCHO_DB__URL", "postgresql://u:p@h:5432/d")
    monkeypatch.setenv("HONCHO_AUTH__ENABLED", "true")
    monkeypatch.setenv("HONCHO_AUTH__JWT_SECRET", "s3cret")
    monkeypatch.setenv("HONCHO_WORKER__CONCURRENCY", "7")
    settings = load_settings()
    assert settings.db.url == "postgresql://u:p@h:5432/d"
    assert settings.auth.enabled and settings.auth.jwt_secret.get_secret_value() == "s3cret"
    assert settings.worker.concurrency == 7


def test_reference_names_are_accepted_below_honcho_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CONNECTION_URI", "postgresql://ref/db")
    monkeypatch.setenv("AUTH_USE_AUTH", "true")
    monkeypatch.setenv("AUTH_JWT_SECRET", "ref-secret")
    settings = load_settings()
    assert settings.db.url == "postgresql://ref/db" and settings.auth.enabled
    monkeypatch.setenv("HONCHO_DB__URL", "sqlite:///mine.db")
    assert load_settings().db.url == "sqlite:///mine.db"


def test_config_toml_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[db]\nurl = "sqlite:///from-toml.db"\n[server]\nport = 9001\n')
    settings = load_settings()
    assert settings.db.url == "sqlite:///from-toml.db" and settings.server.port == 9001
    monkeypatch.setenv("HONCHO_SERVER__PORT", "9002")
    assert load_settings().server.port == 9002


def test_auth_without_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONCHO_AUTH__ENABLED", "true")
    with pytest.raises(ValueError, match="jwt_secret"):
        load_settings()


def test_metadata_size_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().limits.max_metadata_bytes == 65_536
    monkeypatch.setenv("HONCHO_LIMITS__MAX_METADATA_BYTES", "4096")
    assert load_settings().limits.max_metadata_bytes == 4096


def test_the_default_database_does_not_depend_on_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = f"sqlite:///{tmp_path}/home/.local/share/honcho-server/honcho.db"
    assert load_settings().db.url == expected
    monkeypatch.chdir(tmp_path / "..")
    assert load_settings().db.url == expected
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the XDG spec says to ignore a relative value
    assert load_settings().db.url == expected


@pytest.mark.parametrize("value", ["http://localhost:3000", " http://localhost:3000 , https://app.example ",
                                   '["http://localhost:3000", "https://app.example"]'])
def test_cors_origins_take_a_comma_separated_list_or_json(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HONCHO_SERVER__CORS_ORIGINS", value)
    origins = load_settings().server.cors_origins
    assert origins[0] == "http://localhost:3000" and origins[1:] in ([], ["https://app.example"])


def test_log_level_is_case_insensitive_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONCHO_SERVER__LOG_LEVEL", "DEBUG")
    assert load_settings().server.log_level == "debug"
    monkeypatch.setenv("HONCHO_SERVER__LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match="'critical', 'error', 'warning', 'info', 'debug' or 'trace'"):
        load_settings()
