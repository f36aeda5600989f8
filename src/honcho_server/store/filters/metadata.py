"""Conditions on JSON fields: containment for the document as a whole, per-key matching for metadata."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false

from honcho_server.errors import FilterError
from honcho_server.store.dialect import Dialect
from honcho_server.store.dialect.jsonsem import as_text
from honcho_server.store.filters.fields import (
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
from honcho_server.store.filters.operands import parse_number

_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def json_condition(name: str, field: Field, value: Any, dialect: Dialect) -> ColumnElement[bool] | None:
    """The condition for `{name: value}` on a JSON field."""
    return _JsonField(name, field, dialect).condition(value)


@dataclass(frozen=True)
class _JsonField:
    """One JSON field being filtered, with the dialect that supplies its JSON operators."""

    name: str
    field: Field
    dialect: Dialect

    @property
    def column(self) -> Any:
        """The JSON column."""
        return self.field.column

    def condition(self, value: Any) -> ColumnElement[bool] | None:
        """Dispatch on the shape of the client's value."""
        if is_wildcard(value):
            return None
        if value is None:
            return self.column.is_(None)
        if isinstance(value, list):
            return self.dialect.json_contains(self.column, value)
        if is_operator_object(value):
            return self._operators(value)
        if isinstance(value, dict):
            if self.field.scalar_element_contains:
                raise FilterError(
                    f"Invalid filter for column '{self.name}': matching by key is only supported on metadata"
                )
            return combine(self._key(key, item) for key, item in value.items())
        return self._element(value)

    def _operators(self, operators: dict[str, Any]) -> ColumnElement[bool] | None:
        """`{"contains": ...}` (or `{"ne": null}`) on the document as a whole."""
        check_operators(operators)
        return combine(self._operator(op, operand) for op, operand in operators.items())

    def _operator(self, op: str, operand: Any) -> ColumnElement[bool] | None:
        """One operator on the whole document: only containment compares JSON documents."""
        if is_wildcard(operand):
            return None
        if operand is None:
            if op != "ne":
                null_operand(op)
            return self.column.is_not(None)
        if op != "contains":
            raise FilterError(
                f"Operator '{op}' is not supported on JSON column '{self.name}'; "
                'use an object, an array or {"contains": ...}'
            )
        if isinstance(operand, (dict, list)):
            return self.dialect.json_contains(self.column, operand)
        return self._element(operand)

    def _element(self, value: Any) -> ColumnElement[bool]:
        """A scalar: an element of a JSON array column, and invalid anywhere else."""
        if not self.field.scalar_element_contains:
            raise FilterError(
                f"Invalid filter for column '{self.name}': a JSON column takes an object or an array "
                f"(optionally under 'contains'), got {json_type(value)}"
            )
        return self.dialect.json_contains(self.column, [value])

    def _key(self, key: str, value: Any) -> ColumnElement[bool] | None:
        """One `key: value` of a metadata match: containment, or operators on the key's text value."""
        if is_wildcard(value):
            return None
        if not is_operator_object(value):
            return self.dialect.json_contains(self.column, {key: value})
        check_operators(value)
        return combine(self._key_operator(key, op, operand) for op, operand in value.items())

    def _key_operator(self, key: str, op: str, operand: Any) -> ColumnElement[bool] | None:
        """One operator applied to the text value of top-level `key`."""
        if is_wildcard(operand):
            return None
        text = self.dialect.json_text(self.column, key)
        if operand is None:
            if op != "ne":
                null_operand(op)
            return text.is_not(None)
        if op in ORDERING or op == "ne":
            return self._key_compare(key, op, operand)
        if op == "in":
            return self._key_in(key, require_list(op, operand))
        return text.icontains(self._render(key, op, operand), autoescape=True)

    def _key_compare(self, key: str, op: str, operand: Any) -> ColumnElement[bool]:
        """Numeric comparison for numeric operands (missing or non-numeric values never match), else text."""
        number = _number(operand)
        if number is not None:
            value = self.dialect.json_number(self.column, key)
            return value != number if op == "ne" else _COMPARE[op](value, number)
        text = self.dialect.json_text(self.column, key)
        rendered = self._render(key, op, operand)
        return text.is_distinct_from(rendered) if op == "ne" else _COMPARE[op](text, rendered)

    def _key_in(self, key: str, operands: list[Any]) -> ColumnElement[bool] | None:
        """The key's text value is one of the operands rendered as JSON text; `[]` matches nothing."""
        if any(is_wildcard(item) for item in operands):
            return None
        if not operands:
            return false()
        rendered = [self._render(key, "in", item) for item in operands]
        return self.dialect.json_text(self.column, key).in_(rendered)

    def _render(self, key: str, op: str, operand: Any) -> str:
        """A scalar operand as the text `->>` would give for it (`true`, `3`, `abc`)."""
        if operand is None or isinstance(operand, (dict, list)):
            raise FilterError(
                f"Invalid value for '{op}' on '{self.name}.{key}': expected a string, number or boolean, "
                f"got {json_type(operand)}"
            )
        return str(as_text(operand))


def _number(operand: Any) -> float | None:
    """A numeric operand (number or numeric string, not a boolean) as a float; None otherwise."""
    if isinstance(operand, bool):
        return None
    if isinstance(operand, (int, float)):
        return float(operand)
    if isinstance(operand, str):
        parsed = parse_number(operand)
        return None if parsed is None else float(parsed)
    return None
