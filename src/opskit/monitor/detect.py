"""``opskit.monitor.drift()``: per-column drift statistics, the default decision rule, the dataset verdict.

The default rule (see docs/monitoring.md) for each column: a *test* (KS for numeric,
chi-square for categorical) must reject at ``alpha`` **and** an *effect size* (normalised
Wasserstein / Jensen–Shannon distance) must reach ``0.1``. For small samples the p-value
is what usually decides (sampling noise alone makes distances large); for large samples
the distance decides (any negligible difference is "significant"). Requiring both keeps
false alarms rare at every size. The missing-value share drifts when it changes by at
least 0.05 and the two-proportion test rejects at ``alpha``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from opskit.errors import (
    ColumnNotFound,
    DataNotFound,
    InvalidDataset,
    OpskitError,
    OpskitWarning,
)
from opskit.monitor.data import (
    Column,
    Table,
    as_table,
    is_dask_frame,
    is_parquet_path,
    looks_like_path,
    read_parquet,
    stream_dask,
    stream_parquet,
)
from opskit.monitor.methods import KINDS, DriftMethod, drift_methods, get_method
from opskit.monitor.profiles import OTHER, column_data
from opskit.monitor.records import (
    CategoricalProfile,
    ColumnDrift,
    Distribution,
    DriftReport,
    ReferenceProfile,
)
from opskit.monitor.stats import (
    CategoricalData,
    NumericData,
    chi_square,
    jensen_shannon,
    ks_pvalue,
    missing_share_change,
    normalise,
    numeric_distances,
    psi_categorical,
    psi_edges,
    psi_numeric,
)

__all__ = [
    "ALPHA",
    "DISTANCE_THRESHOLD",
    "DRIFT_SHARE",
    "MISSING_THRESHOLD",
    "SMALL_SAMPLE",
    "STREAM_EDGES",
    "drift",
    "option_problem",
]

#: Family-wise significance level of a report's default tests (KS or chi-square, and the
#: missing-share test, per column): each test runs at ``ALPHA / (2 · columns)`` (Bonferroni).
ALPHA = 0.01
#: Default effect-size threshold: normalised Wasserstein (reference σ) and Jensen–Shannon distance.
DISTANCE_THRESHOLD = 0.1
#: A change of the missing share of at least this (absolute, 0–1) can count as drift.
MISSING_THRESHOLD = 0.05
#: Default share of drifted columns at which the dataset counts as drifted.
DRIFT_SHARE = 0.5
#: A streamed current column (Parquet, dask) is split at up to this many reference values: at
#: every distinct one when there are no more (KS then equals the in-memory result), else at
#: this many equally spaced ranks (KS within ``1 / STREAM_EDGES`` of it).
STREAM_EDGES = 100_000
#: Up to this many non-missing values on the smaller side, the headline method is the test.
SMALL_SAMPLE = 1000

_BUILTIN_PLUGIN = "opskit.builtins.drift_methods"
#: (test, effect) per kind.
_DEFAULTS = {"numeric": ("ks", "wasserstein"), "categorical": ("chisquare", "jensenshannon")}


def drift(
    reference: object,
    current: object,
    *,
    columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = DRIFT_SHARE,
    alpha: float = ALPHA,
    workers: int | None = None,
    deployment: str | None = None,
    alert: bool | None = None,
) -> DriftReport:
    """Compare *current* data with *reference* data (or a reference profile), column by column.

    *reference*: a pandas DataFrame, pyarrow Table, mapping of column → values, Parquet
    file/directory path, a :class:`~opskit.monitor.ReferenceProfile`, or a model
    reference (``"wine@production"``, ``"wine:3"``, ``"wine"``: the profile stored with
    that version at registration; a string that is an existing path is read as Parquet). *current*: the
    same kinds of data (not a profile), or a dask DataFrame; a Parquet path is read in one
    streaming pass over record batches, a dask DataFrame summarised partition by partition
    on its workers (the same bins as Parquet streaming); a deployment name (a string that is
    not a path) means the inputs that deployment served, from its whole prediction log
    (``opskit.monitor.predictions``). *columns*: the columns to compare (default: every reference column;
    extra current columns are listed in ``report.ignored_columns``). *methods*: per column
    (or per kind, ``"numeric"``/``"categorical"``) a registered drift method name that
    alone decides that column; *thresholds*: per column (or kind) its threshold.
    *drift_share*: the dataset drifts when at least this share of columns drift.
    *alpha*: family-wise significance level of the default tests; each of the ``2 ·
    columns`` tests (value and missing share per column) runs at ``alpha / (2 · columns)``.
    An explicit *methods*/*thresholds* entry is used as given (no correction).
    *deployment*: the deployment this data comes from: the report becomes its latest drift
    (exported on its ``/metrics``) and its alerts name it; when *current* is a deployment
    name and *deployment* is not given, that deployment is the report's deployment. *alert*: whether a drifted report fires
    ``on_drift_detected`` (the webhook, plugins); default: when the call is tied to
    production (*deployment* given, or *reference* a model reference), not otherwise.

    Returns a :class:`~opskit.monitor.DriftReport`. Raises ``ColumnNotFound`` (a column
    missing on either side, or a *methods*/*thresholds* key that is neither a column nor
    a kind), ``UnknownDriftMethod``, ``ProfileNotFound`` / ``ModelNotFound`` (a model
    reference without a stored profile / unknown), ``DataNotFound`` (a path that does not exist:
    an ``os.PathLike``, or a string with a path separator or a ``.parquet``/``.pq``/``.csv``/
    ``.tsv``/``.json`` suffix; deployment names and model references have neither),
    ``InvalidDataset`` (no rows, a reference column with no values, a directory without
    Parquet files, a CSV file (read it with ``pd.read_csv``), a column numeric on one side and
    categorical on the other, bad data type).
    """
    problem = option_problem(
        methods=methods,
        thresholds=thresholds,
        workers=workers,
        drift_share=drift_share,
        alpha=alpha,
    )
    if problem is not None:
        raise InvalidDataset(problem)
    if deployment is not None:
        from opskit.deployments.api import _check_name

        _check_name(deployment)
    _check_exists(reference, role="reference")
    _check_exists(current, role="current")
    if isinstance(current, str) and not is_parquet_path(current):
        # A deployment name: the inputs it served (primary and canary rows of its prediction log).
        # That deployment is the report's (its /metrics gauges, the alert's "deployment").
        from opskit.monitor.prediction_log import served_inputs

        deployment = current if deployment is None else deployment
        current = served_inputs(current)
    tied = deployment is not None or (isinstance(reference, str) and not is_parquet_path(reference))
    ref_table, ref_profile, ref_source = _reference_table(reference)
    names = list(columns) if columns is not None else list(ref_table.names)
    if not names:
        raise InvalidDataset(
            "no columns to compare: the reference has none, or columns=[] was passed"
        )
    for name in names:
        if name not in ref_table.names:
            raise ColumnNotFound(
                f"column {name!r} is not in the reference (columns: {', '.join(ref_table.names)})"
            )
    for option, mapping in (("methods", methods), ("thresholds", thresholds)):
        for key in mapping or {}:
            if key not in names and key not in KINDS:
                raise ColumnNotFound(
                    f"{option}= names {key!r}, which is neither a compared column ({', '.join(names)}) nor a kind ({', '.join(KINDS)})"
                )
    registry = drift_methods()
    pool = ThreadPoolExecutor(max_workers=workers or min(len(names), os.cpu_count() or 1))
    with pool:
        ref_cols = dict(zip(names, pool.map(ref_table.column, names), strict=True))
        for col in ref_cols.values():
            if col.data.n == 0:
                raise InvalidDataset(
                    f"reference column {col.name!r} has no non-missing value; leave it out with columns=[...]"
                )
        if is_parquet_path(current) or is_dask_frame(current):
            kinds = {n: c.kind for n, c in ref_cols.items()}
            split = {
                n: _bin_edges(c.data)
                for n, c in ref_cols.items()
                if isinstance(c.data, NumericData)
            }
            edges = {n: e for n, (e, _) in split.items()}
            complete = {n for n, (_, all_values) in split.items() if all_values}
            if is_dask_frame(current):
                cur_table = stream_dask(current, names, kinds, edges, complete=complete)
            else:
                cur_table = stream_parquet(current, names, kinds, edges, complete=complete)  # type: ignore[arg-type]
        else:
            if isinstance(current, ReferenceProfile):
                raise InvalidDataset(
                    "current= must be data (DataFrame, Arrow table or Parquet path), not a reference profile"
                )
            cur_table = as_table(current, role="current")
        if cur_table.rows == 0:
            raise InvalidDataset(f"the {cur_table.source} has no rows: nothing to compare")
        for name in names:
            if name not in cur_table.names:
                raise ColumnNotFound(
                    f"column {name!r} of the reference is not in the {cur_table.source} "
                    f"(columns: {', '.join(cur_table.names)}); pass columns=[...] to compare only some columns"
                )
        cur_cols = dict(zip(names, pool.map(cur_table.column, names), strict=True))
        for name in names:
            _check_kinds(ref_cols[name], cur_cols[name], cur_table.source)
        # Resolve every method before computing anything (bad input changes nothing, fails fast).
        level = alpha / (2 * len(names))
        plans = {
            name: _plan(name, ref_cols[name].kind, registry, methods or {}, thresholds or {}, level)
            for name in names
        }
        results = list(
            pool.map(
                lambda n: _column_drift(n, ref_cols[n], cur_cols[n], plans[n], ref_profile, level),
                names,
            )
        )
    ignored = tuple(n for n in cur_table.names if n not in ref_table.names)
    report = DriftReport(
        columns={r.column: r for r in results},
        drift_share=drift_share,
        n_reference=ref_table.rows,
        n_current=cur_table.rows,
        reference_source=ref_source,
        current_source=cur_table.source,
        ignored_columns=ignored,
    )
    if deployment is not None:
        from opskit.monitor.alerts import record_drift

        try:
            record_drift(deployment, report)
        except (
            OpskitError
        ) as exc:  # the report is still returned (and alerted): warn, do not lose it
            import warnings

            from opskit._stack import user_stacklevel

            warnings.warn(
                f"could not store the latest drift of deployment {deployment!r} for its /metrics: {exc}",
                OpskitWarning,
                stacklevel=user_stacklevel(),
            )
    if report.drifted and (tied if alert is None else alert):
        from opskit.monitor.alerts import drift_detected

        drift_detected(report, deployment=deployment)
    return report


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def option_problem(
    *,
    methods: object = None,
    thresholds: object = None,
    workers: object = None,
    drift_share: object = DRIFT_SHARE,
    alpha: object = ALPHA,
) -> str | None:
    """What is wrong with :func:`drift`'s options (None when nothing): one rule for ``drift``,
    ``checks.no_drift`` and the CLI. *methods* maps names to method names, *thresholds* names
    to numbers >= 0 (not NaN), *workers* is a whole number >= 1, *drift_share* in (0, 1],
    *alpha* in (0, 1)."""
    if not (_number(drift_share) and 0.0 < drift_share <= 1.0):  # type: ignore[operator]
        return f"drift_share must be a number in (0, 1], got {drift_share!r}"
    if not (_number(alpha) and 0.0 < alpha < 1.0):  # type: ignore[operator]
        return f"alpha must be a number in (0, 1), got {alpha!r}"
    if methods is not None and not (
        isinstance(methods, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) and v for k, v in methods.items())
    ):
        return f"methods={methods!r} must map column names or kinds to method names, e.g. {{'numeric': 'psi'}}"
    if thresholds is not None:
        if not isinstance(thresholds, Mapping):
            return f"thresholds={thresholds!r} must map column names or kinds to numbers, e.g. {{'numeric': 0.2}}"
        for key, value in thresholds.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not isinstance(key, str) or not number or not value >= 0:
                # (NaN fails ">= 0"; inf is allowed: a distance never reaches it)
                return f"thresholds[{key!r}]={value!r} must be a number >= 0 (inf: never drifts by that distance)"
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        return f"workers={workers!r} must be a whole number >= 1"
    return None


def _check_exists(value: object, *, role: str) -> None:
    """Raise ``DataNotFound`` when *value* can only be a path (see ``looks_like_path``) and
    nothing exists there; for current data, name a deployment of a similar name."""
    if not looks_like_path(value):
        return
    given = os.fspath(value)  # type: ignore[call-overload]
    if os.path.exists(given):
        return
    names = _deployment_names() if role == "current" and isinstance(value, str) else []
    if given in names:  # a deployment named like a file ("live.csv"): it is that deployment
        return
    message = f"no such file or directory: {given!r} ({role} data)"
    import difflib

    bare = given.rstrip("/" + os.sep)
    similar = [bare] if bare in names else difflib.get_close_matches(bare, names, n=1, cutoff=0.6)
    if similar:
        message += f"; there is a deployment named {similar[0]!r}: pass {role}={similar[0]!r} for the inputs it served"
    elif role == "reference":
        message += (
            "; pass an existing Parquet file or directory, a profile, a DataFrame, or a model "
            "reference (name@alias, name:N, name)"
        )
    else:
        message += "; pass an existing Parquet file or directory, a DataFrame, or a deployment name"
    raise DataNotFound(message)


def _deployment_names() -> list[str]:
    """The recorded deployments' names (none when the store cannot be read: only for a hint)."""
    try:
        from opskit.deployments.client import STATE_KIND
        from opskit.runtime import get_config, get_tracker

        config = get_config()
        if config.tracker == "local" and not (config.home / "opskit.db").is_file():
            return []  # no store here: nothing deployed, and a hint must not create one
        return sorted(get_tracker().list_state(STATE_KIND))
    except OpskitError:
        return []


def _reference_table(reference: object) -> tuple[Table, ReferenceProfile | None, str]:
    label = "profile"
    if isinstance(reference, str) and not is_parquet_path(reference):
        from opskit.monitor.stored import reference_profile

        # A model reference ("wine@production", "wine:3", "wine"): the profile stored with it.
        reference, label = reference_profile(reference), f"profile of {reference}"
    if isinstance(reference, ReferenceProfile):
        prof = reference

        def get(name: str) -> Column:
            col = prof.columns[name]
            return Column(name, col.kind, column_data(col), col.missing, col.count + col.missing)

        return Table(tuple(prof.columns), prof.rows, "reference profile", get), prof, label
    if is_parquet_path(reference):
        table = read_parquet(reference, role="reference")  # type: ignore[arg-type]
        return as_table(table, role="reference"), None, "reference data"
    table = as_table(reference, role="reference")
    if table.rows == 0:
        raise InvalidDataset(
            "the reference data has no rows: pass the training data (or its profile)"
        )
    return table, None, table.source


def _bin_edges(data: NumericData | CategoricalData) -> tuple[np.ndarray[Any, Any], bool]:
    """Where a streamed current column is split: the reference's distinct values (up to
    ``STREAM_EDGES``; else that many of its values at equally spaced ranks) and PSI's edges.
    The flag says whether every distinct reference value is an edge (KS exact)."""
    assert isinstance(data, NumericData)
    psi = psi_edges(data)
    values = data.values  # sorted: its distinct values in one linear pass
    distinct = (
        values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values
    )
    # ±inf are edges too: infinite current values get point bins of their own.
    extremes = np.array([-np.inf, np.inf])
    if distinct.size <= STREAM_EDGES:
        return np.union1d(np.union1d(distinct, psi), extremes), True
    ranks = np.round(np.linspace(0, data.values.size - 1, STREAM_EDGES)).astype(np.int64)
    return np.union1d(np.union1d(data.values[ranks], psi), extremes), False


def _check_kinds(ref: Column, cur: Column, source: str) -> None:
    if ref.kind == cur.kind:
        return
    if cur.kind == "numeric" and cur.data.n == 0:
        return  # an all-missing current column: only its missing share is compared
    raise InvalidDataset(
        f"column {ref.name!r} is {ref.kind} in the reference but {cur.kind} in the {source}; "
        "convert one side (e.g. df[col].astype(float)), or leave it out with columns=[...]"
    )


class _Plan:
    """How one column is decided: the primary method, its threshold, and an optional guard."""

    def __init__(
        self,
        primary: DriftMethod,
        threshold: float,
        guard: DriftMethod | None,
        guard_threshold: float | None,
        test: DriftMethod | None,
    ) -> None:
        self.primary, self.threshold, self.guard, self.guard_threshold, self.test = (
            primary,
            threshold,
            guard,
            guard_threshold,
            test,
        )


def _plan(
    name: str,
    kind: str,
    registry: dict[str, DriftMethod],
    methods: Mapping[str, str],
    thresholds: Mapping[str, float],
    level: float,
) -> _Plan:
    chosen = methods.get(name, methods.get(kind))
    threshold = thresholds.get(name, thresholds.get(kind))
    if chosen is not None:
        method = get_method(registry, chosen, kind, name)
        return _Plan(
            method, method.threshold if threshold is None else float(threshold), None, None, None
        )
    test_name, effect_name = _DEFAULTS[kind]
    test = get_method(registry, test_name, kind, name)
    effect = get_method(registry, effect_name, kind, name)
    # The threshold override applies to the effect size (the part that decides at scale).
    return _Plan(
        effect, effect.threshold if threshold is None else float(threshold), test, level, test
    )


def _passes(statistic: float, p_value: float | None, threshold: float) -> bool:
    if p_value is not None:
        return p_value < threshold
    return statistic >= threshold


def _numeric_stats(ref: NumericData, cur: NumericData) -> dict[str, float]:
    d, w = numeric_distances(ref, cur)
    return {
        "ks": d,
        "ks_p_value": ks_pvalue(d, ref, cur),
        "wasserstein": normalise(w, ref.mean_std()[1]),
        "wasserstein_raw": w,
        "psi": psi_numeric(ref, cur),
    }


def _categorical_stats(ref: CategoricalData, cur: CategoricalData) -> dict[str, float]:
    chi, chi_p = chi_square(ref, cur)
    return {
        "chisquare": chi,
        "chisquare_p_value": chi_p,
        "jensenshannon": jensen_shannon(ref, cur),
        "psi": psi_categorical(ref, cur),
    }


_FUSED = {
    "ks": ("ks", "ks_p_value"),
    "wasserstein": ("wasserstein", None),
    "psi": ("psi", None),
    "chisquare": ("chisquare", "chisquare_p_value"),
    "jensenshannon": ("jensenshannon", None),
}


def _value(
    method: DriftMethod, stats: dict[str, float], ref: Any, cur: Any
) -> tuple[float, float | None]:
    if method.plugin == _BUILTIN_PLUGIN and method.name in _FUSED and stats:
        stat_key, p_key = _FUSED[method.name]
        return stats[stat_key], (stats[p_key] if p_key else None)
    statistic, p_value = method.compute(ref, cur)
    stats[method.name] = float(statistic)
    if p_value is not None:
        stats[f"{method.name}_p_value"] = float(p_value)
    return float(statistic), (None if p_value is None else float(p_value))


def _column_drift(
    name: str,
    ref_col: Column,
    cur_col: Column,
    plan: _Plan,
    ref_profile: ReferenceProfile | None,
    level: float,
) -> ColumnDrift:
    ref, cur = ref_col.data, cur_col.data
    if (
        isinstance(ref, CategoricalData)
        and isinstance(cur, CategoricalData)
        and ref_profile is not None
    ):
        prof = ref_profile.columns[name]
        if isinstance(prof, CategoricalProfile) and prof.other_distinct:
            # Values the profile pooled (or never saw) are compared as the pooled category.
            pooled: dict[str, int] = {}
            for key, count in cur.counts.items():
                k = key if key in prof.counts else OTHER
                pooled[k] = pooled.get(k, 0) + count
            cur = CategoricalData(pooled)
    stats: dict[str, float] = {}
    comparable = cur.n > 0
    if comparable:
        if isinstance(ref, NumericData) and isinstance(cur, NumericData):
            stats = _numeric_stats(ref, cur)
        elif isinstance(ref, CategoricalData) and isinstance(cur, CategoricalData):
            stats = _categorical_stats(ref, cur)
    miss_change, miss_p = missing_share_change(
        ref_col.missing, ref_col.rows, cur_col.missing, cur_col.rows
    )
    stats.update(
        missing_share_reference=ref_col.missing / ref_col.rows,
        missing_share_current=cur_col.missing / cur_col.rows,
        missing_share_change=miss_change,
        missing_share_p_value=miss_p,
    )
    missing_drifted = miss_change >= MISSING_THRESHOLD and miss_p < level
    if comparable:
        statistic, p_value = _value(plan.primary, stats, ref, cur)
        value_drifted = _passes(statistic, p_value, plan.threshold)
        if plan.test is not None and plan.guard_threshold is not None:
            t_stat, t_p = _value(plan.test, stats, ref, cur)
            value_drifted = value_drifted and _passes(t_stat, t_p, plan.guard_threshold)
    else:
        statistic, p_value, value_drifted = math.nan, None, False
    method, threshold, guard, guard_threshold = plan.primary.name, plan.threshold, None, None
    if plan.test is not None:
        guard, guard_threshold = plan.primary.name, plan.threshold
        small = min(ref.n, cur.n) <= SMALL_SAMPLE
        if small and comparable:
            # Small samples: report the test as the headline, the distance as its guard.
            method, threshold = plan.test.name, float(plan.guard_threshold or 0.0)
            statistic, p_value = _value(plan.test, stats, ref, cur)
            guard, guard_threshold = plan.primary.name, plan.threshold
        else:
            guard, guard_threshold = plan.test.name, plan.guard_threshold
    return ColumnDrift(
        distribution=_distribution(ref, cur) if comparable else None,
        column=name,
        kind=ref_col.kind,
        method=method,
        statistic=float(statistic),
        p_value=p_value,
        threshold=threshold,
        drifted=bool(value_drifted or missing_drifted),
        n_reference=ref.n,
        n_current=cur_col.data.n,
        guard=guard,
        guard_threshold=guard_threshold,
        missing_drifted=bool(missing_drifted),
        statistics=stats,
    )


#: Bins of a numeric column's plot, and categories shown before the rest are summed.
PLOT_BINS = 30
PLOT_CATEGORIES = 20


def _distribution(
    ref: NumericData | CategoricalData, cur: NumericData | CategoricalData
) -> Distribution:
    """Reference vs current shares per plot bin (from raw data, a profile or streamed bins alike)."""
    if isinstance(ref, NumericData) and isinstance(cur, NumericData):
        tails = np.array([0.005, 0.995])
        q_ref, q_cur = ref.quantiles(tails), cur.quantiles(tails)
        lo, hi = float(min(q_ref[0], q_cur[0])), float(max(q_ref[1], q_cur[1]))
        if not (math.isfinite(lo) and math.isfinite(hi)):  # ±inf values: plot the finite range
            finite = np.concatenate((ref.values, cur.values))
            finite = finite[np.isfinite(finite)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        edges = np.linspace(lo, hi, PLOT_BINS + 1)
        if not np.all(np.diff(edges) > 0):
            # One value, or a range too narrow for PLOT_BINS distinct float edges (0 to 5e-324):
            # widen it around its values so every bin has a width.
            pad = max(0.5, 1e-6 * max(abs(lo), abs(hi)))
            edges = np.linspace(lo - pad, hi + pad, PLOT_BINS + 1)
        inner = edges[1:-1]
        shares = [np.diff(np.concatenate(([0.0], d.cdf(inner), [1.0]))) for d in (ref, cur)]
        return Distribution(
            "numeric",
            tuple(float(v) for v in shares[0]),
            tuple(float(v) for v in shares[1]),
            edges=tuple(float(e) for e in edges),
        )
    assert isinstance(ref, CategoricalData) and isinstance(cur, CategoricalData)
    n_ref, n_cur = max(ref.n, 1), max(cur.n, 1)
    keys = sorted(
        set(ref.counts) | set(cur.counts),
        key=lambda k: (-(ref.counts.get(k, 0) / n_ref + cur.counts.get(k, 0) / n_cur), k),
    )
    shown, rest = keys[:PLOT_CATEGORIES], keys[PLOT_CATEGORIES:]
    labels = ["(other values)" if k == OTHER else k for k in shown]
    r = [ref.counts.get(k, 0) / n_ref for k in shown]
    c = [cur.counts.get(k, 0) / n_cur for k in shown]
    if rest:
        labels.append(f"(other: {len(rest)} values)")
        r.append(sum(ref.counts.get(k, 0) for k in rest) / n_ref)
        c.append(sum(cur.counts.get(k, 0) for k in rest) / n_cur)
    return Distribution("categorical", tuple(r), tuple(c), labels=tuple(labels))
