"""Metadata rules shared by every resource: at most 100 keys, nesting depth 5, NUL characters removed."""

from typing import Any

from honcho_server.domain.jsontext import has_non_finite

MAX_KEYS = 100
MAX_DEPTH = 5


def strip_nul(value: Any) -> Any:
    """Remove NUL characters from every string key and value, recursively."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def _depth(obj: dict[str, Any]) -> int:
    nested = [_depth(v) for v in obj.values() if isinstance(v, dict)]
    return 1 + max(nested, default=0)


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Validate and clean a metadata object; raises ValueError with a readable reason."""
    if len(value) > MAX_KEYS:
        raise ValueError(f"metadata may have at most {MAX_KEYS} top-level keys (got {len(value)})")
    if has_non_finite(value):
        raise ValueError("metadata may not contain NaN or Infinity (they are not JSON)")
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"metadata may be nested at most {MAX_DEPTH} levels deep")
    return strip_nul(value)
