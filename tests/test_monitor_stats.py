"""opskit.monitor.stats agrees with scipy's implementations to 1e-9 on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from opskit.monitor.stats import (
    CategoricalData,
    NumericData,
    chi_square,
    jensen_shannon,
    ks_pvalue,
    missing_share_change,
    numeric_distances,
    psi_categorical,
    psi_numeric,
)

TOL = 1e-9
# scipy warns when its exact KS p-value falls back to the asymptotic one; so does ours (silently).
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

# Finite floats on a grid coarse enough to produce ties, and wide enough to matter.
values = st.lists(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        st.integers(-5, 5).map(float),
    ),
    min_size=1,
    max_size=60,
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_ks_statistic_and_pvalue_match_scipy(a: list[float], b: list[float]) -> None:
    """KS statistic and p-value equal scipy.stats.ks_2samp's on the same samples (ties included)."""
    ref, cur = NumericData.from_values(a), NumericData.from_values(b)
    d, _ = numeric_distances(ref, cur)
    expected = stats.ks_2samp(a, b)
    assert close(d, expected.statistic)
    assert close(ks_pvalue(d, ref, cur), expected.pvalue)


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_wasserstein_matches_scipy(a: list[float], b: list[float]) -> None:
    """The Wasserstein-1 distance equals scipy.stats.wasserstein_distance's."""
    _, w = numeric_distances(NumericData.from_values(a), NumericData.from_values(b))
    assert close(w, stats.wasserstein_distance(a, b))


@settings(max_examples=100, deadline=None)
@given(values, values, st.data())
def test_weighted_columns_match_scipy(a: list[float], b: list[float], data: st.DataObject) -> None:
    """With weights (binned or sketched columns), KS and Wasserstein equal scipy's weighted forms."""
    a_s, b_s = np.unique(a), np.unique(b)
    wa = np.array(
        data.draw(st.lists(st.integers(1, 9), min_size=a_s.size, max_size=a_s.size)), dtype=float
    )
    wb = np.array(
        data.draw(st.lists(st.integers(1, 9), min_size=b_s.size, max_size=b_s.size)), dtype=float
    )
    ref = NumericData(a_s, int(wa.sum()), exact=False, weights=wa)
    cur = NumericData(b_s, int(wb.sum()), exact=False, weights=wb)
    d, w = numeric_distances(ref, cur)
    assert close(w, stats.wasserstein_distance(a_s, b_s, wa, wb))
    # The same weighted samples, expanded into repeated observations, give scipy's KS statistic.
    assert close(
        d, stats.ks_2samp(np.repeat(a_s, wa.astype(int)), np.repeat(b_s, wb.astype(int))).statistic
    )


def test_large_samples_use_scipys_asymptotic_pvalue() -> None:
    """Above 10,000 values the p-value is scipy's asymptotic one (method='auto' picks 'asymp')."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=20_000), rng.normal(0.02, 1, size=15_000)
    ref, cur = NumericData.from_values(a), NumericData.from_values(b)
    d, _ = numeric_distances(ref, cur)
    expected = stats.ks_2samp(a, b)
    assert close(d, expected.statistic) and close(ks_pvalue(d, ref, cur), expected.pvalue)
    assert 0.0 < expected.pvalue < 1.0


counts = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 500), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_chi_square_matches_scipy(ref: dict[str, int], cur: dict[str, int]) -> None:
    """Chi-square homogeneity equals scipy's chi2_contingency (no correction) and chisquare(ddof=k)."""
    statistic, p = chi_square(CategoricalData(ref), CategoricalData(cur))
    keys = sorted(set(ref) | set(cur))
    table = np.array([[ref.get(k, 0) for k in keys], [cur.get(k, 0) for k in keys]], dtype=float)
    if len(keys) == 1:
        assert (statistic, p) == (0.0, 1.0)
        return
    res = stats.chi2_contingency(table, correction=False)
    assert close(statistic, res.statistic) and close(p, res.pvalue)
    gof = stats.chisquare(table.ravel(), res.expected_freq.ravel(), ddof=len(keys))
    assert close(statistic, gof.statistic) and close(p, gof.pvalue)


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_jensen_shannon_matches_scipy(ref: dict[str, int], cur: dict[str, int]) -> None:
    """The Jensen–Shannon distance equals scipy.spatial.distance.jensenshannon(base=2)."""
    keys = sorted(set(ref) | set(cur))
    p = np.array([ref.get(k, 0) for k in keys], dtype=float)
    q = np.array([cur.get(k, 0) for k in keys], dtype=float)
    assert close(
        jensen_shannon(CategoricalData(ref), CategoricalData(cur)),
        float(jensenshannon(p, q, base=2)),
    )


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_psi_numeric_matches_formula_on_numpy_quantile_bins(a: list[float], b: list[float]) -> None:
    """Numeric PSI equals Σ(c-r)ln(c/r) on bins cut at numpy's reference deciles (shares floored at 1e-4)."""
    edges = np.unique(np.quantile(a, np.arange(1, 10) / 10))
    r = np.diff(np.concatenate(([0], np.searchsorted(np.sort(a), edges, "right"), [len(a)]))) / len(
        a
    )
    c = np.diff(np.concatenate(([0], np.searchsorted(np.sort(b), edges, "right"), [len(b)]))) / len(
        b
    )
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    expected = float(np.sum((c - r) * np.log(c / r)))
    assert close(psi_numeric(NumericData.from_values(a), NumericData.from_values(b)), expected)


def test_psi_known_values() -> None:
    """PSI is 0 for identical shares and matches a hand computation for a known shift."""
    same = CategoricalData({"a": 50, "b": 50})
    assert psi_categorical(same, same) == 0.0
    shifted = CategoricalData({"a": 80, "b": 20})
    assert close(
        psi_categorical(same, shifted),
        (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5),
    )


def test_missing_share_change_is_two_proportion_test() -> None:
    """The missing-share p-value equals scipy's chi-square on the 2×2 table without correction."""
    delta, p = missing_share_change(10, 300, 40, 300)
    table = np.array([[10, 290], [40, 260]])
    assert close(delta, 0.1)
    assert close(p, stats.chi2_contingency(table, correction=False).pvalue)
    assert missing_share_change(0, 10, 0, 20) == (0.0, 1.0)


def test_empty_column_is_refused() -> None:
    """numeric_distances needs a value on each side."""
    with pytest.raises(ValueError, match="at least one"):
        numeric_distances(NumericData.from_values([]), NumericData.from_values([1.0]))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=30, max_size=3000),
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=300),
    st.integers(2, 200),
)
def test_profile_ks_is_within_the_documented_bound(
    a: list[float], b: list[float], sketch_size: int
) -> None:
    """KS from a profile differs from exact KS by at most 1/sketch_size (+1.5/n for uneven bins)."""
    import pandas as pd

    from opskit.monitor.profiles import column_data, profile

    prof = profile(pd.DataFrame({"x": a}), sketch_size=sketch_size)
    sketch = column_data(prof.columns["x"])
    assert isinstance(sketch, NumericData)
    current = NumericData.from_values(b)
    exact, _ = numeric_distances(NumericData.from_values(a), current)
    approx, _ = numeric_distances(sketch, current)
    assert abs(approx - exact) <= 1 / sketch_size + 1.5 / len(a) + 1e-12
