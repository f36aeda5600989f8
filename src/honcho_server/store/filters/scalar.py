"""Conditions on scalar fields (text, enum, datetime, int, bool)."""

from __future__ import annotations

import operator
from typing import Any

from sqlalchemy import ColumnElement, false

from honcho_server.errors import FilterError
from honcho_server.store.filters.fields import (
    OPERATORS,
    ORDERING,
    Field,
    check_operators,
    combine,
    is_operator_object,
    is_wildcard,
    json_type,
    null_operand,
    require_list,
)
from honcho_server.store.filters.operands import coerce

_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def scalar_condition(name: str, field: Field, value: Any) -> ColumnElement[bool] | None:
    """The condition for `{name: value}` on a scalar field."""
    if is_wildcard(value):
        return None
    if value is None:
        return field.column.is_(None)
    if isinstance(value, list):
        return _in(name, field, value)
    if isinstance(value, dict):
        if not is_operator_object(value):
            raise FilterError(
                f"Unsupported comparison operator(s) {sorted(value)} for column '{name}'. "
                f"Expected one of {sorted(OPERATORS)} or a scalar value."
            )
        return _operator_object(name, field, value)
    return field.column == coerce(name, field, value)


def _operator_object(name: str, field: Field, operators: dict[str, Any]) -> ColumnElement[bool] | None:
    """Every operator of `{op: operand, ...}`, AND-ed."""
    check_operators(operators)
    return combine(_operator(name, field, op, operand) for op, operand in operators.items())


def _operator(name: str, field: Field, op: str, operand: Any) -> ColumnElement[bool] | None:
    """One `op: operand` pair on a scalar field."""
    if is_wildcard(operand):
        return None
    if operand is None:
        if op != "ne":
            null_operand(op)
        return field.column.is_not(None)
    if op in ORDERING:
        return _COMPARE[op](field.column, coerce(name, field, operand))
    if op == "ne":
        return field.column.is_distinct_from(coerce(name, field, operand))
    if op == "in":
        return _in(name, field, require_list(op, operand))
    return _contains(name, field, op, operand)


def _in(name: str, field: Field, operands: list[Any]) -> ColumnElement[bool] | None:
    """Membership; a `"*"` element drops the condition and an empty list matches nothing."""
    if any(is_wildcard(item) for item in operands):
        return None
    if not operands:
        return false()
    return field.column.in_([coerce(name, field, item) for item in operands])


def _contains(name: str, field: Field, op: str, operand: Any) -> ColumnElement[bool]:
    """Case-insensitive literal substring match, for text fields only."""
    if field.kind not in ("text", "enum"):
        raise FilterError(f"Operator '{op}' requires a text column, but '{name}' is {field.kind}")
    if not isinstance(operand, str):
        raise FilterError(
            f"Invalid value for '{op}' on column '{name}': expected a string, got {json_type(operand)}"
        )
    return field.column.icontains(operand, autoescape=True)
