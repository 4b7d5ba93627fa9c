"""Built-in plugin: fingerprints and schemas for pandas, NumPy and files.

The hashing itself lives in :mod:`opskit.capture.hashing` (frames, arrays) and
:mod:`opskit.capture.filecache` (files and folders, with the persistent stat cache).

pandas and NumPy are never imported here unless the value already is one of
their objects (so ``import opskit`` stays light).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opskit.hookspecs import hookimpl
from opskit.records import ColumnSpec, DataInput, Schema


def _top_module(value: object) -> str:
    return type(value).__module__.split(".", 1)[0]


_PLAIN = (str, int, float, bool)


def column_spec(name: str, series: Any) -> ColumnSpec:
    """What the server needs to rebuild a column exactly: dtype, missing/infinite values seen, categories."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    missing = bool(series.isna().any())
    infinite: bool | None = None
    if getattr(dtype, "kind", "") == "f":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = bool(np.isinf(values).any())
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories.tolist()
        plain = all(isinstance(c, _PLAIN) for c in categories)
        return ColumnSpec(
            name,
            "category",
            missing=missing,
            categories=categories if plain else None,
            ordered=bool(dtype.ordered),
        )
    return ColumnSpec(name, str(dtype), missing=missing, infinite=infinite)


def _table_schema(df: Any) -> Schema:
    # by position: df[name] is a frame when a name is duplicated
    return Schema(tuple(column_spec(str(name), df.iloc[:, i]) for i, name in enumerate(df.columns)))


def _digest_frame(obj: Any) -> str:
    from opskit.capture.hashing import digest_frame

    return digest_frame(obj)


def _digest_array(arr: Any) -> str:
    from opskit.capture.hashing import digest_array

    return digest_array(arr)


def _digest_file(path: Path) -> tuple[str, int]:
    from opskit.capture.filecache import digest_file

    return digest_file(path)


def _digest_dir(path: Path) -> tuple[str, int]:
    from opskit.capture.filecache import digest_dir

    return digest_dir(path)


def _as_path(value: object) -> Path | None:
    if isinstance(value, os.PathLike):
        path = Path(os.fspath(value))
    elif (
        isinstance(value, str)
        and len(value) < 4096
        and ("/" in value or os.sep in value or "." in value)
    ):
        path = Path(value)
    else:
        return None
    try:
        return path if path.exists() else None
    except OSError:
        return None


@hookimpl(trylast=True)
def fingerprint_data(name: str, value: object) -> DataInput | None:
    top = _top_module(value)
    if top == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        is_frame = type(value).__name__ == "DataFrame"
        v: Any = value
        schema = _table_schema(v) if is_frame else Schema((column_spec(str(v.name), v),))
        return DataInput(
            name=name,
            kind="dataframe" if is_frame else "series",
            digest=_digest_frame(v),
            shape=tuple(int(n) for n in v.shape),
            schema=schema,
            size_bytes=int(
                v.memory_usage(index=True, deep=False).sum()
                if is_frame
                else v.memory_usage(index=True)
            ),
        )
    if top == "numpy" and type(value).__name__ == "ndarray":
        arr: Any = value
        return DataInput(
            name=name,
            kind="ndarray",
            digest=_digest_array(arr),
            shape=tuple(int(n) for n in arr.shape),
            schema=_array_schema(arr),
            size_bytes=int(arr.nbytes),
        )
    path = _as_path(value)
    if path is not None:
        digest, size = _digest_dir(path) if path.is_dir() else _digest_file(path)
        return DataInput(
            name=name,
            kind="directory" if path.is_dir() else "file",
            digest=digest,
            size_bytes=size,
            path=str(path.resolve()),
        )
    return None


def _array_schema(arr: Any) -> Schema:
    import numpy as np

    dtype = str(arr.dtype)
    if arr.ndim > 2:  # one spec for the element type of the whole tensor
        columns: tuple[ColumnSpec, ...] = (ColumnSpec("elements", dtype),)
    elif arr.dtype.kind == "f":
        matrix = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
        nan, inf = np.isnan(matrix).any(axis=0), np.isinf(matrix).any(axis=0)
        columns = tuple(
            ColumnSpec(str(i), dtype, missing=bool(nan[i]), infinite=bool(inf[i]))
            for i in range(matrix.shape[1])
        )
    else:
        width = arr.shape[1] if arr.ndim == 2 else 1
        columns = tuple(
            ColumnSpec(str(i), dtype, missing=False if arr.dtype.kind in "iub" else None)
            for i in range(width)
        )
    return Schema(columns, kind="tensor", shape=(None, *(int(n) for n in arr.shape[1:])))


@hookimpl(trylast=True)
def infer_schema(value: object) -> Schema | None:
    top = _top_module(value)
    v: Any = value
    if top == "pandas" and type(value).__name__ == "DataFrame":
        return _table_schema(v)
    if top == "pandas" and type(value).__name__ == "Series":
        return Schema((column_spec(str(v.name), v),))
    if top == "numpy" and type(value).__name__ == "ndarray":
        return _array_schema(v)
    return None
