"""Drift at scale: a dask DataFrame on a real dask.distributed LocalCluster, and a Parquet directory streamed in one bounded pass."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.errors import ColumnNotFound, InvalidDataset
from opskit.monitor import data as data_module

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def wine(n: int, seed: int, *, shift: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    """Three numeric columns (one integer, one with missing values) and one categorical."""
    rng = np.random.default_rng(seed)
    sulphates = rng.gamma(4.0, 0.15, size=n)
    sulphates[rng.random(n) < 0.05 + missing] = np.nan
    return pd.DataFrame(
        {
            "alcohol": rng.normal(10.4 + shift, 1.1, size=n),
            "quality": rng.integers(3, 9, size=n),
            "colour": rng.choice(["red", "white", "rose"], size=n, p=[0.5, 0.4, 0.1]),
            "sulphates": sulphates,
        }
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A dask.distributed client on a LocalCluster of two worker processes bound to 127.0.0.1."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def write_parts(frame: pd.DataFrame, folder: Path, parts: int, row_group_size: int) -> None:
    folder.mkdir()
    for i, idx in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(
            pa.Table.from_pandas(frame.iloc[idx], preserve_index=False),
            folder / f"part-{i:03d}.parquet",
            row_group_size=row_group_size,
        )


def test_dask_current_on_a_local_cluster_equals_the_streamed_parquet_result(
    client: Any, tmp_path: Path
) -> None:
    """drift(current=<dask DataFrame>) runs on the cluster's workers and gives exactly the Parquet-streamed report; verdicts match in memory."""
    import dask.dataframe as dd

    ref = wine(40_000, 1)
    cur = wine(60_000, 2, shift=0.25, missing=0.08)
    write_parts(cur, tmp_path / "live", parts=6, row_group_size=5000)
    ddf = dd.read_parquet(str(tmp_path / "live"))
    assert ddf.npartitions >= 6
    for reference in (ref, opskit.monitor.profile(ref)):
        distributed = opskit.monitor.drift(reference, ddf)
        streamed = opskit.monitor.drift(reference, tmp_path / "live")
        in_memory = opskit.monitor.drift(reference, cur)
        assert distributed.n_current == streamed.n_current == 60_000
        assert distributed.current_source == "current dask DataFrame"
        for name in ref.columns:
            d, s = distributed.columns[name], streamed.columns[name]
            # The same bins and counts: KS, PSI and shares exactly equal; per-bin sums are
            # added in another order, so Wasserstein agrees to rounding.
            assert d.statistics == pytest.approx(s.statistics, rel=1e-12, abs=0), name
            for key in ("ks", "psi", "missing_share_current", "chisquare", "jensenshannon"):
                assert d.statistics.get(key) == s.statistics.get(key), (name, key)
            assert (d.drifted, d.method) == (s.drifted, s.method)
        assert distributed.drifted_columns == in_memory.drifted_columns == ["alcohol", "sulphates"]
        for name in ("alcohol", "sulphates"):
            d, m = distributed.columns[name].statistics, in_memory.columns[name].statistics
            assert abs(d["ks"] - m["ks"]) <= 1 / 2000, name  # the documented sketch error
            assert d["missing_share_current"] == m["missing_share_current"], name
        assert distributed.columns["colour"].statistics == pytest.approx(
            in_memory.columns["colour"].statistics
        )
    # The work ran on the cluster: its scheduler saw the summary tasks.
    prefixes = client.run_on_scheduler(_task_prefixes)
    assert any("summarise" in str(key) for key in prefixes), prefixes


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.task_prefixes)


def test_dask_current_from_pandas_partitions_matches_in_memory_verdicts(client: Any) -> None:
    """A dask frame built from pandas (many partitions, tree-reduced) has the in-memory verdicts and exact counts."""
    import dask.dataframe as dd

    ref, cur = wine(20_000, 3), wine(30_000, 4, shift=0.3)
    ddf = dd.from_pandas(cur, npartitions=20)  # more than one reduction level (fan-in 8)
    report = opskit.monitor.drift(ref, ddf)
    in_memory = opskit.monitor.drift(ref, cur)
    assert report.drifted_columns == in_memory.drifted_columns
    assert report.columns["quality"].statistics["ks"] == pytest.approx(
        in_memory.columns["quality"].statistics["ks"], abs=1e-12
    )  # few distinct values: every value is a bin edge, exact
    assert report.columns["colour"].statistics == pytest.approx(
        in_memory.columns["colour"].statistics
    )


def test_dask_errors_are_clear_and_dask_is_not_a_reference(client: Any) -> None:
    """A missing column, a kind mismatch and a dask reference are clear errors naming the column or what to do."""
    import dask.dataframe as dd

    ref = wine(2000, 5)
    cur = wine(2000, 6)
    with pytest.raises(ColumnNotFound, match="'colour'"):
        opskit.monitor.drift(ref, dd.from_pandas(cur.drop(columns="colour"), npartitions=2))
    cur["quality"] = cur["quality"].astype(str)
    with pytest.raises(InvalidDataset, match="'quality' is numeric in the reference"):
        opskit.monitor.drift(ref, dd.from_pandas(cur, npartitions=2))
    with pytest.raises(InvalidDataset, match="current= data only"):
        opskit.monitor.drift(dd.from_pandas(ref, npartitions=2), ref)


def test_parquet_directory_larger_than_the_memory_cap_streams_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 1,000-row batches over 120,000 rows, every row is read once and at most one batch is alive at a time."""
    cur = wine(120_000, 7, shift=0.25)
    write_parts(cur, tmp_path / "big", parts=8, row_group_size=3000)
    monkeypatch.setattr(data_module, "BATCH_ROWS", 1000)  # the memory cap, simulated
    alive: list[weakref.ref[Any]] = []
    peak = 0
    batches = 0
    original = data_module._batches

    def spy(dataset: Any, names: Any, batch_size: int) -> Any:
        nonlocal peak, batches
        assert batch_size == 1000
        for batch in original(dataset, names, batch_size):
            gc.collect()
            alive[:] = [r for r in alive if r() is not None]
            alive.append(weakref.ref(batch))
            peak = max(peak, len(alive))
            batches += 1
            assert batch.num_rows <= 1000
            yield batch
            del batch

    monkeypatch.setattr(data_module, "_batches", spy)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read the whole directory"))
    report = opskit.monitor.drift(wine(20_000, 8), tmp_path / "big")
    assert report.n_current == 120_000 and batches >= 120
    assert peak == 1
    assert report.drifted_columns == opskit.monitor.drift(wine(20_000, 8), cur).drifted_columns


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan"))),
        min_size=1,
        max_size=300,
    ),
    labels=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=300, max_size=300),
    npartitions=st.integers(1, 30),
)
def test_dask_result_does_not_depend_on_the_partitioning(
    values: list[float], labels: list[str | None], npartitions: int
) -> None:
    """However the rows are split into partitions (tree-reduced), the summary equals the one-partition summary."""
    import dask
    import dask.dataframe as dd

    from opskit.monitor.data import stream_dask

    frame = pd.DataFrame(
        {"x": np.asarray(values, dtype=np.float64), "c": pd.Series(labels[: len(values)])}
    )
    ref = np.unique(np.random.default_rng(0).normal(0, 1e5, size=50))
    kinds = {"x": "numeric", "c": "categorical"}
    with dask.config.set(scheduler="synchronous"):
        one = stream_dask(dd.from_pandas(frame, npartitions=1), ["x", "c"], kinds, {"x": ref})
        many = stream_dask(
            dd.from_pandas(frame, npartitions=npartitions), ["x", "c"], kinds, {"x": ref}
        )
    assert one.rows == many.rows == len(values)
    x1, xm = one.column("x"), many.column("x")
    assert x1.missing == xm.missing == int(np.isnan(frame["x"]).sum())
    assert x1.data.n == xm.data.n
    np.testing.assert_array_equal(x1.data.weights, xm.data.weights)  # type: ignore[union-attr]
    np.testing.assert_allclose(x1.data.values, xm.data.values, rtol=1e-9, atol=1e-6)
    c1, cm = one.column("c"), many.column("c")
    assert c1.data.counts == cm.data.counts  # type: ignore[union-attr]
    assert c1.missing == cm.missing == frame["c"].isna().sum()
