"""v1 `filter` objects in the v3 filter DSL (docs/v1-api.md §3.10): they select on metadata."""

from __future__ import annotations

from typing import Any


def on_metadata(given: dict[str, Any] | None) -> dict[str, Any] | None:
    """`{"metadata": F}`: plain values are containment, operator objects keep their v3 meaning; no condition for
    null or `{}`."""
    return {"metadata": given} if given else None
