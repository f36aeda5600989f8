"""The package type-checks clean with mypy under pyproject.toml's [tool.mypy] settings.

mypy runs in the background from the end of collection (tests/typecheck_support.py); this test waits for it."""

from __future__ import annotations

import pytest

import typecheck_support


@pytest.mark.skipif(typecheck_support.mypy_missing(), reason="mypy is not installed: pip install -e '.[test]'")
def test_package_type_checks(request: pytest.FixtureRequest) -> None:
    verdict = typecheck_support.verdict(request.config)
    print(f"mypy took {verdict.seconds:.1f} s (wall) from the end of collection")
    assert verdict.returncode == 0, verdict.output
    assert "Success: no issues found" in verdict.output, verdict.output
