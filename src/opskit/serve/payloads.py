"""Scoring payloads → a column-named table of rows, without pandas.

``/invocations`` accepts MLflow's four shapes so existing clients work unchanged:

* ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``
* ``{"dataframe_records": [{"col": value, ...}, ...]}``
* ``{"instances": [...]}`` and ``{"inputs": ...}``: a list of records, a
  dict of columns (``{"col": [v1, v2]}``), or a list of positional rows.

``/predict`` takes records: a JSON list of objects, or one object.
Positional rows have ``columns=None``; validation names them from the schema.

Both endpoints also take ``Content-Type: text/csv`` (a header row, then one
line per row), as MLflow's server does; its fields are strings, cast per the
column's dtype (an empty field is a missing value).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from opskit.errors import InvalidPayload, UnsupportedMediaType

__all__ = [
    "CONTENT_TYPES",
    "MLFLOW_KEYS",
    "Table",
    "parse_body",
    "parse_csv",
    "parse_invocations",
    "parse_json",
    "parse_records",
]

#: The content types the scoring endpoints accept (a missing Content-Type is read as JSON).
CONTENT_TYPES = ("application/json", "text/csv")

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@frozen
class Table:
    """Rows of values; ``columns`` is None when rows are positional; ``text`` when values are CSV fields."""

    columns: tuple[str, ...] | None
    rows: list[list[Any]]
    text: bool = False

    def __len__(self) -> int:
        return len(self.rows)


def _empty(body: bytes) -> None:
    if not body.strip():
        raise InvalidPayload(
            "the request body is empty; send a JSON document such as "
            '{"dataframe_records": [{"column": value}]} or CSV with a header row (Content-Type: text/csv)'
        )


def parse_json(body: bytes) -> Any:
    """Decode a request body, or raise ``InvalidPayload`` saying where the JSON breaks.

    orjson when installed (fast); the standard library otherwise and for what
    orjson refuses: ``NaN``, ``Infinity`` and numbers beyond a double (``1e400``),
    which the dtype checks then accept or refuse per column.
    """
    _empty(body)
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is in the serve extra
        pass
    else:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except (UnicodeDecodeError, RecursionError):
        raise InvalidPayload("the request body is not UTF-8 JSON; send a JSON document") from None
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def parse_csv(body: bytes) -> Table:
    """A CSV body (header row, then rows) → a table of strings, or ``InvalidPayload`` naming the line."""
    _empty(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidPayload("the CSV body is not UTF-8 text") from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidPayload(f"malformed CSV: {exc}") from None
    lines = [line for line in lines if line]
    header, data = lines[0], lines[1:]
    if not data:
        raise InvalidPayload(
            "the CSV body has a header row but no data rows; send one line per row after the header"
        )
    if len(set(header)) != len(header):
        raise InvalidPayload("the CSV header has duplicate column names", field=header[0])
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise InvalidPayload(
                f"CSV record {i + 2} (data row {i}) has {len(row)} fields for {len(header)} columns; quote "
                "fields that contain commas, quotes or line breaks"
            )
    return Table(tuple(header), [list(row) for row in data], text=True)


def parse_body(body: bytes, content_type: str | None, parse: Any) -> Table:
    """A request body by its Content-Type: JSON through *parse* (an endpoint's document parser), or CSV."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return parse_csv(body)
    if media == "application/json" or media.endswith("+json"):
        table: Table = parse(parse_json(body))
        return table
    raise UnsupportedMediaType(
        f"unsupported Content-Type {media!r}; send one of {', '.join(CONTENT_TYPES)}",
        field="Content-Type",
    )


def _records(items: Any, where: str) -> Table:
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list) or not items:
        raise InvalidPayload(
            f"{where} must be a non-empty list of objects (one per row)", field=where
        )
    first = items[0]
    if not isinstance(first, Mapping):
        raise InvalidPayload(
            f"{where}[0] must be an object mapping column names to values", field=where
        )
    columns = tuple(str(k) for k in first)
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidPayload(
                f"{where}[{i}] must be an object mapping column names to values", field=where
            )
        if len(item) != len(columns) or any(c not in item for c in columns):
            diff = sorted(set(map(str, item)) ^ set(columns))
            raise InvalidPayload(
                f"{where}[{i}] has different columns from {where}[0] (differ: {', '.join(diff)}); "
                "every record needs the same columns",
                field=diff[0] if diff else where,
            )
        rows.append([item[c] for c in columns])
    return Table(columns, rows)


def _columnar(data: Mapping[str, Any], where: str) -> Table:
    columns = tuple(str(k) for k in data)
    values = list(data.values())
    if not columns:
        raise InvalidPayload(f"{where} has no columns", field=where)
    lengths = {len(v) if isinstance(v, list) else -1 for v in values}
    if -1 in lengths:
        bad = next(c for c, v in zip(columns, values, strict=True) if not isinstance(v, list))
        raise InvalidPayload(f"{where}.{bad} must be a list of values (one per row)", field=bad)
    if len(lengths) != 1 or 0 in lengths:
        raise InvalidPayload(
            f"the columns of {where} must be non-empty lists of equal length", field=where
        )
    return Table(columns, [list(row) for row in zip(*values, strict=True)])


def _positional(items: list[Any], where: str) -> Table:
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, list):
            raise InvalidPayload(
                f"{where}[{i}] must be a list of values (positional row)", field=where
            )
        rows.append(item)
    return Table(None, rows)


def _list_or_columns(value: Any, where: str) -> Table:
    if isinstance(value, Mapping):
        return _columnar(value, where)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return _records(value, where)
    if isinstance(value, list) and value:
        return _positional(value, where)
    raise InvalidPayload(
        f"{where} must be a non-empty list of rows or an object of columns", field=where
    )


def _split(value: Any) -> Table:
    where = "dataframe_split"
    if not isinstance(value, Mapping):
        raise InvalidPayload(f"{where} must be an object with 'columns' and 'data'", field=where)
    data = value.get("data")
    if not isinstance(data, list) or not data:
        raise InvalidPayload(f"{where}.data must be a non-empty list of rows", field="data")
    columns = value.get("columns")
    table = _positional(data, f"{where}.data")
    if columns is None:
        return table
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidPayload(f"{where}.columns must be a list of column names", field="columns")
    if len(set(columns)) != len(columns):
        raise InvalidPayload(f"{where}.columns has duplicate names", field="columns")
    for i, row in enumerate(table.rows):
        if len(row) != len(columns):
            raise InvalidPayload(
                f"{where}.data[{i}] has {len(row)} values for {len(columns)} columns",
                field=f"data[{i}]",
            )
    return Table(tuple(columns), table.rows)


def parse_invocations(doc: Any) -> Table:
    """An MLflow scoring document (already JSON-decoded) → a table."""
    if not isinstance(doc, Mapping):
        raise InvalidPayload(
            f"the body must be a JSON object with one of the keys {', '.join(MLFLOW_KEYS)}; "
            f"got a JSON {type(doc).__name__}"
        )
    keys = [k for k in MLFLOW_KEYS if k in doc]
    if len(keys) != 1:
        found = ", ".join(sorted(map(str, doc))) or "none"
        raise InvalidPayload(
            f"the body must have exactly one of the keys {', '.join(MLFLOW_KEYS)} (found: {found})",
            field=keys[1] if len(keys) > 1 else None,
        )
    key = keys[0]
    if key == "dataframe_split":
        return _split(doc[key])
    if key == "dataframe_records":
        return _records(doc[key], key)
    return _list_or_columns(doc[key], key)


def parse_records(doc: Any) -> Table:
    """A ``/predict`` body (records, or one record) → a table."""
    if isinstance(doc, Mapping) and any(k in doc for k in MLFLOW_KEYS):
        return parse_invocations(doc)
    return _records(doc, "records")
