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
        text = json.dumps(value, default=_fallback_default, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (echoed input): only an ASCII escape can carry it
        return json.dumps(value, default=_fallback_default, separators=(",", ":")).encode()


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


_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A `\uD800`-`\uDBFF` escape not followed by a low one, or a `\uDC00`-`\uDFFF` escape not preceded by a high one.
_LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def may_hold_lone_surrogate(raw: bytes) -> bool:
    """Cheap pre-check of JSON text: False means no string in it can decode to a lone surrogate."""
    return _LONE_SURROGATE_ESCAPE.search(raw) is not None


def has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a string or key with an unpaired UTF-16 surrogate (`"\\ud800"`).

    JSON's grammar allows such escapes, but the result is not Unicode text: it cannot be encoded as UTF-8,
    stored, or rendered back. (A valid pair decodes to one astral character, so any surrogate left is lone.)
    """
    stack = [value]
    while stack:  # iterative: the value may be nested as deep as the parser allowed
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


MAX_NESTING = 100  # objects and arrays inside one another; far beyond any real payload, far below stack limits


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether objects and arrays are nested more than `limit` levels deep in a parsed JSON value."""
    stack = [(value, 1)]
    while stack:  # iterative, so that checking depth cannot itself run out of stack
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
