"""Settings of a command: every source checked (cli/settings_check.py), the command line's values on top."""

from __future__ import annotations

import os
from typing import Any

import typer

from honcho_server.cli import banner, settings_check
from honcho_server.cli.failures import Context
from honcho_server.config import LEGACY_DATA_DIR, Settings


def command_settings(db: str | None, **server: Any) -> Settings:
    """Settings with the command line's values on top; a mistake in any source stops here in one line."""
    options: dict[tuple[str, ...], tuple[str, Any]] = {("db", "url"): ("--db", db or None)}
    options.update({("server", key): (f"--{key}", value) for key, value in server.items()})
    settings = settings_check.load(options)
    Context.note(settings)
    refuse_forgotten_data(settings)
    return settings


def refuse_forgotten_data(settings: Settings) -> None:
    """The embedded database used to default to ./honcho-data/ (wherever the server started); starting afresh in
    the new default while an old one sits here would look like lost data."""
    legacy = LEGACY_DATA_DIR / "honcho.db"
    if "url" in settings.db.model_fields_set or not legacy.is_file():
        return
    current = banner.database_line(settings.db.url).removeprefix("SQLite ")
    if not os.path.exists(current):
        typer.echo(f"Found {legacy.resolve()} (the default database of earlier versions) while the default is now "
                   f"{current}: move it there (mkdir -p {os.path.dirname(current)} && mv {LEGACY_DATA_DIR}/* "
                   f"{os.path.dirname(current)}/) or pass --db sqlite:///{legacy}.", err=True)
        raise typer.Exit(code=2)
