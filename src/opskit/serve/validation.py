"""Check a parsed table against the input schema stored with the model version.

Missing and extra columns and values of the wrong JSON type are rejected with
an ``InvalidPayload`` that names the column; a valid table comes back with its
columns in schema order, ready to become one DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from opskit.errors import InvalidPayload
from opskit.records import Schema
from opskit.serve.payloads import Table

__all__ = ["validate"]


def _is_float(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v) and v.is_integer())


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str) or v is None


def _anything(v: Any) -> bool:
    return True


def _checker(dtype: str) -> tuple[Callable[[Any], bool], str]:
    kind = dtype.lower()
    if kind.startswith(("float", "double")):
        return _is_float, "a number"
    if kind.startswith(("int", "uint", "long")):
        return _is_int, "an integer"
    if kind.startswith("bool"):
        return _is_bool, "true or false"
    if kind in {"str", "string", "object"}:
        return _is_str, "a string"
    return _anything, "anything"


def validate(table: Table, schema: Schema | None) -> Table:
    """Return *table* with columns in schema order, or raise ``InvalidPayload`` naming the field."""
    if schema is None or schema.kind != "table" or not schema.columns:
        return table
    names = schema.names
    if table.columns is None:
        for i, row in enumerate(table.rows):
            if len(row) != len(names):
                raise InvalidPayload(
                    f"row {i} has {len(row)} values but the model takes {len(names)} columns "
                    f"({', '.join(names)}); send named columns or one value per column",
                    field=f"row {i}",
                )
        columns: tuple[str, ...] = tuple(names)
        rows = table.rows
    else:
        present = set(table.columns)
        missing = [n for n in names if n not in present]
        if missing:
            raise InvalidPayload(
                f"missing column {missing[0]!r} (missing: {', '.join(missing)}); the model takes "
                f"{', '.join(names)}",
                field=missing[0],
            )
        extra = [c for c in table.columns if c not in set(names)]
        if extra:
            raise InvalidPayload(
                f"unexpected column {extra[0]!r} (extra: {', '.join(extra)}); the model takes only "
                f"{', '.join(names)}",
                field=extra[0],
            )
        columns = tuple(names)
        if table.columns == columns:
            rows = table.rows
        else:
            order = [table.columns.index(n) for n in names]
            rows = [[row[j] for j in order] for row in table.rows]
    for j, spec in enumerate(schema.columns):
        ok, expected = _checker(spec.type)
        if ok is _anything:
            continue
        for i, row in enumerate(rows):
            if not ok(row[j]):
                raise InvalidPayload(
                    f"column {spec.name!r} row {i}: expected {expected} ({spec.type}), got {row[j]!r}",
                    field=spec.name,
                )
    return Table(columns, rows)
