"""Dataset encodings: every pandas dtype family round-trips exactly through Parquet, arrays through
.npy (no pickle), and what cannot be stored exactly is refused with a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import opskit
from test_fingerprints import COLUMNS, FAMILIES, frames

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Parquet has no complex numbers: such columns are refused (see test_complex_columns_are_refused).
STORABLE = [f for f in FAMILIES if f != "complex128"]


def _has_complex(df: pd.DataFrame) -> bool:
    return any(getattr(dtype, "kind", "") == "c" for dtype in df.dtypes)


@SETTINGS
@given(frames(), st.data())
def test_every_dtype_family_round_trips_exactly(df: pd.DataFrame, data: st.DataObject) -> None:
    """load_data(log_data(df)) equals df: dtypes, index (range, ints, MultiIndex rows), categories and order, NAs, tz, objects."""
    assume(not _has_complex(df))
    if data.draw(st.booleans()):  # pandas 3 builds text columns as `str`: add a real object one
        cells = data.draw(
            st.lists(st.none() | st.text(max_size=4), min_size=len(df), max_size=len(df))
        )
        df["objects"] = pd.Series(cells, index=df.index, dtype=object)
    version = opskit.log_data("frame", df)
    back = opskit.load_data(version.ref)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert [str(t) for t in back.dtypes] == [str(t) for t in df.dtypes]
    assert type(back.index) is type(df.index) and back.index.names == df.index.names


@SETTINGS
@given(
    st.sampled_from(STORABLE).flatmap(lambda fam: st.integers(0, 5).flatmap(COLUMNS[fam])),
    st.none() | st.text(max_size=5) | st.integers(-3, 3),
    st.sampled_from(["range", "named-strings", "dates"]),
)
def test_series_round_trip_with_name_and_index(values: Any, name: Any, index: str) -> None:
    """A Series comes back a Series with its name, dtype and index (named, non-range, datetime)."""
    series = pd.Series(values, name=name)
    n = len(series)
    if index == "named-strings":
        series.index = pd.Index([f"r{i}" for i in range(n)], name="row")
    elif index == "dates":
        series.index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="day")
    back = opskit.load_data(opskit.log_data("series", series))
    pd.testing.assert_series_equal(back, series, check_exact=True)


_ARRAY_DTYPES = st.sampled_from(
    ["<i8", ">i4", "u1", "<f4", ">f8", "?", "<c16", "<M8[ns]", "<m8[s]", "U3", "S2"]
)


@SETTINGS
@given(hnp.arrays(_ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_arrays_round_trip_through_npy(arr: np.ndarray) -> None:
    """Arrays of every fixed dtype (byte order and shape included, 0-d too) come back identical."""
    version = opskit.log_data("array", arr)
    assert version.format == "npy"
    back = opskit.load_data(version.ref)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert back.tobytes() == arr.tobytes()


def test_categories_keep_unused_values_order_and_non_string_types() -> None:
    """Unused categories, their order, the ordered flag and integer categories survive (Parquet alone drops them)."""
    df = pd.DataFrame(
        {
            "grade": pd.Categorical([3, None, 1], categories=[3, 1, 2], ordered=True),
            "color": pd.Categorical(["b", "b", None], categories=["z", "b", "a"]),
        }
    )
    back = opskit.load_data(opskit.log_data("cats", df))
    pd.testing.assert_frame_equal(back, df)
    assert list(back["grade"].cat.categories) == [3, 1, 2] and back["grade"].cat.ordered
    assert list(back["color"].cat.categories) == ["z", "b", "a"]


def test_complex_columns_are_refused() -> None:
    """A complex column cannot go to Parquet: UnsupportedData names the dataset and says nothing was stored."""
    df = pd.DataFrame({"z": np.array([1 + 2j, 3j])})
    with pytest.raises(opskit.UnsupportedData, match=r"dataset 'cplx'.*Nothing was stored"):
        opskit.log_data("cplx", df)
    assert opskit.data.list_datasets() == []


def test_duplicate_and_series_name_refusals() -> None:
    """Duplicate column names and Series named by a tuple are refused with what to do."""
    dupes = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(opskit.UnsupportedData, match="duplicate column names"):
        opskit.log_data("d", dupes)
    with pytest.raises(opskit.UnsupportedData, match=r"Series named \('a', 1\)"):
        opskit.log_data("s", pd.Series([1], name=("a", 1)))


def test_stored_parquet_loads_with_plain_pandas_without_opskit(store: Path) -> None:
    """The blob of a frame is a Parquet file pandas reads with no opskit and no pickle."""
    df = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "s": pd.array(["a", None], dtype="string"),
            "t": pd.to_datetime(["2024-01-01", "2024-06-01"]).tz_localize("America/New_York"),
            "c": pd.Categorical(["x", "y"]),
        },
        index=pd.Index([10, 20], name="id"),
    )
    version = opskit.log_data("plain", df)
    hexdigest = version.blob.split(":", 1)[1]
    blob = store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    expected = tmp = store.parent / "expected.pkl"
    df.to_pickle(
        tmp
    )  # only the test compares through pickle; the reader below never unpickles the blob
    code = (
        "import sys, pandas as pd\n"
        f"df = pd.read_parquet({str(blob)!r})\n"
        f"pd.testing.assert_frame_equal(df, pd.read_pickle({str(expected)!r}))\n"
        "assert not any(m.startswith('opskit') for m in sys.modules), 'opskit was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_log_data_keeps_pandas_out_of_import() -> None:
    """Importing opskit.data imports neither pandas nor pyarrow (they load when data is logged)."""
    code = (
        "import sys, opskit, opskit.data\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_duplicate_column_frames_are_still_fingerprinted() -> None:
    """A frame with duplicate column names is a data input of a run (its schema lists both columns)."""

    @opskit.track
    def fit(df: pd.DataFrame) -> None:
        pass

    fit(pd.DataFrame([[1, 2.5]], columns=["a", "a"]))
    run = opskit.last_run()
    assert run is not None
    (data,) = run.inputs
    assert data.schema is not None and [c.type for c in data.schema.columns] == ["int64", "float64"]


def test_object_columns_and_index_stay_object() -> None:
    """Object columns (strings with None, lists) and an object index come back as object, not pandas' str dtype."""
    df = pd.DataFrame(
        {
            "o": pd.Series(np.array(["a", None, "c"], dtype=object), dtype=object),
            "t": pd.Series(["x", "y", None], dtype="str"),
            "lists": pd.Series([[1], [2, 3], None], dtype=object),
        }
    )
    df.index = pd.Index(np.array(["r1", "r2", "r3"], dtype=object), dtype=object, name="row")
    back = opskit.load_data(opskit.log_data("objects", df))
    pd.testing.assert_frame_equal(back, df)
    assert back["o"].dtype == object and back.index.dtype == object
    assert back["o"].tolist() == ["a", None, "c"] and back["lists"].tolist() == [[1], [2, 3], None]
    series = pd.Series(np.array(["p", None], dtype=object), dtype=object, name="s")
    pd.testing.assert_series_equal(opskit.load_data(opskit.log_data("s", series)), series)


def test_nan_in_an_object_column_is_refused_not_changed() -> None:
    """NaN in an object column would come back as None: refused, naming the column."""
    df = pd.DataFrame({"o": pd.Series(["a", np.nan], dtype=object)})
    with pytest.raises(opskit.UnsupportedData, match=r"column\(s\) 'o' \(values \(NaN and None"):
        opskit.log_data("nan", df)


def test_large_values_go_through_a_temp_file_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    """Above the in-memory limit, encoding and loading go through temp files: same blobs, same data, same checks."""
    from opskit.data import formats

    df = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "c": pd.Categorical(["x", "y"])})
    arr = np.arange(6, dtype="<f4").reshape(2, 3)
    small = (opskit.log_data("f", df), opskit.log_data("a", arr))
    monkeypatch.setattr(formats, "IN_MEMORY_BYTES", 0)
    pd.testing.assert_frame_equal(opskit.load_data("f"), df)
    assert np.array_equal(opskit.load_data("a"), arr)
    changed = df.assign(a=pd.array([2, None], dtype="Int64"))
    version = opskit.log_data("f", changed)
    assert version.version == 2
    pd.testing.assert_frame_equal(opskit.load_data("f:2"), changed)
    assert opskit.log_data("g", df).blob == small[0].blob  # the same bytes either way
    with pytest.raises(opskit.UnsupportedData, match="MultiIndex"):
        opskit.log_data("m", pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("a", "b")])))
    hexdigest = version.blob.split(":", 1)[1]
    blob = store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    blob.chmod(0o644)
    blob.write_bytes(b"x" + blob.read_bytes()[1:])
    with pytest.raises(opskit.BlobCorrupted):
        opskit.load_data("f:2")
