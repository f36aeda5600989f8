"""v1 list filters (docs/v1-api.md §3.10): the body's `filter` is a metadata filter of the v3 DSL."""

from __future__ import annotations

from typing import Any


def metadata_filter(given: dict[str, Any] | None, *, exclude_ids: list[str] | None = None) -> dict[str, Any] | None:
    """`{"metadata": given}` (null or `{}`: no filter), optionally leaving out the named ids."""
    parts: dict[str, Any] = {"metadata": given} if given else {}
    if exclude_ids:
        parts["NOT"] = [{"id": {"in": exclude_ids}}]
    return parts or None
