"""How dataset versions are written to storage and read back: Parquet, ``.npy``, files, directories.

* pandas ``DataFrame`` / ``Series`` → **Parquet** (pyarrow), readable with ``pandas.read_parquet``
  without opskit and without pickle. dtypes, the index (named, non-range, a ``RangeIndex`` by its
  bounds), categories and their order, nullable ``Int*``/``boolean``/``string``, tz-aware
  datetimes and timedeltas come back exactly. A Series is stored as a one-column frame (column
  ``__series__``) with its name in the file's ``opskit`` metadata. Refused with
  ``UnsupportedData``: MultiIndex columns, non-string or duplicate column names, and any
  column whose values do not come back exactly (every encoding is read back and
  fingerprinted before it is accepted).
* NumPy arrays → **.npy** written without pickle (``allow_pickle=False``): object arrays are refused.
* A file → one content-addressed blob; a directory → a JSON manifest (relative path, blob,
  size of every file) plus one blob per file.

pandas, NumPy and pyarrow are imported only when a value of theirs is encoded or decoded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, cast

from attrs import frozen

from opskit.errors import UnsupportedData
from opskit.records import DataInput
from opskit.records.datasets import DatasetFormat
from opskit.storage.base import Storage

__all__ = [
    "MANIFEST_FORMAT",
    "SERIES_COLUMN",
    "Encoded",
    "decode_array",
    "decode_frame",
    "encode",
    "fingerprint_of",
    "walk_files",
]

#: The column a Series is stored under in its Parquet file.
SERIES_COLUMN: Final = "__series__"
#: The ``format`` field of a directory manifest.
MANIFEST_FORMAT: Final = "opskit-directory-manifest-v1"
_META_KEY: Final = b"opskit"


@frozen
class Encoded:
    """A value written to storage: its format, main blob, every blob, and stored size."""

    format: DatasetFormat
    blob: str
    blobs: tuple[str, ...]
    size_bytes: int


def fingerprint_of(name: str, value: object) -> DataInput | None:
    """The run's data fingerprint of *value* (``fingerprint_data``), the digest dataset versions carry."""
    from opskit._hooks import hooks

    return hooks.fingerprint_data(name, value)


def _unsupported(what: str, fix: str) -> UnsupportedData:
    return UnsupportedData(f"{what}; {fix}. Nothing was stored")


# -- pandas ----------------------------------------------------------------------------------


def _check_frame(label: str, frame: Any) -> None:
    import pandas as pd

    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        raise _unsupported(
            f"{label} has MultiIndex columns {list(columns[:3])!r}..., which Parquet cannot store exactly",
            "flatten them first, e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]",
        )
    bad = [c for c in columns if not isinstance(c, str)]
    if bad:
        raise _unsupported(
            f"{label} has non-string column names {bad[:5]!r}, which Parquet stores as text",
            "rename them to strings, e.g. df.columns = df.columns.astype(str)",
        )
    if columns.has_duplicates:
        dupes = sorted(set(columns[columns.duplicated()]))
        raise _unsupported(
            f"{label} has duplicate column names {dupes[:5]!r}", "give every column its own name"
        )


def _write_parquet(label: str, value: Any, path: Path) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    is_series = isinstance(value, pd.Series)
    meta: dict[str, Any] = {"kind": "series" if is_series else "dataframe"}
    if is_series:
        name = value.name
        if name is not None and not isinstance(name, str | int | float | bool):
            raise _unsupported(
                f"{label} is a Series named {name!r}, a {type(name).__name__}",
                "name it with a string or a number (s.rename('x'))",
            )
        meta["name"] = name
        frame = value.to_frame(name=SERIES_COLUMN)
    else:
        frame = value
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise _unsupported(
            f"pyarrow cannot convert {label} to Parquet ({type(exc).__name__}: {str(exc)[:300]})",
            "convert the offending columns to plain dtypes (numbers, strings, categories, datetimes)",
        ) from None
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()}
    )
    pq.write_table(table, path)


def decode_frame(path: Path) -> Any:
    """A frame or series back from a Parquet file written by :func:`encode`."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    frame = table.to_pandas()
    if meta.get("kind") == "series":
        series = frame[SERIES_COLUMN]
        series.name = meta.get("name")
        return series
    return frame


def _explain_frame_mismatch(original: Any, back: Any) -> str:
    import pandas as pd

    if isinstance(original, pd.Series):
        return f"the series comes back as dtype {back.dtype} (was {original.dtype})"
    if not original.index.equals(back.index) or type(original.index) is not type(back.index):
        return (
            f"the index comes back as {type(back.index).__name__}[{back.index.dtype}] "
            f"(was {type(original.index).__name__}[{original.index.dtype}])"
        )
    changed = []
    for column in original.columns:
        a, b = original[column], back[column]
        if a.dtype != b.dtype:
            changed.append(f"{column!r} ({a.dtype} -> {b.dtype})")
        elif not a.equals(b):
            changed.append(f"{column!r} (values)")
    return "column(s) " + ", ".join(changed[:5]) if changed else "the frame differs"


# -- NumPy -----------------------------------------------------------------------------------


def _write_npy(label: str, arr: Any, path: Path) -> None:
    import numpy as np

    if arr.dtype.hasobject:
        raise _unsupported(
            f"{label} is an array of dtype {arr.dtype}, which .npy can only store with pickle",
            "convert it to a fixed dtype first (arr.astype(str), arr.astype(float), ...) or "
            "pass a pandas frame",
        )
    with open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def decode_array(path: Path) -> Any:
    """An array back from a ``.npy`` file written by :func:`encode` (never unpickles)."""
    import numpy as np

    return np.load(path, allow_pickle=False)


# -- files -----------------------------------------------------------------------------------


def walk_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The files of a directory as (relative POSIX path, path), sorted, as ``digest_dir`` walks them."""
    entries: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            full = Path(folder, name)
            if full.is_file():
                entries.append((full.relative_to(root).as_posix(), full))
    entries.sort()
    yield from entries


def _store_directory(storage: Storage, root: Path) -> Encoded:
    files = []
    blobs = []
    total = 0
    for rel, full in walk_files(root):
        info = storage.put_file(full)
        files.append({"path": rel, "blob": info.digest, "size": info.size_bytes})
        blobs.append(info.digest)
        total += info.size_bytes
    manifest = json.dumps(
        {"format": MANIFEST_FORMAT, "files": files}, sort_keys=True, separators=(",", ":")
    ).encode()
    info = storage.put_bytes(manifest)
    return Encoded("directory", info.digest, (info.digest, *dict.fromkeys(blobs)), total)


# -- the entry point -------------------------------------------------------------------------


def encode(storage: Storage, label: str, data: DataInput, value: object) -> Encoded:
    """Write *value* (fingerprinted as *data*) to *storage*; check it reads back to the same digest.

    *label* names the value in errors (``dataset 'customers'``). Raises ``UnsupportedData``
    (nothing recorded; at most unreferenced blobs stay in storage) when it cannot be stored exactly.
    """
    if data.kind in ("file", "directory"):
        path = Path(data.path) if data.path else Path(os.fspath(cast(Any, value)))
        if data.kind == "file":
            info = storage.put_file(path)
            encoded = Encoded("file", info.digest, (info.digest,), info.size_bytes)
        else:
            encoded = _store_directory(storage, path)
        again = fingerprint_of(label, path)
        if again is None or again.digest != data.digest:
            raise UnsupportedData(
                f"{label}: {path} changed while it was being stored; log it again once nothing writes to it"
            )
        return encoded
    if data.kind not in ("dataframe", "series", "ndarray"):
        raise _unsupported(
            f"{label} is a {type(value).__name__} (fingerprinted as {data.kind!r}), which opskit "
            "cannot store as a dataset version",
            "pass a pandas DataFrame/Series, a NumPy array or a path to a file or directory, or "
            "keep it fingerprinted only (data='fingerprint')",
        )
    with tempfile.TemporaryDirectory(prefix="opskit-data-") as tmp:
        path = Path(tmp) / "data"
        if data.kind == "ndarray":
            _write_npy(label, value, path)
            back = decode_array(path)
            fmt: DatasetFormat = "npy"
        else:
            if data.kind == "dataframe":
                _check_frame(label, value)
            _write_parquet(label, value, path)
            back = decode_frame(path)
            fmt = "parquet"
        again = fingerprint_of(label, back)
        if again is None or again.digest != data.digest:
            detail = (
                _explain_frame_mismatch(value, back)
                if fmt == "parquet"
                else f"it comes back as {back.dtype}{back.shape}"
            )
            raise _unsupported(
                f"{label} does not round-trip exactly through {fmt}: {detail}",
                "convert those columns to a dtype Parquet keeps (numbers, strings, categories, "
                "datetimes, nullable Int/boolean/string)",
            )
        info = storage.put_file(path)
    return Encoded(fmt, info.digest, (info.digest,), info.size_bytes)


def materialize_file(storage: Storage, blob: str, dest: Path) -> Path:
    """The verified blob at *dest* (written atomically)."""
    return storage.get_file(blob, dest)


def materialize_directory(storage: Storage, manifest_blob: str, dest: Path) -> Path:
    """Rebuild a stored directory at *dest* from its manifest (every file verified); atomic."""
    manifest = json.loads(storage.get_bytes(manifest_blob))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise UnsupportedData(
            f"blob {manifest_blob} is not a directory manifest ({manifest.get('format')!r}); "
            "upgrade opskit to read it"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".tmp-"))
    try:
        for entry in manifest["files"]:
            rel = Path(entry["path"])
            if rel.is_absolute() or ".." in rel.parts:
                raise UnsupportedData(f"manifest {manifest_blob} names a path outside it: {rel}")
            storage.get_file(entry["blob"], tmp / rel)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
