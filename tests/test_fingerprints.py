"""Data fingerprints: xxh3-128 over column buffers, stable across processes, sensitive to any change.

Frames cover every pandas dtype family; each digest is computed twice, through Arrow and
through the slow pure-Python path (what runs without pyarrow). Files and folders go through
the persistent stat cache, whose racy rule is tested with a moved clock.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from opskit._hooks import hooks
from opskit.capture import filecache
from opskit.capture.filecache import RACY_WINDOW_NS, StatCache, digest_dir, digest_file, stat_key
from opskit.capture.hashing import (
    algorithm_of,
    digest_array,
    digest_frame,
    digest_objects,
    same_content,
)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LATER = 10 * RACY_WINDOW_NS  # a clock this far ahead makes a just-written file safe to cache


def _later() -> int:
    return time.time_ns() + LATER


# -- generated columns: every pandas dtype family ----------------------------------------------

_INT_RANGES = {
    f"{k}int{w}": (np.iinfo(f"{k}int{w}").min, np.iinfo(f"{k}int{w}").max)
    for k in ("", "u")
    for w in (8, 16, 32, 64)
}
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
_DAY = np.datetime64("2000-01-01", "ns")


def _numpy_column(dtype: str) -> Any:
    def build(n: int) -> st.SearchStrategy[Any]:
        if dtype in _INT_RANGES:
            lo, hi = _INT_RANGES[dtype]
            return st.lists(st.integers(lo, hi), min_size=n, max_size=n).map(
                lambda v: pd.array(np.array(v, dtype=dtype))
            )
        if dtype in ("float32", "float64"):
            width = 32 if dtype == "float32" else 64
            return st.lists(st.floats(width=width), min_size=n, max_size=n).map(
                lambda v: pd.array(np.array(v, dtype=dtype))
            )
        if dtype == "complex128":
            return st.lists(st.complex_numbers(allow_nan=False), min_size=n, max_size=n).map(
                lambda v: pd.array(np.array(v, dtype=dtype))
            )
        if dtype == "bool":
            return st.lists(st.booleans(), min_size=n, max_size=n).map(
                lambda v: pd.array(np.array(v, dtype=bool))
            )
        raise AssertionError(dtype)

    return build


def _nullable(values: st.SearchStrategy[Any], dtype: str) -> Any:
    return lambda n: st.lists(st.none() | values, min_size=n, max_size=n).map(
        lambda v: pd.array(v, dtype=dtype)
    )


_SECONDS = st.integers(-(10**9), 10**9)
COLUMNS: dict[str, Any] = {
    **{d: _numpy_column(d) for d in (*_INT_RANGES, "float32", "float64", "complex128", "bool")},
    "Int8": _nullable(st.integers(-128, 127), "Int8"),
    "Int64": _nullable(st.integers(-(2**63), 2**63 - 1), "Int64"),
    "UInt32": _nullable(st.integers(0, 2**32 - 1), "UInt32"),
    "Float64": _nullable(st.floats(allow_nan=False), "Float64"),
    "Float32": _nullable(st.floats(width=32, allow_nan=False), "Float32"),
    "boolean": _nullable(st.booleans(), "boolean"),
    "string": _nullable(_TEXT, "string"),
    "string[pyarrow]": _nullable(_TEXT, "string[pyarrow]"),
    "str": _nullable(_TEXT, "str"),
    "object-str": lambda n: st.lists(st.none() | _TEXT, min_size=n, max_size=n).map(
        lambda v: pd.array(np.array(v, dtype=object), dtype=object)
    ),
    "datetime64[ns]": lambda n: st.lists(_SECONDS, min_size=n, max_size=n).map(
        lambda v: pd.array(_DAY + np.array(v, dtype="m8[s]"))
    ),
    "datetime64[ns, Europe/Paris]": lambda n: st.lists(_SECONDS, min_size=n, max_size=n).map(
        lambda v: pd.array(
            pd.DatetimeIndex(_DAY + np.array(v, dtype="m8[s]"))
            .tz_localize("UTC")
            .tz_convert("Europe/Paris")
        )
    ),
    "timedelta64[ns]": lambda n: st.lists(_SECONDS, min_size=n, max_size=n).map(
        lambda v: pd.array(np.array(v, dtype="m8[s]").astype("m8[ns]"))
    ),
    "category": lambda n: st.lists(
        st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n
    ).map(lambda v: pd.Categorical(v, categories=["c", "a", "b"])),
    "category-ordered": lambda n: st.lists(
        st.sampled_from([3, 1, 2, None]), min_size=n, max_size=n
    ).map(lambda v: pd.Categorical(v, categories=[3, 1, 2], ordered=True)),
    "period[D]": lambda n: st.lists(st.integers(0, 10**5), min_size=n, max_size=n).map(
        lambda v: pd.array(pd.PeriodIndex.from_ordinals(v, freq="D"))
    ),
}
FAMILIES = sorted(COLUMNS)


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0) -> pd.DataFrame:
    """A DataFrame of 1-5 columns from any dtype family, with a RangeIndex, an Int64 index or a MultiIndex."""
    n = draw(st.integers(min_rows, 6))
    kinds = draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=5))
    data = {f"c{i}_{kind}": draw(COLUMNS[kind](n)) for i, kind in enumerate(kinds)}
    df = pd.DataFrame(data)
    index = draw(st.sampled_from(["range", "ints", "multi"]))
    if index == "ints":
        df.index = pd.Index(
            draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype="int64"
        )
    elif index == "multi":
        df.index = pd.MultiIndex.from_arrays(
            [[f"k{i % 2}" for i in range(n)], list(range(n))], names=["k", "i"]
        )
    return df


def both(obj: Any) -> tuple[str, str]:
    """The digest through Arrow and through the pure-Python path."""
    return digest_frame(obj), digest_frame(obj, use_arrow=False)


def _changed(values: Any, row: int) -> Any:
    """A value for *row* of this column that differs from the current one."""
    dtype = values.dtype
    current = values[row]
    if isinstance(dtype, pd.CategoricalDtype):
        return next(c for c in dtype.categories if pd.isna(current) or c != current)
    if pd.isna(current):
        if isinstance(dtype, pd.PeriodDtype):
            return pd.Period("2001-01-01", freq="D")
        if isinstance(dtype, pd.DatetimeTZDtype):
            return pd.Timestamp("2001-01-01", tz="Europe/Paris")
        return {
            "b": True,
            "M": pd.Timestamp("2001-01-01"),
            "m": pd.Timedelta(1, "s"),
            "i": 1,
            "u": 1,
            "f": 1.0,
            "c": 1.0,
        }.get(dtype.kind, "x")
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return not current
    if kind in "iu":
        info = np.iinfo(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
        return current - 1 if current == info.max else current + 1
    if kind in "fc":
        if current != current:  # NaN
            return 0.0
        bigger = current * 2 + 1
        return (
            bigger
            if bigger != current and bigger == bigger and abs(bigger) != float("inf")
            else 0.5
            if current != 0.5
            else 0.25
        )
    if isinstance(dtype, pd.PeriodDtype):
        return current + 1
    if kind in "Mm":
        return current + pd.Timedelta(1, "s")
    return str(current) + "x"


# -- stability and sensitivity (hypothesis) ------------------------------------------------------


_CHILD = """
import pickle, sys
from opskit.capture.hashing import digest_frame
frames = pickle.load(open(sys.argv[1], "rb"))
for df in frames:
    print(digest_frame(df), digest_frame(df, use_arrow=False))
"""


@settings(SETTINGS, max_examples=6)
@given(st.lists(frames(), min_size=5, max_size=12))
def test_same_frames_same_digests_in_a_new_process(
    tmp_path: Path, batch: list[pd.DataFrame]
) -> None:
    """Frames of every dtype family get the same digests in a fresh process (other hash seed)."""
    here = [" ".join(both(df)) for df in batch]
    blob = tmp_path / "frames.pkl"
    blob.write_bytes(pickle.dumps(batch))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(blob)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
    )
    assert out.stdout.split("\n")[: len(here)] == here


@SETTINGS
@given(frames(min_rows=1), st.data())
def test_any_changed_cell_changes_the_digest(df: pd.DataFrame, data: st.DataObject) -> None:
    """Changing one cell of any dtype family changes the digest (Arrow and pure-Python paths)."""
    col = data.draw(st.integers(0, df.shape[1] - 1))
    row = data.draw(st.integers(0, len(df) - 1))
    values = df.iloc[:, col].array.copy()
    values[row] = _changed(values, row)
    other = df.copy()
    other.isetitem(col, pd.Series(values, index=df.index, dtype=df.dtypes.iloc[col]))
    assert other.dtypes.iloc[col] == df.dtypes.iloc[col]
    assume(not other.iloc[:, col].equals(df.iloc[:, col]) or df.iloc[:, col].dtype.kind in "fc")
    first, second = both(df), both(other)
    assert first[0] != second[0] and first[1] != second[1]


@SETTINGS
@given(frames(min_rows=1))
def test_schema_and_order_changes_change_the_digest(df: pd.DataFrame) -> None:
    """A renamed column, a swapped column order, reordered rows, a changed index or a changed dtype all change the digest."""
    base = both(df)
    assert both(df.rename(columns={df.columns[0]: "renamed"})) != base
    if df.shape[1] > 1:
        assert both(df[list(reversed(df.columns))]) != base
    flipped = df.iloc[::-1].reset_index(drop=True)
    if not flipped.equals(df.reset_index(drop=True)):
        assert both(flipped.set_axis(df.index)) != base
    if isinstance(df.index, pd.RangeIndex):
        assert (
            both(df.set_axis(pd.Index(list(range(len(df))), dtype="int64"))) != base
        )  # RangeIndex vs Int64 index
    assert both(df.set_axis(df.index.set_names(["z"] * df.index.nlevels))) != base
    assert both(df.iloc[:, 0]) != both(df.iloc[:, [0]])  # a Series is not a one-column frame
    first = df.columns[0]
    if df[first].dtype != object:
        assert both(df.astype({first: object})) != base  # same values, another dtype
    assert both(df.copy()) == base  # equal content, equal digest


@pytest.mark.parametrize(
    ("frame", "changed"),
    [
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": np.array([1, 2], dtype="int32")})),
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": pd.array([1, 2], dtype="Int64")})),
        (
            pd.DataFrame({"a": [1.0, 2.0]}),
            pd.DataFrame({"a": np.array([1.0, 2.0], dtype="float32")}),
        ),
        (
            pd.DataFrame({"a": ["x", "y"]}, dtype=object),
            pd.DataFrame({"a": ["x", "y"]}, dtype="string"),
        ),
        (
            pd.DataFrame({"a": pd.Categorical(["x", "y"])}),
            pd.DataFrame({"a": pd.Categorical(["x", "y"], ordered=True)}),
        ),
        (
            pd.DataFrame({"a": pd.Categorical(["x", "y"])}),
            pd.DataFrame({"a": pd.Categorical(["x", "y"], categories=["x", "y", "z"])}),
        ),
        (
            pd.DataFrame({"a": pd.date_range("2020", periods=2, tz="UTC")}),
            pd.DataFrame(
                {"a": pd.date_range("2020", periods=2, tz="UTC").tz_convert("Asia/Tokyo")}
            ),
        ),
        (
            pd.DataFrame({"a": pd.date_range("2020", periods=2, unit="ns")}),
            pd.DataFrame({"a": pd.date_range("2020", periods=2, unit="us")}),
        ),
        (
            pd.DataFrame({"a": ["x", None]}, dtype=object),
            pd.DataFrame({"a": ["x", np.nan]}, dtype=object),
        ),
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({0: [1, 2]}).rename(columns={0: 1})),
        (pd.DataFrame({"1": [1, 2]}), pd.DataFrame({1: [1, 2]})),
        (
            pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_arrays([[1, 1], [1, 2]])),
            pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_arrays([[1, 1], [2, 1]])),
        ),
    ],
)
def test_dtype_and_name_changes_with_equal_values_change_the_digest(
    frame: pd.DataFrame, changed: pd.DataFrame
) -> None:
    """Equal-looking values under a different dtype, tz, unit, category set, NA kind or name get a different digest."""
    assert both(frame)[0] != both(changed)[0] and both(frame)[1] != both(changed)[1]


def test_equal_columns_hash_equally_whatever_their_history() -> None:
    """Hidden values under NA, sliced Arrow buffers and chunked Arrow arrays do not change the digest."""
    mask = np.array([False, True])
    assert both(pd.Series(pd.arrays.IntegerArray(np.array([1, 99]), mask))) == both(
        pd.Series(pd.arrays.IntegerArray(np.array([1, 0]), mask))
    )
    assert both(pd.Series(pd.arrays.FloatingArray(np.array([1.5, np.inf]), mask))) == both(
        pd.Series(pd.array([1.5, None], dtype="Float64"))
    )
    sliced = pd.Series(["x", None, "b"], dtype="string[pyarrow]").iloc[1:].reset_index(drop=True)
    assert both(sliced) == both(pd.Series([None, "b"], dtype="string[pyarrow]"))
    import pyarrow as pa

    chunked = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([["a"], [None, "c"]])))
    assert both(chunked) == both(
        pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([["a", None, "c"]])))
    )


def test_unhashable_object_cells_fingerprint_stably(tmp_path: Path) -> None:
    """Object columns of lists, dicts, sets and mixed types fingerprint, the same in a new process, and change with a nested value."""
    df = pd.DataFrame({"a": [[1, 2], {"k": [1.5, None]}, {"s", "t", "u"}, (1, "x"), 3, b"raw"]})
    changed = pd.DataFrame({"a": [[1, 2], {"k": [1.5, 0]}, {"s", "t", "u"}, (1, "x"), 3, b"raw"]})
    assert both(df) != both(changed)
    assert digest_frame(pd.DataFrame({"a": [{"x": 1, "y": 2}]})) == digest_frame(
        pd.DataFrame({"a": [{"y": 2, "x": 1}]})
    )
    scalars = [np.int64(1), np.float32(1.0), np.datetime64("2020-01-01"), 1, 1.0]
    assert len({digest_objects([v]) for v in scalars}) == len(
        scalars
    )  # NumPy scalars by dtype and bytes
    blob = tmp_path / "frames.pkl"
    blob.write_bytes(pickle.dumps([df]))
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(blob)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.stdout.split() == list(both(df))


def test_without_pyarrow_the_python_path_is_used() -> None:
    """With pyarrow unimportable a frame of strings and categories still fingerprints, through the pure-Python path."""
    build = (
        "import pandas as pd\n"
        "df = pd.DataFrame({'s': pd.array(['a', None], dtype='string[python]'), 'c': pd.Categorical(['x', 'y']), 'n': [1, 2]})\n"
    )
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        + build
        + "from opskit.capture.hashing import digest_frame\n"
        "print(digest_frame(df))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    scope: dict[str, Any] = {}
    exec(build, scope)
    assert (
        out.stdout.strip()
        == digest_frame(scope["df"], use_arrow=False)
        != digest_frame(scope["df"])
    )
    plain = pd.DataFrame(
        {"n": [1, 2], "m": pd.array([1, None], dtype="Int64"), "c": pd.Categorical([3, 1])}
    )
    assert digest_frame(plain, use_arrow=False) == digest_frame(
        plain
    )  # no Arrow column: one digest either way


# -- NumPy arrays ------------------------------------------------------------------------------

_DTYPES = (
    hnp.scalar_dtypes()
    | hnp.byte_string_dtypes()
    | hnp.unicode_string_dtypes()
    | hnp.datetime64_dtypes()
    | hnp.timedelta64_dtypes()
)


@SETTINGS
@given(
    hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=5)), st.data()
)
def test_array_digest_is_layout_independent_and_content_sensitive(
    arr: np.ndarray, data: st.DataObject
) -> None:
    """An array's digest ignores memory layout (Fortran, strided, byte order) but not dtype, shape or any element."""
    d = digest_array(arr)
    assert digest_array(np.asfortranarray(arr)) == d
    assert (
        digest_array(np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder(">")))) == d
        or arr.dtype.byteorder == "|"
    )
    doubled = np.repeat(arr, 2, axis=0)[::2]
    assert not doubled.flags.c_contiguous and digest_array(doubled) == d
    assert digest_array(arr.reshape(-1)) != d or arr.ndim == 1
    flat = arr.reshape(-1).copy()
    i = data.draw(st.integers(0, flat.size - 1))
    other = flat.copy()
    other.view(np.uint8).reshape(flat.size, -1)[i, 0] ^= 1 if arr.dtype.itemsize else 0
    if arr.dtype.itemsize:
        assert digest_array(other) != digest_array(flat)
    assert digest_array(flat.view(np.uint8)) != digest_array(flat) or flat.dtype == np.uint8


def test_object_arrays_fingerprint_by_value() -> None:
    """Object arrays hash their values canonically: equal values equal, a changed nested value different."""
    a = np.array([{"a": 1}, [1, 2], "x", None], dtype=object)
    b = np.array([{"a": 1}, [1, 2], "x", None], dtype=object)
    c = np.array([{"a": 2}, [1, 2], "x", None], dtype=object)
    assert digest_array(a) == digest_array(b) != digest_array(c)


# -- digest strings --------------------------------------------------------------------------


def test_digests_name_their_algorithm_and_old_ones_compare_as_unknown() -> None:
    """New digests are ``xxh3_128:<32 hex>``; comparing with an old ``sha256:`` digest gives None, never a crash."""
    d = digest_array(np.arange(3))
    assert algorithm_of(d) == "xxh3_128" and len(d.split(":")[1]) == 32
    old = "sha256:" + "0" * 64
    assert (
        same_content(d, old) is None
        and same_content(old, old) is True
        and same_content(d, d) is True
    )
    assert (
        same_content(d, digest_array(np.arange(4))) is False
        and same_content("garbage", "garbage") is None
    )


def test_hook_fingerprints_with_the_new_digests(tmp_path: Path) -> None:
    """The built-in fingerprint_data hook gives xxh3-128 digests for frames, arrays, files and folders."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("hello")
    for value in (
        pd.DataFrame({"a": [1]}),
        pd.Series([1]),
        np.arange(3),
        tmp_path / "d" / "f.txt",
        tmp_path / "d",
    ):
        data = hooks.fingerprint_data("x", value)
        assert data is not None and data.digest.startswith("xxh3_128:"), value


# -- files, the stat cache and its racy rule ----------------------------------------------------


def _rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT path, size, digest FROM stat_cache").fetchall()


def test_unchanged_file_is_not_reread_by_a_new_process(tmp_path: Path, store: Path) -> None:
    """A file hashed once is found in <home>/cache/stat.db by a new process, which never reads it."""
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(3 << 20))
    digest, size = digest_file(data, clock=_later)
    assert size == 3 << 20 and len(_rows(store / "cache" / "stat.db")) == 1
    code = (
        "from pathlib import Path\nfrom opskit.capture import filecache\n"
        "def boom(path): raise AssertionError('file was read')\n"
        "filecache._hash_stream = boom\n"
        f"print(filecache.digest_file(Path({str(data)!r}))[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPSKIT_HOME": str(store)},
    )
    assert out.stdout.strip() == digest
    hooked = hooks.fingerprint_data("data", data)
    assert hooked is not None and hooked.digest == digest


def test_edits_are_detected_even_with_size_and_mtime_forced_back(tmp_path: Path) -> None:
    """An edit is seen whether the size changes, or stays equal with the old mtime put back (the ctime still moves)."""
    cache = StatCache(tmp_path / "stat.db")
    path = tmp_path / "f.txt"
    path.write_bytes(b"aaaa")
    first, _ = digest_file(path, cache, clock=_later)
    assert cache.get(os.fsencode(path), stat_key(os.stat(path))) == first
    st = os.stat(path)
    path.write_bytes(b"bbbb")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_size == st.st_size
    second, _ = digest_file(path, cache, clock=_later)
    assert second != first
    path.write_bytes(b"bbbbb")
    third, size = digest_file(path, cache, clock=_later)
    assert size == 5 and third not in (first, second)
    replaced = tmp_path / "g.txt"
    replaced.write_bytes(b"cccc")
    os.replace(replaced, path)  # a new inode at the same path
    assert digest_file(path, cache, clock=_later)[0] not in (first, second, third)


def test_racy_files_are_never_cached(tmp_path: Path) -> None:
    """A file whose mtime/ctime is within the timestamp granularity of its hashing is re-read, so a same-tick rewrite is seen."""
    cache = StatCache(tmp_path / "stat.db")
    path = tmp_path / "f.txt"
    path.write_bytes(b"aaaa")
    st = os.stat(path)
    first, _ = digest_file(path, cache)  # real clock: the file was written just now
    assert cache.get(os.fsencode(path), stat_key(st)) is None and _rows(tmp_path / "stat.db") == []
    assert not cache.put(
        os.fsencode(path), stat_key(st), first, hashed_at_ns=st.st_mtime_ns + RACY_WINDOW_NS // 2
    )
    path.write_bytes(b"bbbb")  # same size, and every timestamp forced back to the first write's
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert digest_file(path, cache)[0] != first


def test_a_file_modified_while_hashed_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the stat changes between the start and the end of the read, the digest is returned but not cached."""
    cache = StatCache(tmp_path / "stat.db")
    path = tmp_path / "f.txt"
    path.write_bytes(b"aaaa")
    real = filecache._hash_stream

    def writer(p: Path) -> str:
        digest = real(p)
        p.write_bytes(b"aaaaaa")
        return digest

    monkeypatch.setattr(filecache, "_hash_stream", writer)
    digest_file(path, cache, clock=_later)
    assert _rows(tmp_path / "stat.db") == []


def test_unusable_cache_still_gives_right_digests(tmp_path: Path) -> None:
    """A cache whose database cannot be created (its folder is a file) only falls back to memory."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    cache = StatCache(blocker / "stat.db")
    path = tmp_path / "f.txt"
    path.write_bytes(b"abc")
    first = digest_file(path, cache, clock=_later)
    assert (
        first == digest_file(path, StatCache(None), clock=_later)
        and cache.get(os.fsencode(path), stat_key(os.stat(path))) == first[0]
    )
    path.write_bytes(b"abd")
    assert digest_file(path, cache, clock=_later) == digest_file(path, StatCache(None)) != first


def test_many_processes_share_the_cache(tmp_path: Path, store: Path) -> None:
    """Four processes hashing the same folder at once agree and leave one row per file."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(30):
        (folder / f"f{i:02}.bin").write_bytes(os.urandom(1000 + i))
    code = (
        "import time\nfrom pathlib import Path\nfrom opskit.capture import filecache\n"
        f"clock = lambda: time.time_ns() + {LATER}\n"
        f"print(filecache.digest_dir(Path({str(folder)!r}), clock=clock)[0])\n"
    )
    env = {**os.environ, "OPSKIT_HOME": str(store)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1 and outs[0] == digest_dir(folder, StatCache(None))[0]
    assert len(_rows(store / "cache" / "stat.db")) == 30


def test_directory_digest_is_a_sorted_manifest(tmp_path: Path) -> None:
    """A folder's digest ignores where it is and creation order, and changes with a rename, an added file or an edit."""
    cache = StatCache(None)
    a, b = tmp_path / "a", tmp_path / "b"
    for root, names in ((a, ["x", "sub/y", "z"]), (b, ["z", "sub/y", "x"])):
        for name in names:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(name)
    base, size = digest_dir(a, cache)
    assert digest_dir(b, cache)[0] == base and size == 1 + 5 + 1
    (b / "z").rename(b / "w")
    assert digest_dir(b, cache)[0] != base
    (a / "empty").write_bytes(b"")
    assert digest_dir(a, cache)[0] != base
    (a / "empty").unlink()
    assert digest_dir(a, cache)[0] == base
    (a / "x").write_text("X")
    assert digest_dir(a, cache)[0] != base
