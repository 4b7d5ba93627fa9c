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


def _table_schema(df: Any) -> Schema:
    return Schema(tuple(ColumnSpec(str(name), str(dtype)) for name, dtype in df.dtypes.items()))


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
        schema = _table_schema(v) if is_frame else Schema((ColumnSpec(str(v.name), str(v.dtype)),))
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
    width = arr.shape[1] if arr.ndim == 2 else 1
    columns = tuple(ColumnSpec(str(i), str(arr.dtype)) for i in range(width)) if arr.ndim <= 2 else ()
    return Schema(columns, kind="tensor", shape=(None, *(int(n) for n in arr.shape[1:])))


@hookimpl(trylast=True)
def infer_schema(value: object) -> Schema | None:
    top = _top_module(value)
    v: Any = value
    if top == "pandas" and type(value).__name__ == "DataFrame":
        return _table_schema(v)
    if top == "pandas" and type(value).__name__ == "Series":
        return Schema((ColumnSpec(str(v.name), str(v.dtype)),))
    if top == "numpy" and type(value).__name__ == "ndarray":
        return _array_schema(v)
    return None
