"""JSON encoding: orjson for speed, the standard library for what orjson cannot represent (big integers)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _fallback_default(value: Any) -> Any:
    if isinstance(value, datetime):
        text = value.astimezone(UTC).isoformat()
        return text.replace("+00:00", "Z")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON; datetimes as ISO-8601 UTC with `Z`."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:  # integers beyond 64 bits: valid JSON, kept exactly
        return json.dumps(value, default=_fallback_default, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()


_LONG_NUMBER = re.compile(r"\d{19,}")


def loads(text: str | bytes) -> Any:
    """Parse JSON, keeping integers of any size exactly (orjson would turn them into floats)."""
    raw = text.decode() if isinstance(text, bytes) else text
    return json.loads(raw) if _LONG_NUMBER.search(raw) else orjson.loads(raw)


def has_non_finite(value: Any) -> bool:
    """Whether a parsed JSON value holds NaN or Infinity (which JSON itself cannot express)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    return False
