"""Metadata rules shared by every resource: at most 100 keys, nesting depth 5, NUL characters removed; and the
size bound of every metadata and configuration object a client sends."""

from contextvars import ContextVar
from typing import Any

from honcho_server.domain.jsontext import dumps, has_non_finite

MAX_KEYS = 100
MAX_DEPTH = 5
DEFAULT_MAX_BYTES = 65_536
TOO_LARGE = "too_large"  # the validation error type of an oversized object (its input is not echoed back)

# The bound in force while a request is validated. The API sets it from `limits.max_metadata_bytes` before the
# body is validated (request models cannot see the settings); elsewhere it is the default.
max_bytes: ContextVar[int] = ContextVar("max_metadata_bytes", default=DEFAULT_MAX_BYTES)


class TooLarge(ValueError):
    """A metadata or configuration object over `max_bytes` once encoded as compact JSON (UTF-8)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.context = {"what": what, "size": size, "limit": limit}
        super().__init__(self.template.format(**self.context))

    template = "{what} is {size} bytes as compact JSON; the limit is {limit} bytes (limits.max_metadata_bytes)"


def check_size(value: Any, what: str = "metadata") -> Any:
    """`value` unchanged, or TooLarge when its compact JSON encoding (as received) is over the bound in force."""
    limit = max_bytes.get()
    try:
        size = len(dumps(value))
    except TypeError:  # not a JSON value (e.g. the bytes of a body that is not JSON): the type check refuses it
        return value
    if size > limit:
        raise TooLarge(what, size, limit)
    return value


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
