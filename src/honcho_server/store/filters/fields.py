"""Vocabulary shared by the filter compiler: field descriptions, operator names and small helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_

from honcho_server.errors import FilterError

WILDCARD = "*"
OPERATORS = ("gte", "lte", "gt", "lt", "ne", "in", "contains", "icontains")
ORDERING = ("gt", "gte", "lt", "lte")
KINDS = ("text", "datetime", "int", "bool", "json", "enum")


@dataclass(frozen=True)
class Field:
    """A filterable field: the SQL expression behind a client-visible key and how its operands are typed."""

    column: Any
    kind: str
    choices: tuple[str, ...] = ()
    scalar_element_contains: bool = False

    def __post_init__(self) -> None:
        """Reject kinds the compiler does not know (a programming error, not a client one)."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown filter field kind: {self.kind!r}")


def is_wildcard(value: Any) -> bool:
    """True for the `"*"` operand, which means "no condition"."""
    return isinstance(value, str) and value == WILDCARD


def is_operator_object(value: Any) -> bool:
    """An object is an operator object as soon as one of its keys is a known operator."""
    return isinstance(value, dict) and any(key in OPERATORS for key in value)


def check_operators(operators: Mapping[str, Any]) -> None:
    """Every key of an operator object must be a known operator."""
    for op in operators:
        if op not in OPERATORS:
            raise FilterError(f"Unsupported comparison operator: {op}")


def require_list(op: str, operand: Any) -> list[Any]:
    """The operand of `in`, which must be a JSON array."""
    if not isinstance(operand, list):
        raise FilterError(f"Invalid value for '{op}' operator: expected an array, got {json_type(operand)}")
    return operand


def null_operand(op: str) -> None:
    """Reject a null operand for an operator other than `ne`."""
    raise FilterError(
        f"Operator '{op}' does not accept null. Use {{\"ne\": null}} for a not-null check, "
        "or null on its own for a null check."
    )


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def combine(conditions: Iterable[ColumnElement[bool] | None]) -> ColumnElement[bool] | None:
    """AND the conditions that exist; None when there are none."""
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else and_(*present)
