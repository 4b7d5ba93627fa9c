"""Content fingerprints of in-memory data: pandas frames, series, indexes and NumPy arrays.

One fast hash, **xxh3-128** (the ``xxhash`` package), fed straight from column memory:

* NumPy-backed numeric, bool, complex, ``datetime64`` and ``timedelta64`` columns are hashed
  from their buffers without conversion (a strided column is copied in bounded chunks);
  tz-aware datetimes from their int64 UTC view.
* Nullable ``Int*``/``UInt*``/``Float*``/``boolean``: the NA mask, then the values with 0
  under each NA. Categories: every category in order (hashed as a column), the order flag,
  then the integer codes.
* Every other pandas dtype (strings, periods, intervals, Arrow-backed columns) goes through
  its Arrow array: validity mask, value buffers with the slots under nulls zeroed, string
  offsets rebased, dictionaries and their indices. Object columns of ``str``/``bytes`` too.
* Anything else (object columns with lists, dicts, mixed types, or no ``pyarrow`` at all)
  goes through a slower canonical encoder of the Python values (:func:`_encode`).

The schema is part of the digest: column names (with their Python types), dtypes and column
order, the index (type, names, dtype, values; a ``RangeIndex`` by its start/stop/step),
and the shape. Equal content gives the same digest in every process and on every
little-endian machine, for the pandas versions that keep the same buffers.

Digests are ``"xxh3_128:<32 hex>"``; older stores hold ``"sha256:<64 hex>"`` digests, which stay
valid: :func:`same_content` treats digests of different algorithms as "unknown", never equal.

The frame layout has a version tag (``FRAME_SCHEME``) hashed first, so any future change of
layout gives new digests rather than colliding ones. Without ``pyarrow`` the Arrow columns
go through the canonical encoder instead: that path is much slower and gives *different*
digests for frames that have such columns (each column records which path fed it).
"""

from __future__ import annotations

import pickle
import struct
import sys
from collections.abc import Iterable
from typing import Any, Final, Protocol

__all__ = [
    "ALGORITHM",
    "FRAME_SCHEME",
    "algorithm_of",
    "digest_array",
    "digest_frame",
    "digest_objects",
    "new_hasher",
    "same_content",
]

#: The algorithm every new digest names.
ALGORITHM: Final = "xxh3_128"
#: Layout version of frame/array digests, hashed before anything else.
FRAME_SCHEME: Final = b"opskit-data-v1"
#: Rows per chunk when a strided (non-contiguous) array is copied to be hashed.
_CHUNK_BYTES: Final = 1 << 22


class Hasher(Protocol):
    def update(self, data: Any, /) -> None: ...
    def hexdigest(self) -> str: ...


def new_hasher() -> Hasher:
    """A fresh streaming xxh3-128 hasher."""
    import xxhash

    hasher: Hasher = xxhash.xxh3_128()
    return hasher


def finish(h: Hasher) -> str:
    """The digest string of *h*: ``"xxh3_128:<32 hex>"``."""
    return f"{ALGORITHM}:{h.hexdigest()}"


def algorithm_of(digest: str) -> str:
    """The algorithm a digest string names (``"xxh3_128"``, ``"sha256"``…); ``""`` if it names none."""
    algo, sep, _ = digest.partition(":")
    return algo if sep else ""


def same_content(a: str, b: str) -> bool | None:
    """True/False when both digests use the same algorithm, None ("unknown") when they differ."""
    if algorithm_of(a) != algorithm_of(b) or not algorithm_of(a):
        return None
    return a == b


# -- framing -------------------------------------------------------------------------------


def _field(h: Hasher, data: bytes | bytearray | memoryview) -> None:
    """Feed one length-prefixed field, so field boundaries can never shift."""
    h.update(struct.pack("<Q", len(data)))
    h.update(data)


def _text(h: Hasher, text: str) -> None:
    _field(h, text.encode("utf-8", "surrogatepass"))


# -- canonical encoding of Python values (the fallback) ---------------------------------------


def _encode(value: object, out: bytearray) -> None:
    """Append a canonical, process-independent encoding of *value* to *out*.

    Containers are encoded element by element (dicts and sets sorted by the encodings of
    their keys/elements, so equal ones encode equally); scalars by type tag and value;
    anything else by its pickle (tagged with its class), or its ``repr`` when it has no pickle.
    """
    if value is None:
        out += b"N"
    elif isinstance(value, bool):
        out += b"T" if value else b"F"
    elif isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        out += b"s" + struct.pack("<Q", len(raw)) + raw
    elif isinstance(value, int) and type(value) is int:
        raw = str(value).encode()
        out += b"i" + struct.pack("<Q", len(raw)) + raw
    elif isinstance(value, float) and type(value) is float:
        out += b"f" + struct.pack("<d", value)
    elif isinstance(value, bytes | bytearray):
        out += b"y" + struct.pack("<Q", len(value)) + bytes(value)
    elif isinstance(value, list | tuple):
        out += (b"l" if isinstance(value, list) else b"t") + struct.pack("<Q", len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        items = sorted((_encoded(k), _encoded(v)) for k, v in value.items())
        out += b"d" + struct.pack("<Q", len(items))
        for k, v in items:
            out += k + v
    elif isinstance(value, set | frozenset):
        members = sorted(_encoded(v) for v in value)
        out += b"S" + struct.pack("<Q", len(members)) + b"".join(members)
    elif (
        type(value).__module__ == "numpy"
        and hasattr(value, "dtype")
        and hasattr(value, "tobytes")
        and not value.dtype.hasobject
    ):
        # a NumPy scalar: its dtype and bytes (a pickle would name numpy's private modules)
        dtype = value.dtype.str.encode()
        raw = value.tobytes()
        out += b"n" + struct.pack("<Q", len(dtype)) + dtype + struct.pack("<Q", len(raw)) + raw
    else:
        cls = type(value)
        out += b"o"
        name = f"{cls.__module__}.{cls.__qualname__}".encode()
        out += struct.pack("<Q", len(name)) + name
        try:
            raw = pickle.dumps(value, protocol=4)
        except Exception:  # no pickle: the repr is the best we have (documented as unstable)
            raw = b"r" + repr(value).encode("utf-8", "surrogatepass")
        out += struct.pack("<Q", len(raw)) + raw


def _encoded(value: object) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def digest_objects(values: Iterable[object], h: Hasher | None = None) -> str:
    """Feed Python values through the canonical encoder (batched); return the digest so far."""
    h = h or new_hasher()
    buf = bytearray()
    count = 0
    for value in values:
        _encode(value, buf)
        count += 1
        if len(buf) >= _CHUNK_BYTES:
            h.update(buf)
            buf.clear()
    h.update(buf)
    h.update(struct.pack("<Q", count))
    return finish(h)


# -- NumPy -----------------------------------------------------------------------------------


def _little_endian(arr: Any) -> Any:
    """*arr* itself on little-endian machines with native/little dtypes, else a little-endian copy."""
    dtype = arr.dtype
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big"):
        return arr.astype(dtype.newbyteorder("<"))
    return arr


def _feed_ndarray_bytes(h: Hasher, arr: Any) -> None:
    """Feed the C-order bytes of a fixed-width array, copying strided arrays in bounded chunks."""
    import numpy as np

    arr = _little_endian(arr)
    if arr.flags.c_contiguous:
        h.update(arr.reshape(-1).view(np.uint8))
        return
    if arr.ndim == 0 or arr.shape[0] == 0:
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
        return
    row_bytes = max(1, arr.nbytes // arr.shape[0])
    step = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, arr.shape[0], step):
        h.update(np.ascontiguousarray(arr[start : start + step]).reshape(-1).view(np.uint8))


def _feed_array(h: Hasher, arr: Any) -> None:
    if not arr.dtype.hasobject:
        arr = _little_endian(arr)
    _text(h, arr.dtype.str if arr.dtype.fields is None else repr(arr.dtype.descr))
    _field(h, struct.pack(f"<{arr.ndim}q", *arr.shape))
    if arr.dtype.hasobject:
        h.update(b"objects")
        digest_objects(arr.ravel(order="C").tolist(), h)
    else:
        h.update(b"buffer")
        _feed_ndarray_bytes(h, arr)


def digest_array(arr: Any) -> str:
    """The digest of a NumPy array: dtype, shape and C-order content (objects canonically encoded)."""
    h = new_hasher()
    h.update(FRAME_SCHEME + b"/ndarray")
    _feed_array(h, arr)
    return finish(h)


# -- Arrow ----------------------------------------------------------------------------------


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        return None
    return pyarrow


def _feed_arrow(h: Hasher, arr: Any) -> None:
    """Feed a pyarrow Array canonically: type, length, nulls, values (slots under nulls zeroed)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    _text(h, str(t))
    n = len(arr)
    nulls = arr.null_count
    h.update(struct.pack("<QQ", n, nulls))
    if isinstance(arr, pa.ExtensionArray):
        _feed_arrow(h, arr.storage)
        return
    mask = None
    if nulls:
        mask = arr.is_null().to_numpy(zero_copy_only=False)
        h.update(np.packbits(mask, bitorder="little"))
    if pa.types.is_null(t):
        return
    if pa.types.is_dictionary(t):
        _feed_arrow(h, arr.dictionary)
        _feed_arrow(h, arr.indices)
        return
    if pa.types.is_boolean(t):
        h.update(pc.fill_null(arr, False).to_numpy(zero_copy_only=False))
        return
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    ):
        if nulls:
            arr = pc.fill_null(
                arr,
                pa.scalar("" if pa.types.is_string(t) or pa.types.is_large_string(t) else b"", t),
            )
        wide = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
        bufs = arr.buffers()
        if bufs[1] is None:  # an empty array may come without an offsets buffer
            offsets = np.zeros(n + 1, dtype="<i8" if wide else "<i4")
        else:
            offsets = np.frombuffer(bufs[1], dtype="<i8" if wide else "<i4")[
                arr.offset : arr.offset + n + 1
            ]
        start, end = (int(offsets[0]), int(offsets[-1])) if n else (0, 0)
        h.update(offsets - start if start else offsets)
        if end > start and bufs[2] is not None:
            h.update(memoryview(bufs[2])[start:end])
        return
    try:
        width = t.bit_width
    except ValueError:  # not a fixed-width type
        width = 0
    if (
        width and width % 8 == 0 and t.num_buffers == 2
    ):  # fixed-width values (numbers, times, decimals)
        size = width // 8
        raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[
            arr.offset * size : (arr.offset + n) * size
        ]
        if mask is not None:
            raw = raw.reshape(n, size).copy()
            raw[mask] = 0
        h.update(raw)
        return
    # nested types (lists, structs, maps…): their Python values, canonically
    digest_objects(arr.to_pylist(), h)


_STRING_LIKE = ("string", "large_string", "binary", "large_binary")


def _object_to_arrow(values: Any) -> Any:
    """An Arrow array for an object column of only str (or only bytes) and None, else None."""
    pa = _arrow()
    if pa is None:
        return None
    try:
        arr = pa.array(values, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    return arr if str(arr.type) in _STRING_LIKE else None


# -- pandas ---------------------------------------------------------------------------------

_NUMPY_KINDS: Final = frozenset("biufcmM")


def _feed_values(h: Hasher, values: Any, use_arrow: bool) -> None:
    """Feed a column's values (a pandas ExtensionArray or ndarray), dtype first."""
    import numpy as np
    import pandas as pd

    if type(values) is pd.arrays.NumpyExtensionArray:  # not its subclasses (python-backed strings)
        values = values.to_numpy()  # the ndarray itself, no copy
    dtype = values.dtype
    _text(h, str(dtype))
    h.update(struct.pack("<Q", len(values)))
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMPY_KINDS:
        h.update(b"numpy")
        raw = np.asarray(values)
        _text(h, raw.dtype.str)
        _feed_ndarray_bytes(h, raw)
        return
    if isinstance(dtype, pd.DatetimeTZDtype):
        h.update(b"utc-i8")
        _feed_ndarray_bytes(h, np.asarray(values.view("i8")))
        return
    if isinstance(
        values, pd.arrays.IntegerArray | pd.arrays.FloatingArray | pd.arrays.BooleanArray
    ):
        # nullable numbers: the NA mask, then the values with 0 under every NA
        mask = np.asarray(values.isna(), dtype=bool)
        h.update(b"masked")
        h.update(np.packbits(mask, bitorder="little"))
        filled = values.to_numpy(dtype=dtype.numpy_dtype, na_value=dtype.numpy_dtype.type(0))
        _feed_ndarray_bytes(h, filled)
        return
    if isinstance(dtype, pd.CategoricalDtype):
        # categories (all of them, in order), the order flag, the codes (-1 for NA)
        h.update(b"categorical" + (b"T" if dtype.ordered else b"F"))
        _feed_values(h, pd.Index(dtype.categories).array, use_arrow)
        codes = np.asarray(values.codes)
        _text(h, codes.dtype.str)
        _feed_ndarray_bytes(h, codes)
        return
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        strings = _object_to_arrow(np.asarray(values)) if use_arrow else None
        if strings is not None:
            h.update(b"arrow")
            _feed_arrow(h, strings)
            return
        h.update(b"objects")
        digest_objects(np.asarray(values).tolist(), h)
        return
    if use_arrow and not isinstance(dtype, pd.SparseDtype):
        pa = _arrow()
        converted: Any
        try:
            converted = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError):
            converted = None
        if converted is not None:
            h.update(b"arrow")
            _feed_arrow(h, converted)
            return
    _feed_python(h, values)


def _feed_python(h: Hasher, values: Any) -> None:
    """The slow path: NA mask, then each value."""
    import numpy as np
    import pandas as pd

    h.update(b"python")
    mask = np.asarray(pd.isna(values), dtype=bool)
    h.update(np.packbits(mask, bitorder="little"))
    cells = np.asarray(values, dtype=object).tolist()
    digest_objects((None if m else v for v, m in zip(cells, mask.tolist(), strict=True)), h)


def _feed_index(h: Hasher, index: Any, use_arrow: bool) -> None:
    import pandas as pd

    _text(h, type(index).__name__)
    names = bytearray()
    _encode(list(index.names), names)
    _field(h, names)
    if isinstance(index, pd.RangeIndex):
        h.update(struct.pack("<qqq", index.start, index.stop, index.step))
    elif isinstance(index, pd.MultiIndex):
        h.update(struct.pack("<Q", index.nlevels))
        for level in range(index.nlevels):
            _feed_values(h, index.get_level_values(level).array, use_arrow)
    else:
        _feed_values(h, index.array, use_arrow)


def digest_frame(obj: Any, *, use_arrow: bool | None = None) -> str:
    """The digest of a pandas DataFrame, Series or Index: schema, index and every column's content.

    *use_arrow*: None uses pyarrow when it is installed; False forces the slow path (tests).
    """
    import pandas as pd

    arrow = (_arrow() is not None) if use_arrow is None else use_arrow
    h = new_hasher()
    h.update(FRAME_SCHEME + b"/pandas")  # each column records whether Arrow or Python fed it
    _text(h, type(obj).__name__)
    _field(h, struct.pack(f"<{len(obj.shape)}q", *obj.shape))
    if isinstance(obj, pd.Index):
        _feed_index(h, obj, arrow)
        return finish(h)
    _feed_index(h, obj.index, arrow)
    if isinstance(obj, pd.Series):
        name = bytearray()
        _encode(obj.name, name)
        _field(h, name)
        _feed_values(h, obj.array, arrow)
        return finish(h)
    _text(h, type(obj.columns).__name__)
    for i, column in enumerate(obj.columns):
        name = bytearray()
        _encode(column, name)
        _field(h, name)
        _feed_values(h, obj.iloc[:, i].array, arrow)
    return finish(h)
