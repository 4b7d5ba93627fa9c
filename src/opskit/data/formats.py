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

import io
import json
import os
import shutil
import tempfile
import warnings
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


def _write_parquet(label: str, value: Any, path: Any) -> None:
    import numpy as np
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
    # Parquet keeps neither unused categories nor non-string ones: every categorical column's
    # categories and order go in the file's opskit metadata and are put back on read
    meta["categories"] = {
        column: {"ordered": bool(dtype.ordered), "values": _arrow_bytes(dtype.categories)}
        for column, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype)
    }
    # pandas reads Parquet strings as its `str` dtype: remember the object columns (and an
    # object index) so they come back as object columns of Python values
    meta["object_columns"] = [
        column for column, dtype in frame.dtypes.items() if dtype == np.dtype(object)
    ]
    meta["object_index"] = not isinstance(
        frame.index, pd.MultiIndex
    ) and frame.index.dtype == np.dtype(object)
    freq = getattr(frame.index, "freqstr", None)  # a DatetimeIndex's frequency: not in Parquet
    if freq is not None and not isinstance(frame.index, pd.MultiIndex):
        meta["index_freq"] = freq
    try:
        with warnings.catch_warnings():  # pyarrow's own use of a pandas API pandas 3 deprecates
            warnings.filterwarnings("ignore", message=r".*\.values returning an ndarray that drops")
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


def _arrow_bytes(index: Any) -> str:
    """An index's values as an Arrow IPC stream, base64 text (for the file's metadata)."""
    import base64

    import pyarrow as pa

    batch = pa.record_batch([pa.Array.from_pandas(index)], names=["values"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def _from_arrow_bytes(text: str) -> Any:
    import base64

    import pandas as pd
    import pyarrow as pa

    table = pa.ipc.open_stream(base64.b64decode(text)).read_all()
    return pd.Index(table.column(0).to_pandas()).rename(None)


def decode_frame(path: Any) -> Any:
    """A frame or series back from a Parquet file (a path or an Arrow buffer) written by :func:`encode`."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    frame = table.to_pandas()
    for column in meta.get("object_columns", []):
        values = np.empty(table.num_rows, dtype=object)
        values[:] = table.column(column).to_pylist()
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    if meta.get("object_index"):
        index = frame.index
        values = np.empty(len(index), dtype=object)
        values[:] = [None if v is None or v is pd.NA else v for v in index.to_list()]
        frame.index = pd.Index(values, dtype=object, name=index.name)
    for column, spec in meta.get("categories", {}).items():
        dtype = pd.CategoricalDtype(_from_arrow_bytes(spec["values"]), ordered=spec["ordered"])
        values = np.asarray(frame[column].astype(object))
        frame[column] = pd.Categorical(values, dtype=dtype)
    if meta.get("index_freq"):
        index = frame.index
        frame.index = type(index)(index, freq=meta["index_freq"])
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
    from opskit.capture.hashing import digest_frame

    changed = []
    for i, column in enumerate(original.columns):
        a, b = original.iloc[:, i], back.iloc[:, i]
        if a.dtype != b.dtype:
            changed.append(f"{column!r} ({a.dtype} -> {b.dtype})")
        elif digest_frame(a.to_frame()) != digest_frame(b.to_frame()):
            note = " (NaN and None both come back as None)" if a.dtype == object else ""
            changed.append(f"{column!r} (values{note})")
    return "column(s) " + ", ".join(changed[:5]) if changed else "the frame differs"


# -- NumPy -----------------------------------------------------------------------------------


def _write_npy(label: str, arr: Any, path: Any) -> None:
    import numpy as np

    if arr.dtype.hasobject:
        raise _unsupported(
            f"{label} is an array of dtype {arr.dtype}, which .npy can only store with pickle",
            "convert it to a fixed dtype first (arr.astype(str), arr.astype(float), ...) or "
            "pass a pandas frame",
        )
    if isinstance(path, Path):
        with open(path, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    else:
        np.save(path, arr, allow_pickle=False)


def decode_array(path: Any) -> Any:
    """An array back from a ``.npy`` file (a path or a binary stream) written by :func:`encode` (never unpickles)."""
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
    if _in_memory(data):
        return _encode_in_memory(storage, label, data, value)
    with tempfile.TemporaryDirectory(prefix="opskit-data-") as tmp:
        path = Path(tmp) / "data"
        fmt = _write(label, data, value, path)
        _verify(label, data, value, fmt, _decode(fmt, path))
        info = storage.put_file(path)
    return Encoded(fmt, info.digest, (info.digest,), info.size_bytes)


#: Frames and arrays up to this size in memory are encoded, checked and stored in memory, and
#: blobs up to this size loaded in memory (no temp file); larger ones go through a temp file.
IN_MEMORY_BYTES: Final = 512 << 20


def _in_memory(data: DataInput) -> bool:
    """Whether a value is small enough (its memory size, as fingerprinted) to encode in memory."""
    return data.size_bytes is not None and data.size_bytes <= IN_MEMORY_BYTES


def _write(label: str, data: DataInput, value: Any, target: Any) -> DatasetFormat:
    if data.kind == "ndarray":
        _write_npy(label, value, target)
        return "npy"
    if data.kind == "dataframe":
        _check_frame(label, value)
    _write_parquet(label, value, target)
    return "parquet"


def _decode(fmt: DatasetFormat, source: Any) -> Any:
    return decode_frame(source) if fmt == "parquet" else decode_array(source)


def _verify(label: str, data: DataInput, value: Any, fmt: DatasetFormat, back: Any) -> None:
    """Refuse an encoding that does not read back to the same fingerprint."""
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


def _encode_in_memory(storage: Storage, label: str, data: DataInput, value: Any) -> Encoded:
    import pyarrow as pa

    if data.kind == "ndarray":
        stream = io.BytesIO()
        fmt = _write(label, data, value, stream)
        raw = stream.getvalue()
        back = decode_array(io.BytesIO(raw))
    else:
        sink = pa.BufferOutputStream()
        fmt = _write(label, data, value, sink)
        buffer = sink.getvalue()
        back = decode_frame(pa.BufferReader(buffer))
        raw = buffer.to_pybytes()
    _verify(label, data, value, fmt, back)
    info = storage.put_bytes(raw)
    return Encoded(fmt, info.digest, (info.digest,), info.size_bytes)


def load_blob(storage: Storage, fmt: DatasetFormat, blob: str, size_bytes: int) -> Any:
    """A Parquet or ``.npy`` blob decoded (its SHA-256 verified by the storage)."""
    if size_bytes <= IN_MEMORY_BYTES:
        raw = storage.get_bytes(blob)
        if fmt == "npy":
            return decode_array(io.BytesIO(raw))
        import pyarrow as pa

        return decode_frame(pa.BufferReader(pa.py_buffer(raw)))
    with tempfile.TemporaryDirectory(prefix="opskit-data-") as tmp:
        path = storage.get_file(blob, Path(tmp) / "data")
        return _decode(fmt, path)


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
