"""One report whatever form the current data takes: in memory (pandas, Arrow), streamed Parquet, or dask.

Streamed data is binned on the reference's values; these properties check that the binning
changes nothing a user can see, except the Wasserstein distance, which stays within the
bound docs/monitoring.md states.
"""

from __future__ import annotations

import datetime
import decimal
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.errors import InvalidDataset
from opskit.monitor import detect
from opskit.monitor.data import ColumnBinner
from opskit.monitor.stats import NumericData

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

#: Statistics that must not depend on how the current data was read.
EXACT = (
    "ks",
    "ks_p_value",
    "psi",
    "chisquare",
    "chisquare_p_value",
    "jensenshannon",
    "missing_share_reference",
    "missing_share_current",
    "missing_share_change",
    "missing_share_p_value",
)


def frame(
    seed: int,
    n: int,
    *,
    shift: float,
    decimals: int | None,
    missing: float,
    infinite: float = 0.0,
) -> pd.DataFrame:
    """Numeric columns (float with ties, int, nullable Int64) and categorical ones of several value types (str, string, bool, datetime with and without a zone, date, pandas Categorical)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    if decimals is not None:
        x = np.round(x, decimals)  # ties inside each side and between the two sides
    gaps = rng.random(n) < missing
    gaps[0] = False  # every column has a value (a reference column with none is refused)
    x[gaps] = np.nan
    x[(rng.random(n) < infinite) & ~gaps] = rng.choice([-np.inf, np.inf])
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D")
    nullable = pd.array(rng.integers(0, 5, n), dtype="Int64")
    nullable[gaps] = pd.NA
    text = pd.array(rng.choice(["a", "b", "c"], n), dtype="string")
    text[gaps[::-1] & (np.arange(n) > 0)] = pd.NA
    return pd.DataFrame(
        {
            "nullable": nullable,
            "text": text,
            "utc": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3, n), unit="h"),
            "date": [datetime.date(2024, 1, 1 + int(k)) for k in rng.integers(0, 3, n)],
            "x": x,
            "count": rng.integers(0, 4 + int(shift * 3), n),
            "flag": rng.random(n) < 0.5 + shift / 4,
            "colour": rng.choice(["red", "white", "rosé"], n),
            "day": day,
            "level": pd.Categorical(rng.choice(["low", "mid", "high"], n)),
        }
    )


def as_parquet(data: pd.DataFrame, folder: Path, *, files: int = 1) -> Path:
    """*data* written as *files* Parquet files in *folder* (with a non-default pandas index)."""
    folder.mkdir()
    shuffled = data.set_axis(np.arange(len(data))[::-1] + 7)  # a stored index is not a feature
    for i, part in enumerate(np.array_split(np.arange(len(data)), files)):
        shuffled.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    return folder


def assert_same(a: opskit.monitor.DriftReport, b: opskit.monitor.DriftReport) -> None:
    """Every statistic equal to 1e-9; Wasserstein within its binning bound; same columns."""
    assert list(a.columns) == list(b.columns)
    assert a.ignored_columns == b.ignored_columns
    assert a.n_current == b.n_current
    for name, col in a.columns.items():
        other = b.columns[name]
        assert (col.method, col.n_current, col.missing_drifted) == (
            other.method,
            other.n_current,
            other.missing_drifted,
        ), name
        for key in EXACT:
            if key in col.statistics:
                assert other.statistics[key] == pytest.approx(
                    col.statistics[key], rel=1e-9, abs=1e-12
                ), (name, key)


def wasserstein_bound(reference: pd.Series, current: pd.Series) -> float:
    """Σ over the open intervals between consecutive reference values (and ±inf) of the spread of the current values inside × their share."""
    edges = np.union1d(reference.dropna().to_numpy(dtype=float), [-np.inf, np.inf])
    values = current.dropna().to_numpy(dtype=float)
    inside = values[~np.isin(values, edges)]
    if inside.size == 0:
        return 0.0
    bins = pd.Series(inside).groupby(np.searchsorted(edges, inside))
    return float((bins.max() - bins.min()).mul(bins.size()).sum() / values.size)


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_ref=st.integers(1, 150),
    n_cur=st.integers(1, 150),
    shift=st.sampled_from([0.0, 0.3, 1.0]),
    decimals=st.sampled_from([None, 0, 1]),
    missing=st.sampled_from([0.0, 0.2]),
    infinite=st.sampled_from([0.0, 0.0, 0.05]),
    files=st.integers(1, 3),
)
def test_parquet_arrow_dask_and_pandas_currents_give_one_report(
    seed: int,
    n_ref: int,
    n_cur: int,
    shift: float,
    decimals: int | None,
    missing: float,
    infinite: float,
    files: int,
) -> None:
    """KS (statistic and p-value), PSI, chi-square, Jensen-Shannon and missing shares are equal in memory, streamed and on dask; Wasserstein within its bound."""
    import dask
    import dask.dataframe as dd

    reference = frame(seed, n_ref, shift=0.0, decimals=decimals, missing=missing / 2)
    current = frame(
        seed + 1, n_cur, shift=shift, decimals=decimals, missing=missing, infinite=infinite
    )
    if seed % 2:  # infinite values on the reference side too
        reference = frame(
            seed, n_ref, shift=0.0, decimals=decimals, missing=missing / 2, infinite=infinite
        )
    in_memory = opskit.monitor.drift(reference, current)
    with tempfile.TemporaryDirectory() as tmp:
        folder = as_parquet(current, Path(tmp) / "live", files=min(files, n_cur))
        streamed = opskit.monitor.drift(reference, folder)
        arrow = opskit.monitor.drift(reference, pq.read_table(folder))
        read_back = opskit.monitor.drift(reference, pd.read_parquet(folder))
    with dask.config.set(scheduler="synchronous"):
        on_dask = opskit.monitor.drift(
            reference, dd.from_pandas(current, npartitions=min(files, n_cur))
        )
    for other in (streamed, arrow, read_back, on_dask):
        assert_same(in_memory, other)
    exact_w = in_memory.columns["x"].statistics.get("wasserstein_raw")
    if exact_w is not None:
        bound = wasserstein_bound(reference["x"], current["x"])
        for other in (streamed, on_dask):
            got = other.columns["x"].statistics["wasserstein_raw"]
            if math.isinf(exact_w):  # different shares of ±inf: infinite in every form
                assert got == exact_w
            else:
                assert abs(got - exact_w) <= bound * (1 + 1e-9) + 1e-9
        assert arrow.columns["x"].statistics["wasserstein_raw"] == pytest.approx(exact_w)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), n_cur=st.integers(1, 400), shift=st.sampled_from([0, 1]))
def test_streamed_current_against_a_profile_equals_in_memory(
    seed: int, n_cur: int, shift: int
) -> None:
    """Against a stored profile (a sketch of 2,000 points), the streamed current gives the in-memory statistics."""
    reference = frame(seed, 5_000, shift=0.0, decimals=None, missing=0.1)
    profile = opskit.monitor.profile(reference)
    current = frame(seed + 1, n_cur, shift=float(shift), decimals=2, missing=0.1)
    in_memory = opskit.monitor.drift(profile, current)
    with tempfile.TemporaryDirectory() as tmp:
        streamed = opskit.monitor.drift(profile, as_parquet(current, Path(tmp) / "live"))
    assert_same(in_memory, streamed)


def test_ks_of_a_large_reference_is_within_one_over_the_edge_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With more distinct reference values than STREAM_EDGES, the streamed KS is within 1 / (STREAM_EDGES - 1) of the exact one."""
    monkeypatch.setattr(detect, "STREAM_EDGES", 50)
    rng = np.random.default_rng(5)
    worst = 0.0
    for trial in range(20):
        reference = pd.DataFrame({"x": rng.normal(0, 1, 3_000)})
        current = pd.DataFrame({"x": rng.normal(rng.uniform(-0.3, 0.3), 1, 400)})
        path = tmp_path / f"live-{trial}.parquet"
        current.to_parquet(path)
        exact = opskit.monitor.drift(reference, current).columns["x"].statistics["ks"]
        streamed = opskit.monitor.drift(reference, path).columns["x"].statistics["ks"]
        worst = max(worst, abs(streamed - exact))
    assert worst <= 1 / 49
    assert worst > 0  # the bins really were coarser than the data here


def test_binned_column_cdf_is_exact_at_and_just_below_every_edge() -> None:
    """ColumnBinner keeps values equal to an edge apart from those below it: the CDF is exact on both sides of each edge."""
    edges = np.array([1.0, 2.0, 3.0])
    values = np.array([0.5, 1.0, 1.0, 1.5, 2.0, 2.9, 3.0, 3.0, 7.0, np.nan])
    binner = ColumnBinner(edges, all_reference_values=True)
    binner.add(values[:4])
    binner.add(values[4:])
    data = binner.data()
    raw = NumericData.from_values(values)
    points = np.concatenate((edges, np.nextafter(edges, -np.inf)))
    assert np.array_equal(data.cdf(points), raw.cdf(points))
    assert (binner.missing, data.n, data.exact_on_reference) == (1, 9, True)
    assert float(np.dot(data.values, data.weights)) == pytest.approx(float(np.nansum(values)))


def test_decimal_and_float_columns_compare_as_numbers_in_every_form(tmp_path: Path) -> None:
    """A Parquet decimal column (read by pandas as Decimal objects) is numeric in memory, streamed and from Arrow alike."""
    rng = np.random.default_rng(3)
    prices = [decimal.Decimal(f"{v:.2f}") for v in rng.uniform(1, 9, 200)]
    table = pa.table({"price": pa.array(prices, pa.decimal128(6, 2))})
    path = tmp_path / "prices.parquet"
    pq.write_table(table, path)
    reference = pd.DataFrame({"price": rng.uniform(1, 9, 300)})
    reports = [
        opskit.monitor.drift(reference, current) for current in (path, pd.read_parquet(path), table)
    ]
    assert {r.columns["price"].kind for r in reports} == {"numeric"}
    assert_same(reports[1], reports[0])
    assert_same(reports[1], reports[2])


def test_a_stored_pandas_index_is_never_a_feature(tmp_path: Path) -> None:
    """Parquet written from a frame with a non-default or named index: the index is not compared, in any role."""
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"x": rng.normal(size=120), "c": rng.choice(["a", "b"], 120)})
    unnamed = data.set_axis(rng.permutation(120) + 500)
    named = unnamed.rename_axis("request")
    for i, variant in enumerate((unnamed, named)):
        path = tmp_path / f"v{i}.parquet"
        variant.to_parquet(path)
        assert pq.read_schema(path).names[-1] in {"__index_level_0__", "request"}
        arrow = pa.Table.from_pandas(variant)
        for reference, current in ((data, path), (path, data), (arrow, data), (data, arrow)):
            report = opskit.monitor.drift(reference, current)
            assert list(report.columns) == ["x", "c"]
            assert report.ignored_columns == ()
        assert list(opskit.monitor.profile(path).columns) == ["x", "c"]


def test_partitioned_parquet_directory_has_its_partition_columns_streamed(tmp_path: Path) -> None:
    """A directory written with partition_cols streams with its key=value columns, as pandas reads it."""
    rng = np.random.default_rng(6)
    data = pd.DataFrame(
        {"x": rng.normal(size=300), "region": rng.choice(["eu", "us"], 300, p=[0.7, 0.3])}
    )
    data.to_parquet(tmp_path / "live", partition_cols=["region"])
    reference = pd.read_parquet(tmp_path / "live")
    streamed = opskit.monitor.drift(data, tmp_path / "live")
    assert_same(opskit.monitor.drift(data, reference), streamed)
    assert streamed.columns["region"].statistics["chisquare"] == pytest.approx(0.0, abs=1e-12)


def test_uncountable_values_are_refused_with_the_column_named(tmp_path: Path) -> None:
    """A column of lists cannot be a category: InvalidDataset names it, in memory and streamed."""
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "tags": [["a"], ["b"], ["a", "b"]]})
    path = tmp_path / "tags.parquet"
    data.to_parquet(path)
    for reference, current in ((data, data), (data, path), (path, data)):
        with pytest.raises(InvalidDataset, match="'tags'.*columns="):
            opskit.monitor.drift(reference, current)
    assert opskit.monitor.drift(data, path, columns=["x"]).columns["x"].kind == "numeric"
