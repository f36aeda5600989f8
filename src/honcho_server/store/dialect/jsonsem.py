"""PostgreSQL JSON semantics in Python, registered as SQLite functions so both databases filter alike."""

from __future__ import annotations

import json
import re
from typing import Any

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def contains(doc: Any, needle: Any, top: bool = True) -> bool:
    """JSON containment as PostgreSQL's `@>` defines it."""
    if isinstance(needle, dict):
        return isinstance(doc, dict) and all(k in doc and contains(doc[k], v, False) for k, v in needle.items())
    if isinstance(needle, list):
        return isinstance(doc, list) and all(any(contains(d, n, False) for d in doc) for n in needle)
    if isinstance(doc, list) and top:
        return any(_scalar_eq(d, needle) for d in doc)
    return _scalar_eq(doc, needle)


def _scalar_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def as_text(value: Any) -> str | None:
    """How PostgreSQL's `->>` renders a JSON value as text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def sql_contains(doc_text: str | None, needle_text: str | None) -> int | None:
    if doc_text is None or needle_text is None:
        return None
    return int(contains(json.loads(doc_text), json.loads(needle_text)))


def sql_text(doc_text: str | None, key: str | None) -> str | None:
    if doc_text is None or key is None:
        return None
    doc = json.loads(doc_text)
    return as_text(doc.get(key)) if isinstance(doc, dict) else None


def sql_number(doc_text: str | None, key: str | None) -> float | None:
    text = sql_text(doc_text, key)
    return float(text) if text is not None and _NUMBER.match(text) else None


NUMBER_PATTERN = _NUMBER.pattern
