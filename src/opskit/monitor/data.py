"""Turning user data into columns: pandas DataFrames, Arrow tables, Parquet files streamed in batches."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import define, field, frozen

from opskit.errors import ColumnNotFound, InvalidDataset
from opskit.monitor.stats import CategoricalData, FloatArray, NumericData

__all__ = [
    "BATCH_ROWS",
    "DATA_SUFFIXES",
    "Column",
    "ColumnBinner",
    "Table",
    "as_table",
    "feature_names",
    "is_dask_frame",
    "is_parquet_path",
    "looks_like_path",
    "open_parquet",
    "pandas_index_columns",
    "read_parquet",
    "stream_dask",
    "stream_parquet",
]

#: Rows per record batch when a Parquet current is streamed (at most one batch in memory).
BATCH_ROWS = 65_536
#: Partition summaries combined per step of the dask tree reduction.
DASK_FAN_IN = 8


@frozen(eq=False)
class Column:
    """One column ready for the statistics: its kind, its data, its missing and total row counts."""

    name: str
    kind: str  # "numeric" | "categorical"
    data: NumericData | CategoricalData
    missing: int
    rows: int


@frozen(eq=False)
class Table:
    """Column names (in order), row count, and a way to get one column at a time."""

    names: tuple[str, ...]
    rows: int
    source: str
    _get: Any

    def column(self, name: str) -> Column:
        if name not in self.names:
            raise ColumnNotFound(
                f"column {name!r} is not in the {self.source} (columns: {', '.join(self.names)})"
            )
        col: Column = self._get(name)
        return col


def _is_numeric_dtype(dtype: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def _is_decimal_column(series: Any) -> bool:
    import pandas as pd

    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "decimal"


def _pandas_column(series: Any, name: str) -> Column:
    import pandas as pd

    rows = len(series)
    if _is_numeric_dtype(series.dtype) or _is_decimal_column(series):
        # Decimal objects (what pandas reads a Parquet decimal column as) are numbers too, as in Arrow.
        data = NumericData.from_values(series.to_numpy(dtype=np.float64, na_value=np.nan))
        return Column(name, "numeric", data, rows - data.n, rows)
    nulls = series.isna()
    missing = int(nulls.sum())
    if (
        missing == rows
        and rows > 0
        and not isinstance(series.dtype, pd.CategoricalDtype | pd.StringDtype)
    ):
        # An all-missing column has no kind of its own; numeric, so it compares with either kind.
        return Column(name, "numeric", NumericData.from_values(np.empty(0)), missing, rows)
    try:
        counted = series.value_counts(sort=False, dropna=True)
    except TypeError as exc:  # dicts, sets: values with no identity to count
        raise _uncountable(name, str(series.dtype), exc) from exc
    nested = next((k for k in counted.index if isinstance(k, _NESTED)), None)
    if nested is not None:  # refused as Arrow refuses a list column, so both forms agree
        raise _uncountable(name, type(nested).__name__, TypeError(f"a value is {nested!r}"))
    return Column(name, "categorical", CategoricalData(_keyed(counted.items())), missing, rows)


#: Values that are containers: not categories (Arrow has no value_counts for them either).
_NESTED = (list, tuple, dict, set, frozenset, np.ndarray)


def _uncountable(name: str, kind: str, exc: Exception) -> InvalidDataset:
    return InvalidDataset(
        f"column {name!r} holds {kind} values that cannot be counted as categories ({exc}); "
        "leave it out with columns=[...] or convert it (e.g. to a string) first"
    )


def _keyed(pairs: Iterable[tuple[Any, Any]]) -> dict[str, int]:
    """Category counts keyed by ``str()`` of the value as pandas holds it (one rule for
    pandas and Arrow data: ``True``, ``2024-01-01 00:00:00``, ``3``), equal keys added."""
    out: dict[str, int] = {}
    for key, count in pairs:
        if count:  # a pandas Categorical lists its unused categories with count 0
            out[str(key)] = out.get(str(key), 0) + int(count)
    return out


def _arrow_column(chunked: Any, name: str) -> Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = len(chunked)
    typ = chunked.type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        values = pc.fill_null(pc.cast(chunked, pa.float64()), float("nan")).to_numpy()
        data = NumericData.from_values(np.asarray(values, dtype=np.float64))
        return Column(name, "numeric", data, rows - data.n, rows)
    if pa.types.is_null(typ):
        return Column(name, "numeric", NumericData.from_values(np.empty(0)), rows, rows)
    counts = _arrow_value_counts(chunked, name)
    return Column(name, "categorical", CategoricalData(counts), chunked.null_count, rows)


def _arrow_value_counts(array: Any, name: str) -> dict[str, int]:
    """Counts of an Arrow column's values, keyed as :func:`_pandas_column` keys them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        array = pc.cast(array, array.type.value_type)
    try:
        result = pc.value_counts(array)
        values = result.field("values").to_pandas()  # the values as pandas holds them
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError) as exc:
        raise _uncountable(name, str(array.type), exc) from exc
    counts = result.field("counts").to_pylist()
    valid = (
        result.field("values").is_valid().to_pylist()
    )  # a null is the missing count, not a category
    return _keyed(
        (value, count) for value, count, ok in zip(values, counts, valid, strict=True) if ok
    )


def pandas_index_columns(schema: Any) -> frozenset[str]:
    """The columns of an Arrow schema that hold a stored pandas index (``__index_level_0__`` and
    named index levels), from the schema's pandas metadata: ``pandas.read_parquet`` and
    ``Table.to_pandas`` turn them back into the index, so they are not features."""
    try:
        meta = schema.pandas_metadata
    except (ValueError, TypeError):  # metadata that is not pandas' JSON: no index columns known
        return frozenset()
    if not isinstance(meta, dict):
        return frozenset()
    return frozenset(c for c in meta.get("index_columns", ()) if isinstance(c, str))


def feature_names(schema: Any) -> tuple[str, ...]:
    """An Arrow schema's column names without stored pandas index columns."""
    index = pandas_index_columns(schema)
    return tuple(n for n in schema.names if n not in index)


def open_parquet(path: str | os.PathLike[str], *, role: str) -> Any:
    """A ``pyarrow.dataset`` over a Parquet file or directory, read as ``pandas.read_parquet`` does
    (a directory's ``key=value`` folders become dictionary-encoded partition columns).

    Raises ``InvalidDataset`` when the path cannot be read as Parquet.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    where = os.fspath(path)
    is_dir = Path(where).is_dir()
    try:
        if is_dir:
            dataset = ds.dataset(
                where,
                format="parquet",
                partitioning=ds.HivePartitioning.discover(infer_dictionary=True),
            )
        else:
            dataset = ds.dataset(where, format="parquet")
    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidDataset(
            _text_file_hint(where, role) or f"cannot read {role} Parquet data at {where!r}: {exc}"
        ) from exc
    if is_dir and not dataset.files:
        raise InvalidDataset(
            f"the {role} directory {where!r} holds no Parquet files (names starting with '.' or '_' "
            "are skipped): point at the folder the batches are written to, or at one .parquet file"
        )
    return dataset


#: Suffixes of data files: a string ending in one names a file, never a deployment or model.
DATA_SUFFIXES = frozenset({".parquet", ".pq", ".csv", ".tsv", ".json"})
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})


def looks_like_path(value: object) -> bool:
    """Whether *value* can only be a path: an ``os.PathLike``, or a string holding a path
    separator or ending in a data file suffix (deployment names and model references hold
    no separator: ``opskit.deployments.api._check_name``)."""
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return False
    separators = {"/", os.sep, os.altsep or "/"}
    return any(sep in value for sep in separators) or Path(value).suffix.lower() in DATA_SUFFIXES


def _text_file_hint(where: str, role: str) -> str | None:
    """The message for CSV (or other text) data handed to the Parquet reader, else None."""
    path = Path(where)
    files = (
        [p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
        if path.is_dir()
        else [path]
    )
    text = [p for p in files if p.suffix.lower() in _TEXT_SUFFIXES]
    if not text:
        return None
    what = f"{where!r} is" if text == [path] else f"{where!r} holds {text[0].name!r}, which is"
    return (
        f"cannot read {role} data: {what} a {text[0].suffix.lstrip('.').upper()} file, and the Python API "
        f"reads Parquet (a file or a directory of files): pass {role}=pd.read_csv(path) instead "
        "(the command line, `opskit monitor drift`, reads CSV files itself)"
    )


def read_parquet(
    path: str | os.PathLike[str], *, role: str, columns: Sequence[str] | None = None
) -> Any:
    """A Parquet file or directory read whole into a ``pyarrow.Table`` of its feature columns
    (as :func:`open_parquet`; stored pandas index columns left out).

    Raises ``InvalidDataset`` when it cannot be read, ``ColumnNotFound`` for a name in
    *columns* that it does not have.
    """
    import pyarrow as pa

    dataset = open_parquet(path, role=role)
    names = feature_names(dataset.schema)
    if columns is not None:
        for name in columns:
            if name not in names:
                raise ColumnNotFound(
                    f"column {name!r} is not in the {role} data at {os.fspath(path)!r} (columns: {', '.join(names)})"
                )
        names = tuple(columns)
    try:
        return dataset.to_table(columns=list(names))
    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidDataset(
            _text_file_hint(os.fspath(path), role)
            or f"cannot read {role} Parquet data at {os.fspath(path)!r}: {exc}"
        ) from exc


def is_parquet_path(value: object) -> bool:
    """A path (str or os.PathLike) to a ``.parquet`` file or a directory (of Parquet files)."""
    if not isinstance(value, str | os.PathLike):
        return False
    path = Path(value)
    return path.is_dir() or path.suffix.lower() in {".parquet", ".pq"} or path.is_file()


def as_table(data: object, *, role: str) -> Table:
    """Wrap in-memory data (pandas DataFrame, pyarrow Table, mapping of column → array) as a :class:`Table`."""
    if data is None:
        raise InvalidDataset(
            f"no {role} data given: pass a pandas DataFrame, a pyarrow Table or a Parquet path"
        )
    module = type(data).__module__.split(".")[0]
    frame: Any = data
    if module == "pandas" and hasattr(data, "columns"):
        names = tuple(str(c) for c in frame.columns)
        if len(set(names)) != len(names):
            raise InvalidDataset(
                f"the {role} DataFrame has duplicate column names: rename them first"
            )
        lookup = {str(c): c for c in frame.columns}
        return Table(
            names, len(frame), f"{role} data", lambda n: _pandas_column(frame[lookup[n]], n)
        )
    if module == "pyarrow" and hasattr(data, "column_names"):
        table: Any = data
        return Table(
            feature_names(table.schema),
            table.num_rows,
            f"{role} data",
            lambda n: _arrow_column(table.column(n), n),
        )
    if isinstance(data, Mapping):
        import pandas as pd

        return as_table(pd.DataFrame(dict(data)), role=role)
    if is_dask_frame(data):
        raise InvalidDataset(
            f"a dask DataFrame is accepted as current= data only (streamed partition by partition), not as {role} "
            "data: profile the reference once (opskit.monitor.profile(reference_frame)) or pass a sample of it"
        )
    raise InvalidDataset(
        f"cannot use a {type(data).__name__} as {role} data: pass a pandas DataFrame, a pyarrow Table, "
        "a mapping of column name to values, or a Parquet file/directory path"
        + (", or a reference profile" if role == "reference" else "")
    )


@define
class ColumnBinner:
    """Accumulates one numeric column of a stream into fixed bins split at *edges* (from the reference).

    Every edge ``e_j`` gets two bins: the open interval ``(e_{j-1}, e_j)`` (the first one
    unbounded below; one more, ``(e_last, ∞)``, at the end) and the point ``e_j`` itself.
    Per bin it keeps the count and the sum; an interval bin is represented by the mean of
    its values, a point bin by the edge. The binned column's CDF is therefore exact at
    every edge and just below it, which makes the KS statistic against a reference whose
    distinct values are all edges exact (the supremum of ``|F_ref - F_cur|`` over an
    interval where ``F_ref`` is constant is reached at one of its ends), and the
    Wasserstein distance exact except in the interval bins where the two CDFs cross.
    """

    edges: FloatArray
    counts: Any = field(default=None)
    sums: Any = field(default=None)
    missing: int = 0
    rows: int = 0
    #: The edges are every distinct value of the reference (see ``NumericData.exact_on_reference``).
    all_reference_values: bool = False

    def __attrs_post_init__(self) -> None:
        self.counts = np.zeros(2 * self.edges.size + 1, dtype=np.int64)
        self.sums = np.zeros(2 * self.edges.size + 1, dtype=np.float64)

    def add(self, values: FloatArray) -> None:
        self.rows += values.size
        finite = values[~np.isnan(values)]
        self.missing += values.size - finite.size
        idx = np.searchsorted(self.edges, finite, side="left")  # e_{idx-1} < v <= e_idx
        on_edge = self.edges[np.minimum(idx, self.edges.size - 1)] == finite
        slot = 2 * idx + on_edge
        self.counts += np.bincount(slot, minlength=self.counts.size)
        self.sums += np.bincount(slot, weights=finite, minlength=self.sums.size)

    def data(self) -> NumericData:
        keep = self.counts > 0
        means = self.sums / np.maximum(self.counts, 1)
        means[1::2] = self.edges  # a point bin is its edge, exactly
        # Keep every interval bin's representative strictly inside its interval despite rounding.
        lower = np.nextafter(np.concatenate(([-np.inf], self.edges)), np.inf)
        upper = np.nextafter(np.concatenate((self.edges, [np.inf])), -np.inf)
        means[0::2] = np.clip(means[0::2], lower, upper)
        means = means[keep]
        total = int(self.counts.sum())
        return NumericData(
            np.maximum.accumulate(means) if means.size else means,
            total,
            exact=False,
            weights=self.counts[keep].astype(np.float64),
            exact_on_reference=self.all_reference_values,
        )


def stream_parquet(
    path: str | os.PathLike[str],
    names: Sequence[str],
    kinds: Mapping[str, str],
    edges: Mapping[str, FloatArray],
    *,
    complete: Collection[str] = (),
    batch_size: int | None = None,
) -> Table:
    """Read a Parquet file or directory once, batch by batch, into per-column summaries.

    Numeric columns are binned on *edges* (from the reference; see :class:`ColumnBinner`);
    *complete* names the columns whose edges are every distinct reference value (their KS
    is exact). Categorical columns are counted. Only one record batch is in memory at a
    time. The columns are those ``pandas.read_parquet`` would give: a directory's
    ``key=value`` (hive) partition folders are columns, a stored pandas index is not.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dataset = open_parquet(path, role="current")
    available = feature_names(dataset.schema)
    missing_cols = [n for n in names if n not in available]
    if missing_cols:
        raise ColumnNotFound(
            f"column {missing_cols[0]!r} is not in the current data at {os.fspath(path)!r} (columns: {', '.join(available)}); "
            "pass columns=[...] to compare only some columns"
        )
    for name in names:
        typ = dataset.schema.field(name).type
        is_num = (
            pa.types.is_integer(typ)
            or pa.types.is_floating(typ)
            or pa.types.is_decimal(typ)
            or pa.types.is_null(typ)
        )
        if kinds[name] == "numeric" and not is_num:
            raise InvalidDataset(
                f"column {name!r} is numeric in the reference but {typ} in the current data at {os.fspath(path)!r}; "
                "convert it, or leave it out with columns=[...]"
            )
    binners = {
        n: ColumnBinner(edges[n], all_reference_values=n in complete)
        for n in names
        if kinds[n] == "numeric"
    }
    counts: dict[str, dict[str, int]] = {n: {} for n in names if kinds[n] == "categorical"}
    nulls: dict[str, int] = dict.fromkeys(counts, 0)
    rows = 0
    for batch in _batches(dataset, names, batch_size or BATCH_ROWS):
        rows += batch.num_rows
        for name in names:
            arr = batch.column(name)
            if name in binners:
                values = pc.fill_null(pc.cast(arr, pa.float64()), float("nan")).to_numpy(
                    zero_copy_only=False
                )
                binners[name].add(np.asarray(values, dtype=np.float64))
            else:
                nulls[name] += arr.null_count
                acc = counts[name]
                for key, value in _arrow_value_counts(arr, name).items():
                    acc[key] = acc.get(key, 0) + value
        del batch, arr  # released before the next batch is read: one batch alive at a time
    columns: dict[str, Column] = {}
    for name in names:
        if name in binners:
            b = binners[name]
            columns[name] = Column(name, "numeric", b.data(), b.missing, rows)
        else:
            columns[name] = Column(
                name, "categorical", CategoricalData(counts[name]), nulls[name], rows
            )
    return Table(
        tuple(available), rows, f"current data at {os.fspath(path)!r}", lambda n: columns[n]
    )


def _batches(dataset: Any, names: Sequence[str], batch_size: int) -> Iterator[Any]:
    # No read-ahead: Arrow's threaded scanner otherwise decodes ahead of a slower consumer
    # without bound (measured: peak RSS growing with the row count, 0.2 GB at 1M and
    # 0.56 GB at 3M rows × 20 columns); without it the peak stays flat (bench/drift_scale.py).
    yield from dataset.to_batches(
        columns=list(names),
        batch_size=batch_size,
        batch_readahead=0,
        fragment_readahead=0,
        use_threads=False,
    )


def is_dask_frame(value: object) -> bool:
    """A dask DataFrame (checked without importing dask)."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "to_delayed")


def _summarise(
    part: Any,
    names: Sequence[str],
    kinds: Mapping[str, str],
    edges: Mapping[str, FloatArray],
) -> dict[str, Any]:
    """One partition (a pandas DataFrame) as per-column bins and counts; runs on a dask worker."""
    numeric: dict[str, tuple[Any, Any, int]] = {}
    categorical: dict[str, tuple[dict[str, int], int]] = {}
    for name in names:
        series = part[name]
        if kinds[name] == "numeric":
            binner = ColumnBinner(edges[name])
            binner.add(series.to_numpy(dtype=np.float64, na_value=np.nan))
            numeric[name] = (binner.counts, binner.sums, binner.missing)
        else:
            col = _pandas_column(series, name)
            counts = col.data.counts if isinstance(col.data, CategoricalData) else {}
            categorical[name] = (dict(counts), col.missing)
    return {"rows": len(part), "numeric": numeric, "categorical": categorical}


def _combine(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sum partition summaries (bins add, counts add)."""
    first, *rest = summaries
    numeric = dict(first["numeric"])
    categorical = {n: (dict(c), m) for n, (c, m) in first["categorical"].items()}
    rows = first["rows"]
    for summary in rest:
        rows += summary["rows"]
        for name, (counts, sums, missing) in summary["numeric"].items():
            acc_counts, acc_sums, acc_missing = numeric[name]
            numeric[name] = (acc_counts + counts, acc_sums + sums, acc_missing + missing)
        for name, (counts, missing) in summary["categorical"].items():
            total, nulls = categorical[name]
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
            categorical[name] = (total, nulls + missing)
    return {"rows": rows, "numeric": numeric, "categorical": categorical}


def stream_dask(
    frame: Any,
    names: Sequence[str],
    kinds: Mapping[str, str],
    edges: Mapping[str, FloatArray],
    *,
    complete: Collection[str] = (),
) -> Table:
    """Summarise a dask DataFrame partition by partition into the same bins as :func:`stream_parquet`.

    Each partition becomes a small summary on the worker that holds it (numeric columns
    binned on the reference's *edges*, count and sum per bin; categorical columns
    counted); the summaries are added in a tree (``DASK_FAN_IN`` at a time), so neither
    the client nor any worker ever holds the whole frame. Uses the active dask scheduler
    (a ``dask.distributed.Client`` when one is connected). The result equals
    ``stream_parquet`` on the same rows.
    """
    from dask.base import compute
    from dask.delayed import delayed

    available = tuple(str(c) for c in frame.columns)
    missing_cols = [n for n in names if n not in available]
    if missing_cols:
        raise ColumnNotFound(
            f"column {missing_cols[0]!r} is not in the current dask DataFrame (columns: {', '.join(available)}); "
            "pass columns=[...] to compare only some columns"
        )
    for name in names:
        dtype = frame.dtypes[name]
        numeric = _is_numeric_dtype(dtype)
        if numeric != (kinds[name] == "numeric"):
            raise InvalidDataset(
                f"column {name!r} is {kinds[name]} in the reference but {dtype} in the current dask DataFrame; "
                "convert it (e.g. frame[col].astype(float)), or leave it out with columns=[...]"
            )
    summarise, combine = delayed(_summarise, pure=True), delayed(_combine, pure=True)
    level = [summarise(part, list(names), dict(kinds), dict(edges)) for part in frame.to_delayed()]
    while len(level) > 1:
        level = [combine(level[i : i + DASK_FAN_IN]) for i in range(0, len(level), DASK_FAN_IN)]
    (total,) = compute(level[0])  # type: ignore[no-untyped-call]
    rows = int(total["rows"])
    columns: dict[str, Column] = {}
    for name in names:
        if name in total["numeric"]:
            counts, sums, missing = total["numeric"][name]
            binner = ColumnBinner(edges[name], all_reference_values=name in complete)
            binner.counts, binner.sums, binner.missing, binner.rows = counts, sums, missing, rows
            columns[name] = Column(name, "numeric", binner.data(), int(missing), rows)
        else:
            counts, missing = total["categorical"][name]
            columns[name] = Column(name, "categorical", CategoricalData(counts), int(missing), rows)
    return Table(available, rows, "current dask DataFrame", lambda n: columns[n])
