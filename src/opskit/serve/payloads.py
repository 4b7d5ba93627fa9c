"""Scoring payloads → a column-named table of rows, without pandas.

``/invocations`` accepts MLflow's four shapes so existing clients work unchanged:

* ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``
* ``{"dataframe_records": [{"col": value, ...}, ...]}``
* ``{"instances": [...]}`` and ``{"inputs": ...}``: a list of records, a
  dict of columns (``{"col": [v1, v2]}``), or a list of positional rows.

``/predict`` takes records: a JSON list of objects, or one object.
Positional rows have ``columns=None``; validation names them from the schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from opskit.errors import InvalidPayload

__all__ = ["MLFLOW_KEYS", "Table", "parse_invocations", "parse_json", "parse_records"]

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@frozen
class Table:
    """Rows of values; ``columns`` is None when rows are positional."""

    columns: tuple[str, ...] | None
    rows: list[list[Any]]

    def __len__(self) -> int:
        return len(self.rows)


def parse_json(body: bytes) -> Any:
    """Decode a request body, or raise ``InvalidPayload`` saying where the JSON breaks."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, RecursionError):
        raise InvalidPayload("the request body is not UTF-8 JSON; send a JSON document") from None
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _records(items: Any, where: str) -> Table:
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list) or not items:
        raise InvalidPayload(f"{where} must be a non-empty list of objects (one per row)", field=where)
    first = items[0]
    if not isinstance(first, Mapping):
        raise InvalidPayload(f"{where}[0] must be an object mapping column names to values", field=where)
    columns = tuple(str(k) for k in first)
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidPayload(f"{where}[{i}] must be an object mapping column names to values", field=where)
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
        raise InvalidPayload(f"the columns of {where} must be non-empty lists of equal length", field=where)
    return Table(columns, [list(row) for row in zip(*values, strict=True)])


def _positional(items: list[Any], where: str) -> Table:
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, list):
            raise InvalidPayload(f"{where}[{i}] must be a list of values (positional row)", field=where)
        rows.append(item)
    return Table(None, rows)


def _list_or_columns(value: Any, where: str) -> Table:
    if isinstance(value, Mapping):
        return _columnar(value, where)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return _records(value, where)
    if isinstance(value, list) and value:
        return _positional(value, where)
    raise InvalidPayload(f"{where} must be a non-empty list of rows or an object of columns", field=where)


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
                f"{where}.data[{i}] has {len(row)} values for {len(columns)} columns", field=f"data[{i}]"
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
