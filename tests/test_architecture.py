"""Structural rules that keep the codebase honest: layer contracts, dialect isolation, lint."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "honcho_server"
BIN = Path(sys.executable).parent


def test_import_layers_hold() -> None:
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dialect_names_only_in_the_store() -> None:
    """Only store/dialect, the table/type modules and migrations may know which database is in use."""
    allowed = {PACKAGE / "store" / "types.py", PACKAGE / "store" / "engine.py"}
    pattern = re.compile(r"""["'](sqlite|postgresql)["']|dialect\.name\s*==|sqlalchemy\.dialects""")
    offenders = [
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
        if "dialect" not in path.parts and "migrations" not in path.parts and path not in allowed
        and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_ruff_is_clean() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
