"""Scoring payload parsing and schema validation, as properties (no server needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit import ColumnSpec, InvalidPayload, Schema
from opskit.serve.payloads import Table, parse_invocations, parse_json, parse_records
from opskit.serve.routing import Router
from opskit.serve.validation import validate

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
values = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.booleans(),
)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    columns = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    n = draw(st.integers(1, 6))
    rows = [[draw(values) for _ in columns] for _ in range(n)]
    return Table(tuple(columns), rows)


def encodings(table: Table) -> list[Any]:
    assert table.columns is not None
    records = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
    columnar = {c: [row[j] for row in table.rows] for j, c in enumerate(table.columns)}
    return [
        {"dataframe_split": {"columns": list(table.columns), "data": table.rows}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": records},
        {"inputs": columnar},
        {"instances": columnar},
    ]


@given(tables())
def test_every_mlflow_format_parses_to_the_same_table(table: Table) -> None:
    """dataframe_split, dataframe_records, instances and inputs (records or columns) all give the same rows."""
    for doc in encodings(table):
        parsed = parse_invocations(parse_json(json.dumps(doc).encode()))
        assert parsed.columns == table.columns
        assert parsed.rows == table.rows


@given(tables())
def test_predict_accepts_records_or_one_record(table: Table) -> None:
    """/predict takes a list of records; a single object is one row."""
    assert table.columns is not None
    records = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
    assert parse_records(records).rows == table.rows
    assert parse_records(records[0]).rows == table.rows[:1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=15,
)
wrapped = st.one_of(
    json_values,
    st.builds(
        lambda k, v: {k: v},
        st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]),
        json_values,
    ),
)


@given(wrapped)
def test_any_json_either_parses_or_raises_invalid_payload(doc: Any) -> None:
    """No JSON document makes the parser fail with anything but InvalidPayload."""
    for parse in (parse_invocations, parse_records):
        try:
            table = parse(doc)
        except InvalidPayload as exc:
            message = str(exc)
            assert message
            continue
        assert len(table) >= 1
        assert all(isinstance(row, list) for row in table.rows)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_json_or_invalid_payload(body: bytes) -> None:
    """Undecodable or malformed bodies raise InvalidPayload, never another error."""
    try:
        parse_json(body)
    except InvalidPayload as exc:
        message = str(exc)
        assert "JSON" in message


SCHEMA = Schema(
    (
        ColumnSpec("a", "float64"),
        ColumnSpec("b", "int64"),
        ColumnSpec("c", "object"),
        ColumnSpec("d", "bool"),
    )
)


@given(
    st.permutations(["a", "b", "c", "d"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000),
)
def test_validation_reorders_columns_to_the_schema(order: list[str], a: float, b: int) -> None:
    """Columns in any order come back in schema order with their values."""
    row = {"a": a, "b": b, "c": "x", "d": True}
    checked = validate(Table(tuple(order), [[row[c] for c in order]]), SCHEMA)
    assert checked.columns == ("a", "b", "c", "d")
    assert checked.rows == [[a, b, "x", True]]


@pytest.mark.parametrize(
    ("columns", "row", "field"),
    [
        (("a", "b", "c"), [1.0, 2, "x"], "d"),
        (("a", "b", "c", "d", "zz"), [1.0, 2, "x", True, 0], "zz"),
        (("a", "b", "c", "d"), ["1.0", 2, "x", True], "a"),
        (("a", "b", "c", "d"), [1.0, 2.5, "x", True], "b"),
        (("a", "b", "c", "d"), [1.0, 2, 3, True], "c"),
        (("a", "b", "c", "d"), [1.0, 2, "x", 1], "d"),
        (("a", "b", "c", "d"), [True, 2, "x", True], "a"),
    ],
)
def test_validation_errors_name_the_field(
    columns: tuple[str, ...], row: list[Any], field: str
) -> None:
    """Missing, extra and wrongly typed columns raise InvalidPayload naming the column."""
    with pytest.raises(InvalidPayload, match=field) as info:
        validate(Table(columns, [row]), SCHEMA)
    assert info.value.field == field


def test_positional_rows_must_match_the_schema_width() -> None:
    """Rows without column names take the schema's names, and must have one value per column."""
    assert validate(Table(None, [[1.0, 2, "x", False]]), SCHEMA).columns == ("a", "b", "c", "d")
    with pytest.raises(InvalidPayload, match="4 columns"):
        validate(Table(None, [[1.0, 2]]), SCHEMA)


@settings(max_examples=50)
@given(st.lists(st.floats(0.01, 10), min_size=1, max_size=5), st.text(max_size=20))
def test_routing_is_sticky_and_in_range(weights: list[float], key: str) -> None:
    """The same routing key always picks the same variant; every pick is a valid index."""
    router = Router(weights)
    first = router.choose(key)
    assert 0 <= first < len(weights)
    assert all(router.choose(key) == first for _ in range(5))
    assert 0 <= router.choose() < len(weights)


def test_routing_follows_weights() -> None:
    """Without a key, picks follow the weights (a zero weight is never picked)."""
    router = Router([0.8, 0.2, 0.0])
    picks = [router.choose() for _ in range(4000)]
    assert picks.count(2) == 0
    assert 0.7 < picks.count(0) / len(picks) < 0.9
