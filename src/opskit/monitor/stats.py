"""The drift statistics, computed from sorted arrays (numeric) or count vectors (categorical).

Every function here agrees with scipy's implementation on the same inputs to 1e-9
(tests/test_monitor_stats.py checks it with hypothesis): sort each column once, then
the Kolmogorov–Smirnov statistic, the Wasserstein distance and the PSI bins all come
from the same two sorted arrays in vectorised numpy.

A numeric column is a :class:`NumericData`: its non-missing values sorted ascending,
optionally with weights (a binned or sketched column), and the number of rows it stands
for. A categorical column is a :class:`CategoricalData`: value → count.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from attrs import frozen

__all__ = [
    "PSI_BINS",
    "PSI_EPS",
    "CategoricalData",
    "NumericData",
    "chi_square",
    "jensen_shannon",
    "ks_pvalue",
    "missing_share_change",
    "normalise",
    "numeric_distances",
    "psi_categorical",
    "psi_edges",
    "psi_numeric",
]

FloatArray = npt.NDArray[np.float64]

#: Number of reference-quantile bins PSI uses for a numeric column.
PSI_BINS = 10
#: Proportions below this are raised to it before PSI's logarithm (an empty bin would be infinite).
PSI_EPS = 1e-4
_WARNINGS_LOCK = threading.Lock()

#: scipy's ``ks_2samp(method="auto")`` computes the exact p-value up to this sample size.
KS_EXACT_MAX_N = 10_000


@frozen(eq=False)
class NumericData:
    """A numeric column: *values* sorted ascending, NaN-free, float64.

    ``weights`` is ``None`` when every value is one observation (raw data, or a sketch of
    equally weighted quantile points); otherwise one non-negative weight per value.
    ``n`` is the number of non-missing rows the column stands for (used for p-values);
    ``exact`` is ``True`` when *values* are the raw observations themselves.
    ``moments`` optionally gives the exact mean and standard deviation of the data a
    sketch stands for.
    """

    values: FloatArray
    n: int
    exact: bool = True
    weights: FloatArray | None = None
    #: Exact (mean, population std) when known (a profile stores them); else computed from *values*.
    moments: tuple[float, float] | None = None
    #: A binned stream whose bins split at every distinct value of the reference it is compared
    #: with (``ColumnBinner``): its CDF equals the raw data's at every reference value, so the KS
    #: statistic and its p-value against that reference are exact (the p-value is computed on the
    #: counts expanded back to observations, see :func:`ks_pvalue`).
    exact_on_reference: bool = False

    @classmethod
    def from_values(cls, values: Any) -> NumericData:
        """Sort raw values (NaN removed) into a column; *values* is any 1-D array-like."""
        arr = np.asarray(values, dtype=np.float64)
        nan = np.isnan(arr)
        arr = arr[~nan] if nan.any() else arr.copy()  # a plain copy is cheaper than a mask
        arr.sort()
        return cls(arr, int(arr.size))

    def cdf(self, x: FloatArray) -> FloatArray:
        """The empirical CDF ``P(X <= x)`` at each point of *x* (right-continuous step function)."""
        idx = np.searchsorted(self.values, x, side="right")
        if self.weights is None:
            return idx / self.values.size
        cum = np.concatenate(([0.0], np.cumsum(self.weights)))
        return cum[idx] / cum[-1]  # type: ignore[no-any-return]

    def mean_std(self) -> tuple[float, float]:
        """Mean and population standard deviation (ddof=0) of the column's finite values.

        Infinite values are left out (they would make both infinite or NaN); a column
        with no finite value gives its mean (±inf) and a standard deviation of 0.0.
        """
        if self.moments is not None:
            return self.moments
        finite = np.isfinite(self.values)
        values, weights = self.values, self.weights
        if not finite.all():
            if not finite.any():
                return float(np.mean(values)), 0.0
            values = values[finite]
            weights = None if weights is None else weights[finite]
        if weights is None:
            return float(np.mean(values)), float(np.std(values))
        mean = float(np.average(values, weights=weights))
        var = float(np.average((values - mean) ** 2, weights=weights))
        return mean, math.sqrt(var)

    def quantiles(self, probs: FloatArray) -> FloatArray:
        """Quantiles at *probs* (numpy's default linear interpolation for unweighted data)."""
        if self.weights is None:
            pos = probs * (self.values.size - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, self.values.size - 1)
            frac = pos - lo
            low, high = self.values[lo], self.values[hi]
            with np.errstate(invalid="ignore"):  # inf - inf between two infinite neighbours
                between = low + (high - low) * frac
            return np.where((frac == 0) | (low == high), low, between)
        cum = np.cumsum(self.weights)
        idx = np.searchsorted(cum / cum[-1], probs, side="left")
        return self.values[np.minimum(idx, self.values.size - 1)]


@frozen(eq=False)
class CategoricalData:
    """A categorical column: each observed (non-missing) value, as a string, and its count."""

    counts: Mapping[str, int]

    @property
    def n(self) -> int:
        return sum(self.counts.values())


def numeric_distances(reference: NumericData, current: NumericData) -> tuple[float, float]:
    """The two-sided KS statistic and the Wasserstein-1 distance, from one merge of both columns.

    KS: ``D = sup_x |F_ref(x) - F_cur(x)|`` over every observed value (Kolmogorov 1933,
    Smirnov 1948; computed exactly as ``scipy.stats.ks_2samp`` does).
    Wasserstein-1 (earth mover's distance): ``W = ∫ |F_ref(x) - F_cur(x)| dx``, in the
    column's units (as ``scipy.stats.wasserstein_distance``).
    Raises ``ValueError`` if either column is empty.
    """
    if reference.values.size == 0 or current.values.size == 0:
        raise ValueError("both columns need at least one non-missing value")
    if reference.weights is not None or current.weights is not None:
        merged = np.concatenate((reference.values, current.values))
        merged.sort(kind="stable")
        diff = reference.cdf(merged) - current.cdf(merged)
        values = merged
    else:
        # Both unweighted: merge the two sorted runs once (a stable sort of two runs is a
        # linear merge), count how many of each side lie at or below every distinct value.
        n, m = reference.values.size, current.values.size
        both = np.concatenate((reference.values, current.values))
        order = np.argsort(both, kind="stable")
        merged = both[order]
        # n·m·(F_ref - F_cur) after each merged value: +m per reference value, -n per current
        # value, kept in integers until the final division.
        scaled = np.cumsum(np.where(order < n, m, -n))
        ends = np.flatnonzero(merged[1:] != merged[:-1])
        if (
            ends.size + 1 < merged.size
        ):  # ties: the step functions jump only after the last of equal values
            ends = np.append(ends, merged.size - 1)
            scaled, merged = scaled[ends], merged[ends]
        d = max(int(scaled.max()), -int(scaled.min()), 0) / (n * m)
        w = _area(np.abs(scaled[:-1]).astype(np.float64), merged) / (n * m)
        return min(d, 1.0), w
    d = max(float(diff.max()), min(max(-float(diff.min()), 0.0), 1.0))
    return d, _area(np.abs(diff[:-1]), values)


def _area(gap: FloatArray, points: FloatArray) -> float:
    """``Σ gap_i · (points_{i+1} − points_i)``; a step next to ±inf adds nothing when its gap is 0, else infinity.

    So the Wasserstein distance is infinite exactly when the two sides put different
    shares on +inf (or on −inf), and otherwise measured over the finite values.
    """
    with np.errstate(invalid="ignore"):
        # Equal neighbours (ties, or two infinities: inf - inf is NaN) are zero apart.
        widths = np.where(points[1:] == points[:-1], 0.0, np.diff(points))
        terms = np.where(gap == 0, 0.0, gap * widths)
    return float(np.sum(terms))


def ks_pvalue(d: float, reference: NumericData, current: NumericData) -> float:
    """Two-sided KS p-value for statistic *d*, chosen exactly as ``scipy.stats.ks_2samp(method="auto")``.

    Exact (``scipy.stats.ks_2samp`` itself) when both columns are raw observations (or the
    current one is binned on the reference's values, ``exact_on_reference``) of at most
    10,000 values; otherwise Smirnov's asymptotic distribution,
    ``scipy.stats.kstwo.sf(d, round(n·m / (n + m)))``, with the row counts the columns stand for.
    """
    from scipy import stats

    n1, n2 = reference.n, current.n
    raw_ref = reference.exact and reference.weights is None
    raw_cur = current.exact and current.weights is None
    if raw_ref and (raw_cur or current.exact_on_reference) and max(n1, n2) <= KS_EXACT_MAX_N:
        cur_values = current.values
        if not raw_cur:
            # Counts on the reference's own split points: expanded back, they give scipy the same
            # statistic (and so the same exact p-value, a function of D, n and m only) as the raw data.
            assert current.weights is not None
            cur_values = np.repeat(current.values, current.weights.astype(np.int64))
        # scipy warns when its exact method falls back to 'asymp'; the result is still scipy's.
        # catch_warnings swaps process-wide state: the lock keeps drift()'s threads from interleaving it.
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="ks_2samp", category=RuntimeWarning)
            return float(stats.ks_2samp(reference.values, cur_values).pvalue)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _psi(ref_p: FloatArray, cur_p: FloatArray) -> float:
    ref_p = np.maximum(ref_p, PSI_EPS)
    cur_p = np.maximum(cur_p, PSI_EPS)
    return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def psi_edges(reference: NumericData, bins: int = PSI_BINS) -> FloatArray:
    """The inner bin edges PSI uses: the reference's ``j / bins`` quantiles, ``j = 1 … bins-1``, duplicates merged."""
    probs = np.arange(1, bins, dtype=np.float64) / bins
    return np.unique(reference.quantiles(probs))


def psi_numeric(reference: NumericData, current: NumericData, bins: int = PSI_BINS) -> float:
    """Population stability index over *bins* reference-quantile bins.

    ``PSI = Σ_i (c_i - r_i) · ln(c_i / r_i)`` where ``r_i``, ``c_i`` are the shares of the
    reference and current rows in bin ``i``; bins are ``(-∞, q_1], (q_1, q_2], …, (q_k-1, ∞)``
    with ``q_j`` the reference's ``j/bins`` quantiles (duplicates merged); shares below
    ``PSI_EPS`` (1e-4) are raised to it. Unitless, ≥ 0 (Siddiqi 2006, *Credit Risk Scorecards*).
    """
    edges = psi_edges(reference, bins)
    ref_cdf = np.concatenate(([0.0], reference.cdf(edges), [1.0]))
    cur_cdf = np.concatenate(([0.0], current.cdf(edges), [1.0]))
    return _psi(np.diff(ref_cdf), np.diff(cur_cdf))


def _aligned(reference: CategoricalData, current: CategoricalData) -> tuple[FloatArray, FloatArray]:
    keys = sorted(
        k
        for k in set(reference.counts) | set(current.counts)
        if reference.counts.get(k) or current.counts.get(k)
    )
    ref = np.array([reference.counts.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.counts.get(k, 0) for k in keys], dtype=np.float64)
    return ref, cur


def chi_square(reference: CategoricalData, current: CategoricalData) -> tuple[float, float]:
    """Pearson's chi-square test of homogeneity: do both samples come from one category distribution?

    On the 2 × k table of counts (reference, current) over the union of categories,
    expected counts are ``e_sj = n_s · c_j / N`` (row total × column total / grand total);
    statistic ``Σ (o_sj - e_sj)² / e_sj``, p-value ``chi2.sf(stat, k - 1)``. This equals
    ``scipy.stats.chi2_contingency(table, correction=False)`` and
    ``scipy.stats.chisquare(table.ravel(), expected.ravel(), ddof=k)``. (The
    goodness-of-fit form ``chisquare(current, n_cur · reference_shares)`` treats the
    reference sample as the truth and, at equal sample sizes, flags about 40 % of pairs
    drawn from one distribution at ``alpha = 0.05``.) Returns ``(statistic, p_value)``;
    ``(0.0, 1.0)`` for a single category.
    """
    from scipy import stats

    ref, cur = _aligned(reference, current)
    k = ref.size
    if k <= 1:
        return 0.0, 1.0
    table = np.stack((ref, cur))
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, k - 1))


def jensen_shannon(reference: CategoricalData, current: CategoricalData) -> float:
    """Jensen–Shannon distance (base 2, so in [0, 1]) between the two category distributions.

    ``sqrt((KL(p‖m) + KL(q‖m)) / 2)`` with ``m = (p + q) / 2`` (Lin 1991; as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``).
    """
    ref, cur = _aligned(reference, current)
    p = ref / ref.sum()
    q = cur / cur.sum()
    m = (p + q) / 2.0

    def _kl(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    js = (_kl(p) + _kl(q)) / 2.0 / math.log(2.0)
    return math.sqrt(max(js, 0.0))


def psi_categorical(reference: CategoricalData, current: CategoricalData) -> float:
    """Population stability index over the union of categories (see :func:`psi_numeric`)."""
    ref, cur = _aligned(reference, current)
    return _psi(ref / ref.sum(), cur / cur.sum())


def missing_share_change(
    ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int
) -> tuple[float, float]:
    """Change in the share of missing values and its two-sided p-value.

    Statistic ``|m_cur / n_cur - m_ref / n_ref|`` (a share, 0–1). P-value: the two-proportion
    z-test with pooled share (equivalently, Pearson's chi-square on the 2×2 table without
    continuity correction); 1.0 when neither side has a missing value.
    """
    from scipy import stats

    p1 = ref_missing / ref_rows
    p2 = cur_missing / cur_rows
    pooled = (ref_missing + cur_missing) / (ref_rows + cur_rows)
    delta = abs(p2 - p1)
    if pooled in (0.0, 1.0):
        return delta, 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_rows + 1 / cur_rows))
    return delta, float(2 * stats.norm.sf(delta / se))


def normalise(distance: float, std: float) -> float:
    """A Wasserstein distance in units of the reference's standard deviation.

    ``W / σ_ref`` (population σ, ddof=0); for a constant reference (σ = 0): 0.0 when
    ``W`` is 0, else infinity.
    """
    if std > 0:
        return distance / std
    return 0.0 if distance == 0 else math.inf
