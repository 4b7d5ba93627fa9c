"""Reference profiles: a compact summary of training data that drift can be computed against."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from opskit.errors import InvalidDataset
from opskit.monitor.data import Column, as_table, is_parquet_path, read_parquet
from opskit.monitor.records import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from opskit.monitor.stats import CategoricalData, NumericData

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "DEFAULT_SKETCH_SIZE",
    "column_data",
    "profile",
    "profile_column",
]

#: Points kept per numeric column (the sketch CDF is within 1 / this of the data CDF).
DEFAULT_SKETCH_SIZE = 2000
#: Distinct values kept per categorical column; the rest are pooled into ``other``.
DEFAULT_MAX_CATEGORIES = 1000
#: The pooled category's name when a profile reference is compared.
OTHER = "\x00other"


def profile(
    data: object,
    *,
    columns: Sequence[str] | None = None,
    sketch_size: int = DEFAULT_SKETCH_SIZE,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> ReferenceProfile:
    """Profile reference data (a pandas DataFrame, pyarrow Table, mapping of column → values, or a Parquet path, read whole).

    Per numeric column: ``sketch_size`` points, the means of equal-count bins of the sorted
    values (the values themselves when there are no more than that), exact mean, std, min, max, and the
    missing count; per categorical column the ``max_categories`` most frequent values
    with their counts (the rest pooled). Size: about ``20 · sketch_size`` bytes of JSON
    per numeric column. Raises ``InvalidDataset`` for empty data or a column with no
    non-missing value, ``ColumnNotFound`` for an unknown name in *columns*.
    """
    if sketch_size < 2 or max_categories < 1:
        raise InvalidDataset(
            f"sketch_size must be >= 2 and max_categories >= 1 (got {sketch_size}, {max_categories})"
        )
    if is_parquet_path(data):
        data = read_parquet(data, role="reference", columns=columns)  # type: ignore[arg-type]
    table = as_table(data, role="reference")
    if table.rows == 0:
        raise InvalidDataset(
            "the reference data has no rows: profile the training data, not an empty frame"
        )
    names = list(columns) if columns is not None else list(table.names)
    cols = {name: profile_column(table.column(name), sketch_size, max_categories) for name in names}
    return ReferenceProfile(cols, table.rows, sketch_size, max_categories)


def profile_column(column: Column, sketch_size: int, max_categories: int) -> ColumnProfile:
    """The profile of one column (see :func:`profile`)."""
    data = column.data
    if data.n == 0:
        raise InvalidDataset(
            f"reference column {column.name!r} has no non-missing value; drop it or leave it out with columns=[...]"
        )
    if isinstance(data, NumericData):
        values = data.values
        mean, std = data.mean_std()
        if values.size <= sketch_size:
            points, exact = values, True
        else:
            # Equal-count bins over the sorted values, each represented by its mean: the sketch
            # keeps the mean exactly and the tails' mass where it is (Wasserstein), and its CDF
            # is within 1/sketch_size of the data's everywhere (KS).
            starts = np.round(np.arange(sketch_size) * (values.size / sketch_size)).astype(np.int64)
            sizes = np.diff(np.append(starts, values.size))
            points, exact = np.add.reduceat(values, starts) / sizes, False
            points = np.clip(points, values[starts], values[starts + sizes - 1])
        return NumericProfile(
            points=tuple(float(p) for p in points),
            count=data.n,
            missing=column.missing,
            mean=mean,
            std=std,
            min=float(values[0]),
            max=float(values[-1]),
            exact=exact,
        )
    ranked = sorted(data.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:max_categories])
    rest = ranked[max_categories:]
    return CategoricalProfile(kept, column.missing, sum(v for _, v in rest), len(rest))


def column_data(col: ColumnProfile) -> NumericData | CategoricalData:
    """The statistics' view of a profiled column (a sketch stands for ``count`` values)."""
    if isinstance(col, NumericProfile):
        return NumericData(
            np.asarray(col.points, dtype=np.float64),
            col.count,
            exact=col.exact,
            moments=(col.mean, col.std),
        )
    counts = dict(col.counts)
    if col.other:
        counts[OTHER] = col.other
    return CategoricalData(counts)
