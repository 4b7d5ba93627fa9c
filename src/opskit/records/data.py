"""Data records: input schemas and the data arguments of a run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from attrs import field, frozen

__all__ = ["ColumnSpec", "DataInput", "Schema"]


def _columns(items: Iterable[ColumnSpec]) -> tuple[ColumnSpec, ...]:
    return tuple(items)


def _categories(items: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if items is None else tuple(items)


@frozen
class ColumnSpec:
    """One column of an input schema.

    ``type`` is the pandas/NumPy dtype as text (``float64``, ``Int64``, ``boolean``,
    ``datetime64[ns, UTC]``, ``category``, ``string``...). ``missing`` and
    ``infinite`` say whether the training data had missing or infinite values in
    the column (None: not recorded, as in signatures from before opskit 0.2);
    ``categories`` and ``ordered`` describe a ``category`` column.
    """

    name: str
    type: str
    missing: bool | None = None
    infinite: bool | None = None
    categories: tuple[Any, ...] | None = field(default=None, converter=_categories)
    ordered: bool | None = None


@frozen
class Schema:
    """The input schema of a model: named, typed columns (tables) or a tensor shape."""

    columns: tuple[ColumnSpec, ...] = field(converter=_columns)
    kind: Literal["table", "tensor"] = "table"
    shape: tuple[int | None, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@frozen
class DataInput:
    """A data argument of a run: what it was called, what it looked like, its content digest.

    ``dataset`` is the dataset version (``"name:N"``) the argument was stored as when the run
    captured it with ``data="snapshot"``; None when it was only fingerprinted.
    """

    name: str
    kind: str
    digest: str
    shape: tuple[int, ...] | None = None
    schema: Schema | None = None
    size_bytes: int | None = None
    path: str | None = None
    dataset: str | None = None
