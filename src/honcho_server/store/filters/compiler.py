"""The filter DSL's top level: logical operators, nesting depth and dispatch to field conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_

from honcho_server.errors import FilterError
from honcho_server.store.dialect import Dialect
from honcho_server.store.filters.fields import Field, combine, json_type
from honcho_server.store.filters.metadata import json_condition
from honcho_server.store.filters.scalar import scalar_condition

MAX_DEPTH = 5
MAX_VALUES = 10_000
LOGICAL = ("AND", "OR", "NOT")


def compile_filter(
    filters: dict[str, Any] | None, fields: Mapping[str, Field], dialect: Dialect, *, resource: str
) -> ColumnElement[bool] | None:
    """Compile a client filter object into one boolean SQL expression; None when it sets no condition."""
    if filters is None:
        return None
    _check_size_and_text(filters)
    return _Compiler(fields, dialect, resource).filter(filters, 0)


def _check_size_and_text(filters: Any) -> None:
    """Limits that keep any filter within what the database accepts, checked before compiling.

    Each value may become a bound parameter (PostgreSQL takes at most 32767 per statement), and a NUL
    character can neither be stored nor compared by PostgreSQL (no stored id or metadata text holds one).
    """
    stack, values = [filters], 0
    while stack:  # iterative: nesting is only limited further down, by the compiler
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
            continue
        if isinstance(item, list):
            stack.extend(item)
            continue
        values += 1
        if values > MAX_VALUES:
            raise FilterError(f"A filter may hold at most {MAX_VALUES} values")
        if isinstance(item, str) and "\x00" in item:
            raise FilterError("Filter keys and values may not contain NUL characters")


@dataclass(frozen=True)
class _Compiler:
    """The fields of one resource, the database's JSON operators, and the resource name for errors."""

    fields: Mapping[str, Field]
    dialect: Dialect
    resource: str

    def filter(self, filters: Any, depth: int) -> ColumnElement[bool] | None:
        """A filter object: all of its entries AND-ed."""
        if depth > MAX_DEPTH:
            raise FilterError(f"Filter nesting exceeds maximum depth of {MAX_DEPTH}")
        if not isinstance(filters, dict):
            raise FilterError(f"A filter must be a JSON object, got {json_type(filters)}")
        return combine(self._entry(key, value, depth) for key, value in filters.items())

    def _entry(self, key: str, value: Any, depth: int) -> ColumnElement[bool] | None:
        """One `key: value` entry: a logical operator or a field."""
        if key in LOGICAL:
            return self._logical(key, value, depth)
        field = self.fields.get(key)
        if field is None:
            raise FilterError(
                f"Column '{key}' is not allowed to be filtered on or does not exist on {self.resource}"
            )
        if field.kind == "json":
            return json_condition(key, field, value, self.dialect)
        return scalar_condition(key, field, value)

    def _logical(self, op: str, value: Any, depth: int) -> ColumnElement[bool] | None:
        """AND / OR / NOT over a list of sub-filters; sub-filters without a condition are left out."""
        if value is None and op == "NOT":
            raise FilterError("NOT operator cannot be null")
        if not isinstance(value, list):
            raise FilterError(f"{op} operator must contain a list, got {json_type(value)}")
        parts = [self.filter(sub, depth + 1) for sub in value]
        conditions = [part for part in parts if part is not None]
        if not conditions:
            return None
        if op == "AND":
            return and_(*conditions)
        if op == "OR":
            return or_(*conditions)
        # "Not true" rather than "false": a sub-condition that is NULL (an unset field) is not a match.
        return and_(*(not_(func.coalesce(condition, false())) for condition in conditions))
