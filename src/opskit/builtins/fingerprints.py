"""Built-in plugin: fingerprints and schemas for pandas, NumPy and files.

pandas and NumPy are never imported here unless the value already is one of
their objects (so ``import opskit`` stays light).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

from opskit.hookspecs import hookimpl
from opskit.records import ColumnSpec, DataInput, Schema
from opskit.storage.base import CHUNK

_file_cache: dict[tuple[str, int, int], str] = {}


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
            name, "category", missing=missing, categories=categories if plain else None, ordered=bool(dtype.ordered)
        )
    return ColumnSpec(name, str(dtype), missing=missing, infinite=infinite)


def _table_schema(df: Any) -> Schema:
    return Schema(tuple(column_spec(str(name), df[name]) for name in df.columns))


def _digest_frame(obj: Any) -> str:
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr((type(obj).__name__, obj.shape)).encode())
    if isinstance(obj, pd.DataFrame):
        h.update(repr([(str(c), str(t)) for c, t in obj.dtypes.items()]).encode())
    else:
        h.update(repr((str(obj.name), str(obj.dtype))).encode())
    try:
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): fall back to the pickled content
        h.update(pickle.dumps(obj, protocol=5))
    return "sha256:" + h.hexdigest()


def _digest_array(arr: Any) -> str:
    import numpy as np

    h = hashlib.sha256()
    h.update(repr((str(arr.dtype), arr.shape)).encode())
    if arr.dtype.hasobject:
        h.update(pickle.dumps(arr.tolist(), protocol=5))
    else:
        h.update(np.ascontiguousarray(arr).data)
    return "sha256:" + h.hexdigest()


def _digest_file(path: Path) -> tuple[str, int]:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _file_cache.get(key)
    if cached is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        cached = _file_cache[key] = "sha256:" + h.hexdigest()
    return cached, stat.st_size


def _digest_dir(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    total = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest, size = _digest_file(file)
        h.update(f"{file.relative_to(path).as_posix()}\0{digest}\n".encode())
        total += size
    return "sha256:" + h.hexdigest(), total


def _as_path(value: object) -> Path | None:
    if isinstance(value, os.PathLike):
        path = Path(os.fspath(value))
    elif isinstance(value, str) and len(value) < 4096 and ("/" in value or os.sep in value or "." in value):
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
            size_bytes=int(v.memory_usage(index=True, deep=False).sum() if is_frame else v.memory_usage(index=True)),
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
            ColumnSpec(str(i), dtype, missing=bool(nan[i]), infinite=bool(inf[i])) for i in range(matrix.shape[1])
        )
    else:
        width = arr.shape[1] if arr.ndim == 2 else 1
        columns = tuple(ColumnSpec(str(i), dtype, missing=False if arr.dtype.kind in "iub" else None) for i in range(width))
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
