"""Check a parsed table against the input schema stored with the model version.

The checks and the casts to the training dtypes live in ``opskit.coerce`` (one
implementation, free of the server); this module keeps the server's entry
points: ``check`` gives the model input, ``validate`` only the reordered table.
"""

from __future__ import annotations

from opskit.coerce import Cast, cast_table
from opskit.records import Schema
from opskit.serve.payloads import Table

__all__ = ["check", "validate"]


def check(table: Table, schema: Schema | None) -> Cast:
    """The model's input for *table*, cast to the dtypes of *schema*; ``InvalidPayload`` names the column and row."""
    return cast_table(table.columns, table.rows, schema, text=table.text)


def validate(table: Table, schema: Schema | None) -> Table:
    """Return *table* with columns in schema order, or raise ``InvalidPayload`` naming the field."""
    cast = check(table, schema)
    if schema is None or schema.kind != "table" or not schema.columns:
        return table
    return Table(cast.columns, cast.rows)
