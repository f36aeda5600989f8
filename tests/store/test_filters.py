"""The filter DSL (spec §4) compiled by `store.filters`, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table, null, select, update

from honcho_server.config import DatabaseSettings
from honcho_server.errors import FilterError
from honcho_server.store.dialect import dialect_for
from honcho_server.store.engine import Database
from honcho_server.store.filters import Field, compile_filter
from honcho_server.store.types import Json, UTCDateTime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg_support

# SQLAlchemy deprecates operators a type does not declare (e.g. ILIKE on a JSONB-typed `->>`); they will
# become errors, so the compiled expressions must not trigger any.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SADeprecationWarning")

BIG = 2**60 + 1
LEVELS = ("explicit", "deductive", "inductive", "contradiction")

schema = MetaData()
items = Table(
    "filter_items", schema,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("note", String(64), nullable=True),
    Column("count", BigInteger, nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("created_at", UTCDateTime(), nullable=True),
    Column("level", String(16), nullable=False),
    Column("meta", Json, nullable=True),
    Column("sources", Json, nullable=True),
)  # fmt: skip

FIELDS = {
    "id": Field(items.c.name, "text"),
    "note": Field(items.c.note, "text"),
    "count": Field(items.c.count, "int"),
    "flag": Field(items.c.flag, "bool"),
    "created_at": Field(items.c.created_at, "datetime"),
    "level": Field(items.c.level, "enum", choices=LEVELS),
    "metadata": Field(items.c.meta, "json"),
    "source_ids": Field(items.c.sources, "json", scalar_element_contains=True),
}


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


ROWS: list[dict[str, Any]] = [
    {
        "id": 1, "name": "alpha", "note": "Hello World", "count": 1, "flag": True,
        "created_at": _at(2024, 1, 1), "level": "explicit",
        "meta": {
            "type": "support", "priority": 3, "tags": ["a", "b"], "nested": {"x": 1, "y": 2},
            "flag": True, "date": "2024-02-10", "label": "100%_done",
        },
        "sources": ["s1", "s2"],
    },
    {
        "id": 2, "name": "beta", "note": "hello there", "count": 5, "flag": False,
        "created_at": _at(2024, 6, 15, 12, 30, 0, 500000), "level": "deductive",
        "meta": {
            "type": "sales", "priority": 10, "tags": ["b"], "flag": False, "date": "2024-01-05", "score": "7",
        },
        "sources": ["s2"],
    },
    {
        "id": 3, "name": "gamma", "note": None, "count": 10, "flag": None,
        "created_at": _at(2024, 12, 31, 23, 59, 59), "level": "inductive",
        "meta": {"type": "support", "priority": "high", "empty": ""},
        "sources": [],
    },
    {
        "id": 4, "name": "delta", "note": "100% sure_thing", "count": None, "flag": True,
        "created_at": None, "level": "contradiction", "meta": None, "sources": None,
    },
    {
        "id": 5, "name": "epsilon", "note": "path\\to", "count": BIG, "flag": False,
        "created_at": _at(2025, 3, 1), "level": "explicit",
        "meta": {"priority": 2.5, "type": None},
        "sources": ["s3"],
    },
]  # fmt: skip
ALL = {1, 2, 3, 4, 5}
SQLITE_DIALECT = dialect_for("sqlite")  # compiling (without running) needs some dialect


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A database of either kind holding ROWS (row 4 has SQL NULL JSON columns)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('filters') / 'filters.db'}"
    else:
        url = pg_support.create_database(pg_support.start_postgres(), "honcho_filters_test")
    database = Database(url, DatabaseSettings())
    async with database.write() as conn:
        await conn.run_sync(schema.create_all)
        await conn.execute(items.insert(), ROWS)
        # JSON columns store Python None as JSON null; make row 4 a real SQL NULL.
        await conn.execute(update(items).where(items.c.id == 4).values(meta=null(), sources=null()))
    yield database
    await database.dispose()


async def matching(db: Database, filters: Any) -> set[int]:
    """Ids of the rows the compiled filter selects."""
    condition = compile_filter(filters, FIELDS, db.dialect, resource="Item")
    stmt = select(items.c.id)
    if condition is not None:
        stmt = stmt.where(condition)
    async with db.read() as conn:
        return set((await conn.execute(stmt)).scalars())


def rejects(filters: Any, message: str) -> None:
    """The filter is refused with a FilterError whose message contains `message`."""
    with pytest.raises(FilterError) as caught:
        compile_filter(filters, FIELDS, SQLITE_DIALECT, resource="Item")
    assert message in caught.value.message
    assert caught.value.status_code == 422


def cases(*rows: tuple[Any, set[int]]) -> Any:
    """Parametrize (filters, expected ids) with readable ids."""
    return pytest.mark.parametrize(("filters", "expected"), rows, ids=[repr(r[0])[:80] for r in rows])


async def test_fixture_rows_round_trip(db: Database) -> None:
    assert await matching(db, None) == ALL


# --------------------------------------------------------------------------- no condition


@pytest.mark.parametrize("filters", [None, {}, {"id": "*"}, {"AND": []}, {"metadata": {}}])
def test_no_condition_compiles_to_none(filters: Any) -> None:
    assert compile_filter(filters, FIELDS, SQLITE_DIALECT, resource="Item") is None


# --------------------------------------------------------------------------- text and enum


@cases(
    ({"id": "alpha"}, {1}),
    ({"id": "ALPHA"}, set()),
    ({"id": "*"}, ALL),
    ({"id": ["alpha", "gamma"]}, {1, 3}),
    ({"id": {"in": ["alpha", "gamma"]}}, {1, 3}),
    ({"id": {"in": []}}, set()),
    ({"id": []}, set()),
    ({"id": {"in": ["alpha", "*"]}}, ALL),
    ({"id": ["alpha", "*"]}, ALL),
    ({"id": {"gt": "beta"}}, {3, 4, 5}),
    ({"id": {"gt": "beta", "lte": "epsilon"}}, {4, 5}),
    ({"id": {"gte": "beta", "lt": "delta"}}, {2}),
    ({"id": {"gt": "*", "lt": "beta"}}, {1}),
    ({"id": {"ne": "alpha"}}, {2, 3, 4, 5}),
    ({"note": None}, {3}),
    ({"note": {"ne": None}}, {1, 2, 4, 5}),
    ({"note": {"ne": "Hello World"}}, {2, 3, 4, 5}),
    ({"note": "Hello World"}, {1}),
    ({"note": {"contains": "hello"}}, {1, 2}),
    ({"note": {"icontains": "HELLO"}}, {1, 2}),
    ({"note": {"contains": "WORLD"}}, {1}),
    ({"note": {"contains": "100%"}}, {4}),
    ({"note": {"contains": "%"}}, {4}),
    ({"note": {"contains": "_"}}, {4}),
    ({"note": {"contains": "e_t"}}, {4}),
    ({"note": {"contains": "o_W"}}, set()),
    ({"note": {"icontains": "H%d"}}, set()),
    ({"note": {"contains": "\\"}}, {5}),
    ({"note": {"contains": "h\\t"}}, {5}),
    ({"note": {"contains": "/"}}, set()),
    ({"note": {"contains": "*"}}, ALL),
    ({"note": {"contains": "hello", "ne": "hello there"}}, {1}),
    ({"level": "explicit"}, {1, 5}),
    ({"level": ["deductive", "inductive"]}, {2, 3}),
    ({"level": {"in": ["deductive", "inductive"]}}, {2, 3}),
    ({"level": {"ne": "explicit"}}, {2, 3, 4}),
    ({"level": {"contains": "DUCT"}}, {2, 3}),
)
async def test_text_fields(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- int


@cases(
    ({"count": 5}, {2}),
    ({"count": "5"}, {2}),
    ({"count": " 5 "}, {2}),
    ({"count": True}, {1}),
    ({"count": False}, set()),
    ({"count": 5.0}, {2}),
    ({"count": {"gt": 1.5}}, {2, 3, 5}),
    ({"count": {"gte": "5", "lt": 11}}, {2, 3}),
    ({"count": {"lte": "1e1"}}, {1, 2, 3}),
    ({"count": [1, "10"]}, {1, 3}),
    ({"count": {"in": [True, 5]}}, {1, 2}),
    ({"count": None}, {4}),
    ({"count": {"ne": None}}, {1, 2, 3, 5}),
    ({"count": {"ne": 5}}, {1, 3, 4, 5}),
    ({"count": str(BIG)}, {5}),
    ({"count": BIG}, {5}),
    ({"count": str(BIG - 1)}, set()),
    ({"count": {"gt": 2**31}}, {5}),
    ({"count": {"lt": 10**30}}, {1, 2, 3, 5}),
    ({"count": {"gt": str(10**30)}}, set()),
)
async def test_int_fields(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- bool


@cases(
    ({"flag": True}, {1, 4}),
    ({"flag": False}, {2, 5}),
    ({"flag": None}, {3}),
    ({"flag": [True]}, {1, 4}),
    ({"flag": {"ne": True}}, {2, 3, 5}),
    ({"flag": {"ne": None}}, {1, 2, 4, 5}),
)
async def test_bool_fields(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- datetime


@cases(
    ({"created_at": "2024-01-01T00:00:00Z"}, {1}),
    ({"created_at": "2024-01-01T01:00:00+01:00"}, {1}),
    ({"created_at": "2023-12-31T19:00:00-05:00"}, {1}),
    ({"created_at": "2024-01-01T00:00:00"}, {1}),
    ({"created_at": "2024-01-01 00:00:00"}, {1}),
    ({"created_at": "2024-01-01"}, {1}),
    ({"created_at": "2024-06-15T12:30:00.5"}, {2}),
    ({"created_at": "2024-06-15 12:30:00.500000"}, {2}),
    ({"created_at": "2024-06-15T12:30:00.500Z"}, {2}),
    ({"created_at": {"gte": "2024-06-15"}}, {2, 3, 5}),
    ({"created_at": {"gte": "2024-01-01", "lte": "2024-12-31"}}, {1, 2}),
    ({"created_at": {"lt": "2024-12-31T23:59:59"}}, {1, 2}),
    ({"created_at": {"gt": "2024-12-31T23:59:59Z", "lt": "*"}}, {5}),
    ({"created_at": ["2024-01-01", "2025-03-01T00:00:00Z"]}, {1, 5}),
    ({"created_at": None}, {4}),
    ({"created_at": {"ne": "2024-01-01"}}, {2, 3, 4, 5}),
)
async def test_datetime_fields(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- logical operators


def _nested(levels: int, op: str = "AND") -> dict[str, Any]:
    """`{"id": "alpha"}` wrapped in `levels` logical operators."""
    inner: dict[str, Any] = {"id": "alpha"}
    for _ in range(levels):
        inner = {op: [inner]}
    return inner


@cases(
    ({"AND": [{"id": ["alpha", "beta"]}, {"count": {"gt": 1}}]}, {2}),
    ({"OR": [{"id": "alpha"}, {"count": 10}]}, {1, 3}),
    ({"OR": [{"id": "alpha"}, {"id": "beta", "flag": True}]}, {1}),
    ({"NOT": [{"id": "alpha"}]}, {2, 3, 4, 5}),
    ({"NOT": [{"note": "Hello World"}]}, {2, 3, 4, 5}),
    ({"NOT": [{"id": "alpha"}, {"flag": True}]}, {2, 3, 5}),
    ({"NOT": [{"flag": True, "count": 1}]}, {2, 3, 4, 5}),
    ({"NOT": [{"metadata": {"priority": {"gt": 4}}}]}, {1, 3, 4, 5}),
    ({"NOT": [{"metadata": {"type": "support"}}]}, {2, 4, 5}),
    ({"NOT": [{"source_ids": {"contains": "s2"}}]}, {3, 4, 5}),
    ({"NOT": [{"id": {"in": []}}]}, ALL),
    ({"NOT": [{"OR": [{"id": "alpha"}, {"id": "beta"}]}]}, {3, 4, 5}),
    ({"NOT": [{"NOT": [{"note": "Hello World"}]}]}, {1}),
    ({"AND": []}, ALL),
    ({"OR": []}, ALL),
    ({"NOT": []}, ALL),
    ({"OR": [{}, {"id": "alpha"}]}, {1}),
    ({"OR": [{"id": "*"}]}, ALL),
    ({"NOT": [{"id": "*"}]}, ALL),
    ({"id": ["alpha", "beta"], "OR": [{"count": 1}, {"count": 5}], "flag": False}, {2}),
    ({"AND": [{"OR": [{"id": "alpha"}, {"id": "gamma"}]}, {"NOT": [{"flag": True}]}]}, {3}),
    (_nested(5), {1}),
    (_nested(5, "OR"), {1}),
    ({"OR": [{"AND": [{"NOT": [{"OR": [{"AND": [{"id": "beta"}]}]}]}]}]}, {1, 3, 4, 5}),
)
async def test_logical_operators(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- metadata (§4.4)


@cases(
    ({"metadata": {"type": "support"}}, {1, 3}),
    ({"metadata": {"type": "support", "priority": 3}}, {1}),
    ({"metadata": {"type": "support", "priority": {"gte": 3}}}, {1}),
    ({"metadata": {"priority": 3.0}}, {1}),
    ({"metadata": {"tags": ["b"]}}, {1, 2}),
    ({"metadata": {"tags": ["a", "b"]}}, {1}),
    ({"metadata": {"tags": "a"}}, set()),
    ({"metadata": {"nested": {"x": 1}}}, {1}),
    ({"metadata": {"nested": {"x": 2}}}, set()),
    ({"metadata": {"flag": True}}, {1}),
    ({"metadata": {"flag": "true"}}, set()),
    ({"metadata": {"type": None}}, {5}),
    ({"metadata": {"type": "*"}}, ALL),
    ({"metadata": {"type": "*", "flag": False}}, {2}),
    ({"metadata": "*"}, ALL),
    ({"metadata": {}}, ALL),
    ({"metadata": None}, {4}),
    ({"metadata": {"ne": None}}, {1, 2, 3, 5}),
    ({"metadata": {"contains": {"type": "sales"}}}, {2}),
    ({"metadata": {"contains": {"priority": 2.5}}}, {5}),
    ({"metadata": {"contains": {}}}, {1, 2, 3, 5}),
    ({"metadata": {"contains": "*"}}, ALL),
    ({"metadata": ["a"]}, set()),
    ({"metadata": []}, set()),
    ({"metadata": {"contains": ["a"]}}, set()),
)
async def test_metadata_containment(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


@cases(
    ({"metadata": {"priority": {"gt": 4}}}, {2}),
    ({"metadata": {"priority": {"gt": "4"}}}, {2}),
    ({"metadata": {"priority": {"lt": 3}}}, {5}),
    ({"metadata": {"priority": {"gte": 2.5, "lte": 3}}}, {1, 5}),
    ({"metadata": {"priority": {"ne": 3}}}, {2, 5}),
    ({"metadata": {"priority": {"ne": "3"}}}, {2, 5}),
    ({"metadata": {"priority": {"gt": "*"}}}, ALL),
    ({"metadata": {"score": {"gte": 7}}}, {2}),
    ({"metadata": {"empty": {"gte": 0}}}, set()),
    ({"metadata": {"missing": {"ne": 1}}}, set()),
    ({"metadata": {"date": {"gte": "2024-02-01"}}}, {1}),
    ({"metadata": {"date": {"lt": "2024-02-01"}}}, {2}),
    ({"metadata": {"date": {"ne": "2024-02-10"}}}, {2, 3, 4, 5}),
    ({"metadata": {"type": {"ne": "support"}}}, {2, 4, 5}),
    ({"metadata": {"flag": {"ne": True}}}, {2, 3, 4, 5}),
    ({"metadata": {"flag": {"gte": True}}}, {1}),
    ({"metadata": {"flag": {"in": [True]}}}, {1}),
    ({"metadata": {"flag": {"in": ["True"]}}}, set()),
    ({"metadata": {"priority": {"in": [3, "high"]}}}, {1, 3}),
    ({"metadata": {"priority": {"in": ["10"]}}}, {2}),
    ({"metadata": {"priority": {"in": [2.5]}}}, {5}),
    ({"metadata": {"priority": {"in": []}}}, set()),
    ({"metadata": {"priority": {"in": ["*", 1]}}}, ALL),
    ({"metadata": {"type": {"contains": "PORT"}}}, {1, 3}),
    ({"metadata": {"type": {"icontains": "sal"}}}, {2}),
    ({"metadata": {"label": {"contains": "%_"}}}, {1}),
    ({"metadata": {"label": {"contains": "0_%"}}}, set()),
    ({"metadata": {"empty": {"contains": ""}}}, {3}),
    ({"metadata": {"priority": {"contains": 0}}}, {2}),
    ({"metadata": {"type": {"ne": None}}}, {1, 2, 3}),
    ({"metadata": {"type": {"ne": None}, "priority": {"lt": 5}}}, {1}),
)
async def test_metadata_key_operators(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- JSON list (source_ids)


@cases(
    ({"source_ids": {"contains": "s2"}}, {1, 2}),
    ({"source_ids": {"contains": ["s1", "s2"]}}, {1}),
    ({"source_ids": {"contains": []}}, {1, 2, 3, 5}),
    ({"source_ids": ["s2"]}, {1, 2}),
    ({"source_ids": "s3"}, {5}),
    ({"source_ids": "*"}, ALL),
    ({"source_ids": {"contains": "*"}}, ALL),
    ({"source_ids": None}, {4}),
    ({"source_ids": {"ne": None}}, {1, 2, 3, 5}),
    ({"source_ids": {"contains": "s9"}}, set()),
)
async def test_json_list_fields(db: Database, filters: Any, expected: set[int]) -> None:
    assert await matching(db, filters) == expected


# --------------------------------------------------------------------------- errors


UNKNOWN = "Column '{}' is not allowed to be filtered on or does not exist on Item"


MISUSE = [
    # shape of the filter object and the logical operators
    ([], "A filter must be a JSON object, got array"),
    ("id", "A filter must be a JSON object, got string"),
    ({"AND": {"id": "alpha"}}, "AND operator must contain a list, got object"),
    ({"OR": "x"}, "OR operator must contain a list, got string"),
    ({"OR": None}, "OR operator must contain a list, got null"),
    ({"NOT": None}, "NOT operator cannot be null"),
    ({"NOT": {"id": "alpha"}}, "NOT operator must contain a list, got object"),
    ({"AND": ["alpha"]}, "A filter must be a JSON object, got string"),
    ({"OR": [None]}, "A filter must be a JSON object, got null"),
    (_nested(6), "Filter nesting exceeds maximum depth of 5"),
    (_nested(6, "NOT"), "Filter nesting exceeds maximum depth of 5"),
    # field names
    ({"bogus": 1}, UNKNOWN.format("bogus")),
    ({"and": []}, UNKNOWN.format("and")),
    ({"AND": [{"OR": [{"name": "alpha"}]}]}, UNKNOWN.format("name")),
    # operator objects
    ({"id": {"foo": 1}}, "Unsupported comparison operator(s) ['foo'] for column 'id'"),
    ({"id": {}}, "Unsupported comparison operator(s) [] for column 'id'"),
    ({"id": {"gt": "a", "foo": 1}}, "Unsupported comparison operator: foo"),
    ({"id": {"GT": "a", "lt": "b"}}, "Unsupported comparison operator: GT"),
    ({"id": {"gt": None}}, "Operator 'gt' does not accept null"),
    ({"id": {"in": None}}, "Operator 'in' does not accept null"),
    ({"id": {"contains": None}}, "Operator 'contains' does not accept null"),
    ({"id": {"in": "alpha"}}, "Invalid value for 'in' operator: expected an array, got string"),
    ({"id": {"in": {"a": 1}}}, "Invalid value for 'in' operator: expected an array, got object"),
    # text / enum operands
    ({"id": 5}, "Invalid value for column 'id': expected a string, got number"),
    ({"id": True}, "Invalid value for column 'id': expected a string, got boolean"),
    ({"id": ["alpha", 3]}, "Invalid value for column 'id': expected a string, got number"),
    ({"id": {"ne": ["alpha"]}}, "Invalid value for column 'id': expected a string, got array"),
    ({"note": {"contains": 5}}, "Invalid value for 'contains' on column 'note': expected a string"),
    ({"level": "bogus"}, "Invalid value for column 'level': 'bogus'. Expected one of"),
    ({"level": {"in": ["explicit", "bogus"]}}, "Invalid value for column 'level': 'bogus'"),
    # bool operands
    ({"flag": "true"}, "Invalid value for column 'flag': expected true or false, got string"),
    ({"flag": 1}, "Invalid value for column 'flag': expected true or false, got number"),
    ({"flag": {"contains": "t"}}, "Operator 'contains' requires a text column, but 'flag' is bool"),
    # int operands
    ({"count": "abc"}, "Invalid numeric value: abc"),
    ({"count": "nan"}, "Invalid numeric value: nan"),
    ({"count": ""}, "Invalid numeric value"),
    ({"count": [1, "x"]}, "Invalid numeric value: x"),
    ({"count": {"gt": {"a": 1}}}, "Invalid numeric value"),
    ({"count": {"contains": "1"}}, "Operator 'contains' requires a text column, but 'count' is int"),
    ({"count": {"icontains": "1"}}, "Operator 'icontains' requires a text column, but 'count' is int"),
    # datetime operands
    ({"created_at": "yesterday"}, "Invalid datetime value: yesterday"),
    ({"created_at": {"gte": "2024-13-01"}}, "Invalid datetime value: 2024-13-01"),
    ({"created_at": {"in": ["2024-01-01", "soon"]}}, "Invalid datetime value: soon"),
    ({"created_at": 1700000000}, "expected a datetime string, got number"),
    ({"created_at": {"contains": "2024"}}, "requires a text column, but 'created_at' is datetime"),
    # JSON fields as a whole
    ({"metadata": {"gt": 1}}, "Operator 'gt' is not supported on JSON column 'metadata'"),
    ({"metadata": {"ne": {"a": 1}}}, "Operator 'ne' is not supported on JSON column 'metadata'"),
    ({"metadata": {"in": [{"a": 1}]}}, "Operator 'in' is not supported on JSON column 'metadata'"),
    ({"metadata": {"icontains": {"a": 1}}}, "Operator 'icontains' is not supported on JSON column"),
    ({"metadata": {"contains": None}}, "Operator 'contains' does not accept null"),
    ({"metadata": {"contains": "x"}}, "a JSON column takes an object or an array"),
    ({"metadata": "x"}, "takes an object or an array (optionally under 'contains'), got string"),
    ({"metadata": 5}, "got number"),
    ({"metadata": True}, "got boolean"),
    ({"metadata": {"contains": {"type": "x"}, "type": "x"}}, "Unsupported comparison operator: type"),
    ({"source_ids": {"in": ["s1"]}}, "Operator 'in' is not supported on JSON column 'source_ids'"),
    ({"source_ids": {"gt": "s1"}}, "Operator 'gt' is not supported on JSON column 'source_ids'"),
    ({"source_ids": {"a": 1}}, "matching by key is only supported on metadata"),
    # metadata keys
    ({"metadata": {"priority": {"gt": 1, "bad": 2}}}, "Unsupported comparison operator: bad"),
    ({"metadata": {"priority": {"gt": None}}}, "Operator 'gt' does not accept null"),
    ({"metadata": {"priority": {"in": "x"}}}, "Invalid value for 'in' operator: expected an array"),
    ({"metadata": {"priority": {"gt": [1]}}}, "Invalid value for 'gt' on 'metadata.priority'"),
    ({"metadata": {"priority": {"ne": {"a": 1}}}}, "Invalid value for 'ne' on 'metadata.priority'"),
    ({"metadata": {"priority": {"in": [1, None]}}}, "Invalid value for 'in' on 'metadata.priority'"),
    ({"metadata": {"priority": {"in": [[1]]}}}, "got array"),
    ({"metadata": {"type": {"contains": {"a": 1}}}}, "Invalid value for 'contains' on 'metadata.type'"),
    # errors inside logical operators surface too
    ({"NOT": [{"count": "abc"}]}, "Invalid numeric value: abc"),
]


@pytest.mark.parametrize(("filters", "message"), MISUSE, ids=[repr(f)[:70] for f, _ in MISUSE])
def test_misuse_is_a_filter_error(filters: Any, message: str) -> None:
    rejects(filters, message)


def test_wildcard_operands_skip_checks() -> None:
    """`"*"` skips an operator before its operand would be type-checked."""
    for filters in ({"count": {"gt": "*"}, "flag": "*"}, {"metadata": {"gt": "*"}}, {"id": {"in": [1, "*"]}}):
        assert compile_filter(filters, FIELDS, SQLITE_DIALECT, resource="Item") is None


def test_resource_name_in_unknown_column_message() -> None:
    with pytest.raises(FilterError, match=r"does not exist on Conclusion$"):
        compile_filter({"content": "x"}, FIELDS, SQLITE_DIALECT, resource="Conclusion")


def test_field_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown filter field kind"):
        Field(items.c.name, "string")
