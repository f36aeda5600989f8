"""Type checking of operands against scalar fields, returning values ready to bind."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Float, Numeric, literal

from honcho_server.errors import FilterError
from honcho_server.store.dialect.jsonsem import NUMBER_PATTERN
from honcho_server.store.filters.fields import Field, json_type

_NUMBER = re.compile(NUMBER_PATTERN)
_INT64 = 2**63
_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d",
)


def coerce(name: str, field: Field, value: Any) -> Any:
    """`value` checked against the type of a scalar field and converted for binding."""
    if field.kind in ("text", "enum"):
        return _text(name, field, value)
    if field.kind == "bool":
        return _bool(name, value)
    if field.kind == "datetime":
        return _datetime(name, value)
    if field.kind == "int":
        return _int(value)
    raise FilterError(f"Column '{name}' cannot be compared with a scalar value")


def _text(name: str, field: Field, value: Any) -> str:
    """A JSON string; for enum fields, one of the listed values."""
    if not isinstance(value, str):
        raise FilterError(f"Invalid value for column '{name}': expected a string, got {json_type(value)}")
    if field.kind == "enum" and value not in field.choices:
        raise FilterError(
            f"Invalid value for column '{name}': {value!r}. Expected one of {sorted(field.choices)}"
        )
    return value


def _bool(name: str, value: Any) -> bool:
    """JSON true or false; nothing else (not even the string "true")."""
    if not isinstance(value, bool):
        raise FilterError(
            f"Invalid value for column '{name}': expected true or false, got {json_type(value)}"
        )
    return value


def _datetime(name: str, value: Any) -> datetime:
    """An ISO-8601 string as an aware UTC datetime."""
    if not isinstance(value, str):
        raise FilterError(
            f"Invalid value for column '{name}': expected a datetime string, got {json_type(value)}"
        )
    parsed = parse_datetime(value)
    if parsed is None:
        raise FilterError(f"Invalid datetime value: {value}")
    return parsed


def parse_datetime(value: str) -> datetime | None:
    """ISO-8601 with `Z` or an offset, or one of the naive forms (taken as UTC); None when invalid."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-14:00 has no UTC equivalent
            return None
    for fmt in _NAIVE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _int(value: Any) -> Any:
    """A number or numeric string (booleans count as 1/0), as a literal typed so any size binds exactly."""
    number = value if isinstance(value, (int, float)) else None
    if isinstance(value, str):
        number = parse_number(value)
    if number is None:
        raise FilterError(f"Invalid numeric value: {value}. Expected a number, got {json_type(value)}")
    if isinstance(number, bool):
        number = int(number)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise FilterError(f"Invalid numeric value: {value}. Expected a finite number")
        return literal(number, Float())
    if -_INT64 <= number < _INT64:
        return literal(number, BigInteger())
    return literal(Decimal(number), Numeric())


def parse_number(text: str) -> int | float | None:
    """A decimal number written as a string (`"42"`, `"-1.5"`, `"1e3"`); None for anything else."""
    if not _NUMBER.match(text):
        return None
    try:
        exact = Decimal(text.strip())
    except InvalidOperation:
        return None
    if exact == exact.to_integral_value() and "." not in text and "e" not in text.lower():
        return int(exact)
    return float(exact)
