"""Helpers shared by test modules (importable by name: tests/ is on sys.path)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from honcho_server.config import Settings

BACKENDS = [b for b in os.environ.get("HONCHO_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


def fresh_database_url(backend: str, tmp_dir: Path) -> str:
    """A new, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}"
    import pg_support

    return pg_support.create_database(pg_support.start_postgres(), f"t_{uuid.uuid4().hex[:16]}")


def make_settings(url: str, **overrides: object) -> Settings:
    return Settings(db={"url": url}, **overrides)
