"""The filter DSL (spec §4): client JSON filters compiled into SQLAlchemy boolean expressions.

    compiler.py   compile_filter: AND / OR / NOT, nesting depth, field lookup
    scalar.py     text, enum, datetime, int and bool fields: equality, IN, comparisons, substring
    metadata.py   JSON fields: containment, per-key metadata matching
    operands.py   operand type checks (strings, enums, booleans, ISO datetimes, numbers)
    fields.py     Field, operator names, shared helpers

Every misuse raises `honcho_server.errors.FilterError` (422).
"""

from honcho_server.store.filters.compiler import MAX_DEPTH, compile_filter
from honcho_server.store.filters.fields import OPERATORS, Field

__all__ = ["MAX_DEPTH", "OPERATORS", "Field", "compile_filter"]
