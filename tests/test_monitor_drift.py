"""opskit.monitor.drift(): the report, the default rule, profiles, Parquet streaming, plugins, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import opskit
from opskit.monitor import DriftReport, ReferenceProfile
from opskit.monitor.methods import drift_methods
from opskit.plugins import create_plugin_manager, get_plugin_manager

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def wine(n: int, seed: int, *, shift: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    """A wine-like frame: three numeric columns (one integer), one categorical, one with missing values."""
    rng = np.random.default_rng(seed)
    sulphates = rng.gamma(4.0, 0.15, size=n)
    sulphates[rng.random(n) < 0.05 + missing] = np.nan
    return pd.DataFrame(
        {
            "alcohol": rng.normal(10.4 + shift, 1.1, size=n),
            "acidity": rng.lognormal(2.0, 0.2, size=n),
            "quality": rng.integers(3, 9, size=n),
            "colour": rng.choice(["red", "white", "rose"], size=n, p=[0.5, 0.4, 0.1]),
            "sulphates": sulphates,
        }
    )


def test_issue_example_reports_per_column_and_dataset_drift() -> None:
    """The issue's example: drifted, share_drifted, per-column statistic/p_value/method, to_dict, HTML."""
    X_train, live_df = wine(2000, 1), wine(2000, 2, shift=1.0)
    report = opskit.monitor.drift(reference=X_train, current=live_df)
    assert isinstance(report, DriftReport)
    col = report.columns["alcohol"]
    assert col.drifted and col.method == "wasserstein" and col.p_value is None
    assert col.statistic == pytest.approx(1.0 / 1.1, rel=0.1)  # a 1.0 shift in units of σ=1.1
    assert col.statistics["ks_p_value"] < 1e-10
    expected = stats.ks_2samp(X_train["alcohol"], live_df["alcohol"])
    assert col.statistics["ks"] == pytest.approx(expected.statistic, abs=1e-12)
    assert report.drifted_columns == ["alcohol"]
    assert report.share_drifted == pytest.approx(1 / 5)
    assert report.drifted is False  # 1 of 5 < default drift_share 0.5
    assert opskit.monitor.drift(X_train, live_df, drift_share=0.2).drifted is True
    plain = report.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert plain["columns"]["alcohol"]["drifted"] is True and plain["share_drifted"] == 0.2
    html = report._repr_html_()
    assert "<table>" in html and "alcohol" in html and "DRIFT" in html
    assert "alcohol" in report.summary() and "1/5 columns drifted" in report.summary()


def test_small_samples_report_the_test_and_catch_a_real_shift() -> None:
    """With 300 rows the headline is the KS / chi-square test; a half-σ shift and a new mix are caught."""
    ref = wine(300, 3)
    cur = wine(300, 4, shift=0.6)
    rng = np.random.default_rng(5)
    cur["colour"] = rng.choice(["red", "white", "rose"], size=300, p=[0.2, 0.4, 0.4])
    report = opskit.monitor.drift(ref, cur)
    assert report.columns["alcohol"].method == "ks" and report.columns["alcohol"].drifted
    assert report.columns["colour"].method == "chisquare" and report.columns["colour"].drifted
    assert report.columns["alcohol"].threshold == pytest.approx(
        0.01 / 10
    )  # alpha / (2 · 5 columns)
    assert not report.columns["acidity"].drifted


@pytest.mark.parametrize("seed", range(10))
def test_same_distribution_small_sample_flags_nothing(seed: int) -> None:
    """Two 300-row samples of one distribution: no column is flagged at the defaults (10 seeds)."""
    report = opskit.monitor.drift(wine(300, 100 + seed), wine(300, 200 + seed))
    assert report.drifted_columns == [], report.summary()


def test_same_distribution_large_sample_flags_nothing() -> None:
    """Two 1,000,000-row samples of one distribution: no column is flagged at the defaults."""
    report = opskit.monitor.drift(wine(1_000_000, 11), wine(1_000_000, 12))
    assert report.drifted_columns == [], report.summary()
    # Here the p-values alone would decide nothing useful: they are uniform under no drift,
    # so the distance is what keeps the report quiet.
    assert all(c.method in {"wasserstein", "jensenshannon"} for c in report.columns.values())


def test_large_sample_small_real_shift_is_caught() -> None:
    """At 200,000 rows a 0.2σ shift and a 10-point jump in missing values are flagged."""
    ref = wine(200_000, 21)
    cur = wine(200_000, 22, missing=0.10)
    cur["alcohol"] = cur["alcohol"] + 0.22
    report = opskit.monitor.drift(ref, cur)
    assert report.columns["alcohol"].drifted and not report.columns["alcohol"].missing_drifted
    assert report.columns["sulphates"].drifted and report.columns["sulphates"].missing_drifted
    assert report.columns["sulphates"].statistics["missing_share_change"] == pytest.approx(
        0.10, abs=0.01
    )


def test_methods_and_thresholds_override_per_column_and_kind() -> None:
    """methods= / thresholds= choose the deciding statistic per column or per kind, used as given."""
    ref, cur = wine(3000, 31), wine(3000, 32, shift=0.3)
    report = opskit.monitor.drift(
        ref,
        cur,
        methods={"alcohol": "psi", "categorical": "psi"},
        thresholds={"alcohol": 5.0, "acidity": 0.5},
    )
    alcohol = report.columns["alcohol"]
    assert (
        alcohol.method == "psi"
        and alcohol.threshold == 5.0
        and not alcohol.drifted
        and alcohol.guard is None
    )
    assert alcohol.statistic == alcohol.statistics["psi"] > 0.05
    assert report.columns["colour"].method == "psi"
    assert report.columns["acidity"].threshold == 0.5
    ks_only = opskit.monitor.drift(ref, cur, methods={"numeric": "ks"})
    assert (
        ks_only.columns["alcohol"].method == "ks" and ks_only.columns["alcohol"].threshold == 0.05
    )


def test_bad_input_raises_clear_errors() -> None:
    """Unknown column/method, mismatched kinds, empty data: OpskitError subclasses naming the value."""
    ref, cur = wine(200, 41), wine(200, 42)
    with pytest.raises(opskit.errors.ColumnNotFound, match="'nope'"):
        opskit.monitor.drift(ref, cur, columns=["nope"])
    with pytest.raises(opskit.errors.ColumnNotFound, match="'alcohol'.*columns="):
        opskit.monitor.drift(ref, cur.drop(columns=["alcohol"]))
    with pytest.raises(opskit.errors.ColumnNotFound, match="'alcohl'"):
        opskit.monitor.drift(ref, cur, methods={"alcohl": "psi"})
    with pytest.raises(
        opskit.errors.UnknownDriftMethod, match="'kolmogorov'.*ks, psi, wasserstein"
    ):
        opskit.monitor.drift(ref, cur, methods={"alcohol": "kolmogorov"})
    with pytest.raises(
        opskit.errors.UnknownDriftMethod, match="'chisquare'.*does not apply to numeric"
    ):
        opskit.monitor.drift(ref, cur, methods={"alcohol": "chisquare"})
    bad = cur.assign(alcohol=cur["alcohol"].astype(str) + "%")
    with pytest.raises(
        opskit.errors.InvalidDataset, match="'alcohol' is numeric in the reference but categorical"
    ):
        opskit.monitor.drift(ref, bad)
    with pytest.raises(opskit.errors.InvalidDataset, match="no rows"):
        opskit.monitor.drift(ref, cur.iloc[:0])
    with pytest.raises(opskit.errors.InvalidDataset, match="no rows"):
        opskit.monitor.drift(ref.iloc[:0], cur)
    with pytest.raises(opskit.errors.InvalidDataset, match="'sulphates' has no non-missing"):
        opskit.monitor.drift(ref.assign(sulphates=np.nan), cur)
    with pytest.raises(opskit.errors.InvalidDataset, match="list"):
        opskit.monitor.drift([1, 2, 3], cur)
    assert issubclass(opskit.errors.ColumnNotFound, opskit.OpskitError)
    assert issubclass(opskit.errors.InvalidDataset, ValueError)


def test_all_missing_current_column_is_flagged_by_its_missing_share() -> None:
    """A column that arrives all-null is compared on its missing share and flagged."""
    ref, cur = wine(500, 51), wine(500, 52)
    cur["acidity"] = np.nan
    col = opskit.monitor.drift(ref, cur).columns["acidity"]
    assert col.drifted and col.missing_drifted and math.isnan(col.statistic)


def test_extra_current_columns_are_listed_not_dropped_silently() -> None:
    """Columns only in the current data are reported as ignored."""
    ref, cur = wine(300, 61), wine(300, 62).assign(prediction=1.0)
    report = opskit.monitor.drift(ref, cur)
    assert report.ignored_columns == ("prediction",) and "prediction" not in report.columns


def test_arrow_tables_and_mappings_are_accepted() -> None:
    """pyarrow Tables and dicts of columns give the same statistics as the DataFrame."""
    ref, cur = wine(400, 71), wine(400, 72, shift=0.5)
    base = opskit.monitor.drift(ref, cur)
    arrow = opskit.monitor.drift(pa.Table.from_pandas(ref), pa.Table.from_pandas(cur))
    mapping = opskit.monitor.drift({c: ref[c].to_numpy() for c in ref}, cur)
    for other in (arrow, mapping):
        for name, col in base.columns.items():
            assert other.columns[name].statistics == pytest.approx(col.statistics), name


# -- reference profiles -------------------------------------------------------------------------


def test_profile_json_round_trip_is_exact() -> None:
    """A profile survives to_json/from_json unchanged, and drift from either is identical."""
    ref = wine(50_000, 81)
    prof = opskit.monitor.profile(ref)
    again = ReferenceProfile.from_json(prof.to_json())
    assert again == prof
    assert again.rows == 50_000 and again.columns["alcohol"].kind == "numeric"
    assert len(again.columns["alcohol"].points) == 2000 and not again.columns["alcohol"].exact
    assert again.columns["colour"].counts.keys() == {"red", "white", "rose"}
    assert again.columns["sulphates"].missing == int(ref["sulphates"].isna().sum())
    cur = wine(5000, 82, shift=0.2)
    assert opskit.monitor.drift(prof, cur).to_dict() == opskit.monitor.drift(again, cur).to_dict()
    assert (
        len(prof.to_json()) < 250_000
    )  # compact: ~40 KB per numeric column at the default sketch size
    assert "50000 rows" in prof.summary() and "<table>" in prof._repr_html_()


def test_profile_gives_the_same_verdicts_and_close_statistics() -> None:
    """drift(reference=profile) agrees with drift(reference=data): same verdicts, KS within 1/2000+ε."""
    ref = wine(100_000, 91)
    prof = opskit.monitor.profile(ref)
    for cur in (wine(20_000, 92), wine(20_000, 93, shift=0.3)):
        exact = opskit.monitor.drift(ref, cur)
        approx = opskit.monitor.drift(prof, cur)
        assert approx.reference_source == "profile"
        assert approx.drifted_columns == exact.drifted_columns
        for name in ("alcohol", "acidity", "sulphates"):
            e, a = exact.columns[name].statistics, approx.columns[name].statistics
            assert abs(a["ks"] - e["ks"]) <= 1 / 2000 + 1e-9, name
            assert a["wasserstein"] == pytest.approx(e["wasserstein"], abs=2e-3), name
            assert a["psi"] == pytest.approx(e["psi"], abs=2e-3), name
        assert approx.columns["colour"].statistics == pytest.approx(
            exact.columns["colour"].statistics
        )


def test_small_columns_are_profiled_exactly() -> None:
    """With no more values than the sketch size, the profile holds the values: statistics are exact."""
    ref, cur = wine(800, 95), wine(800, 96, shift=0.4)
    exact = opskit.monitor.drift(ref, cur)
    from_profile = opskit.monitor.drift(opskit.monitor.profile(ref), cur)
    for name, col in exact.columns.items():
        assert from_profile.columns[name].statistics == pytest.approx(col.statistics, rel=1e-12), (
            name
        )


def test_profile_caps_categories_and_pools_the_rest() -> None:
    """Beyond max_categories, rare values are pooled; new values in the current data compare as that pool."""
    rng = np.random.default_rng(97)
    ref = pd.DataFrame({"city": rng.choice([f"c{i}" for i in range(50)], size=5000)})
    prof = opskit.monitor.profile(ref, max_categories=10)
    col = prof.columns["city"]
    assert len(col.counts) == 10 and col.other_distinct == 40 and col.count == 5000
    same = pd.DataFrame({"city": rng.choice([f"c{i}" for i in range(50)], size=5000)})
    assert opskit.monitor.drift(prof, same).drifted_columns == []
    moved = pd.DataFrame({"city": ["brand-new"] * 5000})
    assert opskit.monitor.drift(prof, moved).columns["city"].drifted


def test_malformed_profile_json_is_refused() -> None:
    """Broken or foreign JSON raises InvalidDataset, not a KeyError."""
    with pytest.raises(opskit.errors.InvalidDataset, match="does not parse"):
        ReferenceProfile.from_json("{nope")
    with pytest.raises(opskit.errors.InvalidDataset, match="not a reference profile"):
        ReferenceProfile.from_json('{"schema_version": 1}')
    with pytest.raises(opskit.errors.InvalidDataset, match="upgrade opskit"):
        ReferenceProfile.from_json('{"schema_version": 99, "columns": {}}')


# -- Parquet streaming -------------------------------------------------------------------------


def test_parquet_current_is_streamed_and_matches_in_memory(tmp_path: Path) -> None:
    """A Parquet directory is read batch by batch; verdicts and statistics match the in-memory run."""
    ref = wine(50_000, 101)
    cur = wine(60_000, 102, shift=0.25, missing=0.08)
    folder = tmp_path / "live"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(cur)), 3)):
        pq.write_table(
            pa.Table.from_pandas(cur.iloc[part], preserve_index=False),
            folder / f"part-{i}.parquet",
            row_group_size=5000,
        )
    for reference in (ref, opskit.monitor.profile(ref)):
        streamed = opskit.monitor.drift(reference, folder)
        in_memory = opskit.monitor.drift(reference, cur)
        assert streamed.n_current == 60_000
        assert streamed.drifted_columns == in_memory.drifted_columns == ["alcohol", "sulphates"]
        for name in ("alcohol", "acidity", "sulphates"):
            s, m = streamed.columns[name].statistics, in_memory.columns[name].statistics
            assert abs(s["ks"] - m["ks"]) <= 1 / 2000, name
            assert s["wasserstein"] == pytest.approx(m["wasserstein"], abs=5e-3), name
            assert s["psi"] == pytest.approx(m["psi"], abs=1e-3), name
            assert s["missing_share_current"] == m["missing_share_current"], name
        assert streamed.columns["colour"].statistics == pytest.approx(
            in_memory.columns["colour"].statistics
        )
        assert streamed.columns["quality"].statistics["ks"] == pytest.approx(
            in_memory.columns["quality"].statistics["ks"], abs=1e-12
        )


def test_parquet_streaming_reads_batches_not_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Parquet reader sees record batches of bounded size, never one whole table."""
    from opskit.monitor import data as data_module

    path = tmp_path / "live.parquet"
    pq.write_table(
        pa.Table.from_pandas(wine(30_000, 111), preserve_index=False), path, row_group_size=4000
    )
    sizes: list[int] = []
    original = data_module._batches

    def spy(dataset: Any, names: Any, batch_size: int) -> Any:
        for batch in original(dataset, names, batch_size):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(data_module, "_batches", spy)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read the whole file"))
    report = opskit.monitor.drift(wine(5000, 112), path)
    assert sum(sizes) == 30_000 and len(sizes) > 1 and max(sizes) <= 65_536
    assert report.n_current == 30_000


def test_parquet_errors_name_the_path_and_column(tmp_path: Path) -> None:
    """A missing column or a wrong type in the Parquet file is a clear error."""
    path = tmp_path / "live.parquet"
    pq.write_table(pa.table({"alcohol": ["a", "b"]}), path)
    ref = wine(100, 121)[["alcohol", "colour"]]
    with pytest.raises(opskit.errors.ColumnNotFound, match="'colour'.*live.parquet"):
        opskit.monitor.drift(ref, path)
    with pytest.raises(
        opskit.errors.InvalidDataset, match="'alcohol' is numeric in the reference but string"
    ):
        opskit.monitor.drift(ref[["alcohol"]], path)
    with pytest.raises(
        opskit.errors.DataNotFound, match="no such file or directory: .*nothing-here"
    ):
        opskit.monitor.drift(ref, tmp_path / "nothing-here.parquet")


# -- the register_drift_methods hook -----------------------------------------------------------


class MeanShift:
    """A plugin adding a drift method: absolute mean difference in reference σ."""

    @opskit.hookimpl
    def register_drift_methods(self, register: Any) -> None:
        def mean_shift(reference: Any, current: Any) -> tuple[float, None]:
            mean, std = reference.mean_std()
            return abs(current.mean_std()[0] - mean) / std, None

        register("mean_shift", mean_shift, kinds=("numeric",), threshold=0.25)


def test_plugin_drift_method_is_selectable() -> None:
    """A method registered through register_drift_methods is used when selected, with its threshold."""
    pm = get_plugin_manager()
    pm.register(MeanShift(), name="mean-shift")
    try:
        report = opskit.monitor.drift(
            wine(2000, 131), wine(2000, 132, shift=0.5), methods={"numeric": "mean_shift"}
        )
    finally:
        pm.unregister(name="mean-shift")
    col = report.columns["alcohol"]
    assert col.method == "mean_shift" and col.threshold == 0.25 and col.drifted
    assert (
        col.statistic == pytest.approx(0.5 / 1.1, rel=0.15)
        and col.statistics["mean_shift"] == col.statistic
    )
    assert not report.columns["acidity"].drifted


def test_builtin_methods_come_through_the_hook_and_duplicates_name_both_plugins() -> None:
    """Built-ins are registered by a built-in plugin; a second 'ks' is an error naming both plugins."""
    pm = create_plugin_manager(load_entrypoints=False)
    methods = drift_methods(pm)
    assert sorted(methods) == ["chisquare", "jensenshannon", "ks", "psi", "wasserstein"]
    assert {m.plugin for m in methods.values()} == {"opskit.builtins.drift_methods"}

    class Dup:
        @opskit.hookimpl
        def register_drift_methods(self, register: Any) -> None:
            register("ks", lambda r, c: (0.0, None), kinds=("numeric",), threshold=0.1)

    pm.register(Dup(), name="dup-plugin")
    with pytest.raises(opskit.errors.DuplicateDriftMethod, match="'ks'") as info:
        drift_methods(pm)
    assert "'opskit.builtins.drift_methods'" in str(info.value) and "'dup-plugin'" in str(
        info.value
    )


def test_monitor_package_imports_lightly() -> None:
    """`opskit.monitor` is reachable lazily and importing it loads no numpy, scipy, pandas or pyarrow."""
    from conftest import run_python

    out = run_python(
        "import sys, json, opskit\n"
        "m = opskit.monitor\n"
        "assert 'drift' in dir(m) and 'profile' in dir(m)\n"
        "print(json.dumps([x for x in ('numpy', 'scipy', 'pandas', 'pyarrow') if x in sys.modules]))"
    )
    assert json.loads(out.stdout) == []


def test_profile_from_parquet_equals_profile_from_frame(tmp_path: Path) -> None:
    """profile() reads a Parquet path; the result equals the profile of the same DataFrame."""
    ref = wine(3000, 141)
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), path)
    assert opskit.monitor.profile(path) == opskit.monitor.profile(ref)
    with pytest.raises(opskit.errors.InvalidDataset, match="cannot read"):
        opskit.monitor.profile(tmp_path / "missing.parquet")


def test_drift_leaves_the_warning_filters_as_they_were() -> None:
    """drift() silences scipy's exact-to-asymptotic notice without changing the caller's warning filters."""
    import warnings

    before = list(warnings.filters)
    rng = np.random.default_rng(151)
    frames = [
        pd.DataFrame({f"c{i}": rng.integers(0, 3, size=n) for i in range(8)}) for n in (1000, 997)
    ]
    opskit.monitor.drift(frames[0].astype(float), frames[1].astype(float))
    assert warnings.filters == before


def test_categorical_dtype_with_unused_categories_and_mixed_types() -> None:
    """Unused categories of a pandas Categorical are ignored; 1 and "1" are the same category."""
    rng = np.random.default_rng(161)
    values = rng.choice(["a", "b"], size=400)
    ref = pd.DataFrame(
        {
            "c": pd.Categorical(values, categories=["a", "b", "never"]),
            "m": pd.Series([1, "1", "x", "x"] * 100, dtype=object),
        }
    )
    cur = pd.DataFrame(
        {
            "c": pd.Categorical(rng.choice(["a", "b"], size=400), categories=["a", "b", "unused"]),
            "m": ["1", "x"] * 200,
        }
    )
    report = opskit.monitor.drift(ref, cur)
    col = report.columns["c"]
    assert col.kind == "categorical" and math.isfinite(col.statistic) and not col.drifted
    assert report.columns["m"].statistic == 0.0 and not report.columns["m"].drifted


_BAD_OPTIONS = st.one_of(
    st.fixed_dictionaries(
        {
            "thresholds": st.dictionaries(
                st.sampled_from(["x", "numeric"]),
                st.one_of(
                    st.sampled_from([math.nan, -math.inf, -1.0, -1e-9, True]),
                    st.text(max_size=3),
                ),
                min_size=1,
            )
        }
    ),
    st.fixed_dictionaries(
        {"workers": st.one_of(st.integers(max_value=0), st.just(True), st.just(1.5))}
    ),
    st.fixed_dictionaries(
        {
            "alpha": st.one_of(
                st.sampled_from([0.0, 1.0, math.nan, -0.1, "0.05"]), st.floats(min_value=1.0)
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "drift_share": st.one_of(
                st.sampled_from([0.0, math.nan, 1.5, "1"]), st.floats(max_value=0.0)
            )
        }
    ),
    st.fixed_dictionaries({"methods": st.sampled_from([{"x": 1}, {"x": ""}, ["ks"], "ks"])}),
)


@given(options=_BAD_OPTIONS)
def test_bad_drift_options_are_refused_alike_by_drift_and_no_drift(options: dict[str, Any]) -> None:
    """A NaN, negative or non-number threshold, workers < 1, alpha/drift_share out of range: InvalidDataset from drift, ValidationError from checks.no_drift, same words."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(opskit.errors.InvalidDataset) as direct:
        opskit.monitor.drift(frame, frame, **options)
    with pytest.raises(opskit.errors.ValidationError) as declared:
        opskit.checks.no_drift(frame, **options)
    assert str(direct.value) in str(declared.value)
