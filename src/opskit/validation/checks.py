"""Data checks: declared with ``checks=[...]`` on ``@opskit.train`` / ``@opskit.track``, run before the body.

Every check works on whole column buffers (pandas/NumPy vectorised operations), never
row by row. Which data argument a check looks at (the binding, done by
``opskit.validation.runner``):

* ``on="X_train"``: that argument only;
* a check naming columns: every frame argument that has all of them (a column that no
  frame argument has is a ``ValidationError`` before the body runs);
* ``matches_schema``: the first frame argument holding all the schema's columns (the
  argument the model's signature is taken from), else the first frame argument;
* any other check: every frame argument (a pandas DataFrame).

A custom check is any callable ``(name, value) -> CheckResult | bool``; it sees every data
argument. A pandera ``DataFrameSchema`` is a check too (pandera is imported only then).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from opskit.errors import InvalidModelRef, InvalidPayload, ValidationError
from opskit.names import ModelRef

if TYPE_CHECKING:
    from opskit.records import Schema

__all__ = [
    "Check",
    "CheckResult",
    "as_check",
    "between",
    "custom",
    "in_set",
    "matches_schema",
    "no_drift",
    "not_null",
    "pandera",
    "row_count",
    "unique",
]


@frozen
class CheckResult:
    """What a check found on one argument: ``passed``, the ``observed`` value, the ``threshold``, a ``message``."""

    passed: bool
    observed: Any = None
    threshold: Any = None
    message: str = ""


def _columns(value: str | Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    cols = (value,) if isinstance(value, str) else tuple(value)
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise ValidationError(
            f"{what}: columns must be a column name or a list of column names, got {value!r}"
        )
    return cols


def _on(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.isidentifier()):
        raise ValidationError(
            f"on={value!r} is not an argument name: pass the name of the data argument to check, e.g. on='X_train'"
        )
    return value


def _first_rows(mask: Any, limit: int = 5) -> list[int]:
    import numpy as np

    return [int(i) for i in np.flatnonzero(np.asarray(mask))[:limit]]


@frozen(kw_only=True)
class Check:
    """A data check. Subclasses implement ``run(frame)``; ``columns`` and ``on`` drive the binding."""

    columns: tuple[str, ...] | None = None
    on: str | None = field(default=None, converter=_on)

    @property
    def name(self) -> str:
        """How the check was declared (shown in the report)."""
        return type(self).__name__

    #: True: the check needs a frame (``.columns``); False: it takes any data argument.
    frames_only = True

    def run(self, frame: Any) -> CheckResult:  # pragma: no cover - every check overrides it
        raise NotImplementedError


def _missing_mask(frame: Any) -> Any:
    return frame.isna()


@frozen(kw_only=True)
class _NotNull(Check):
    @property
    def name(self) -> str:
        return f"not_null({', '.join(self.columns)})" if self.columns else "not_null()"

    def run(self, frame: Any) -> CheckResult:
        sub = frame[list(self.columns)] if self.columns else frame
        mask = _missing_mask(sub)
        counts = mask.sum()
        offending = [(c, int(n)) for c, n in counts.items() if n]
        if not offending:
            return CheckResult(True, 0, 0)
        bad = {str(c): n for c, n in offending}
        first = str(offending[0][0])
        rows = _first_rows(mask[offending[0][0]])
        total = sum(bad.values())
        return CheckResult(
            False,
            bad,
            0,
            f"{total} missing value(s): "
            + ", ".join(f"{c!r}: {n}" for c, n in bad.items())
            + f" (column {first!r} first at row(s) {rows}); fill or drop them before training",
        )


def not_null(columns: str | Iterable[str] | None = None, *, on: str | None = None) -> Check:
    """No missing value (None, NaN, NaT, pd.NA) in *columns* (default: every column)."""
    return _NotNull(columns=_columns(columns, "not_null"), on=on)


def _number(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be a number or None, got {value!r}")
    if math.isnan(value):
        raise ValidationError(f"{what} must not be NaN: pass a number or None")
    return float(value)


@frozen(kw_only=True)
class _Between(Check):
    lo: float | None
    hi: float | None
    inclusive: bool = True

    @property
    def name(self) -> str:
        return f"between({self.columns[0] if self.columns else ''}, {self.lo}, {self.hi})"

    def run(self, frame: Any) -> CheckResult:
        import numpy as np

        assert self.columns is not None
        col = self.columns[0]
        series = frame[col]
        try:
            values = series.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            return CheckResult(
                False,
                str(series.dtype),
                [self.lo, self.hi],
                f"column {col!r} has dtype {series.dtype}, not numbers: between() compares numbers",
            )
        present = ~np.isnan(values)
        bad = np.zeros(len(values), dtype=bool)
        if self.lo is not None:
            bad |= present & ((values < self.lo) if self.inclusive else (values <= self.lo))
        if self.hi is not None:
            bad |= present & ((values > self.hi) if self.inclusive else (values >= self.hi))
        observed = (
            [float(values[present].min()), float(values[present].max())] if present.any() else None
        )
        n = int(bad.sum())
        if n == 0:
            return CheckResult(True, observed, [self.lo, self.hi])
        rows = _first_rows(bad)
        shown = [float(values[i]) for i in rows]
        return CheckResult(
            False,
            observed,
            [self.lo, self.hi],
            f"{n} value(s) of column {col!r} outside [{self.lo}, {self.hi}] (rows {rows}: {shown}); "
            "fix the data or widen the range",
        )


def between(
    column: str,
    lo: float | None,
    hi: float | None,
    *,
    inclusive: bool = True,
    on: str | None = None,
) -> Check:
    """Every non-missing value of *column* lies in [*lo*, *hi*] (None: unbounded on that side).

    Missing values are not judged here (use ``not_null``).
    """
    if not isinstance(column, str) or not column:
        raise ValidationError(f"between: column must be a column name, got {column!r}")
    low, high = _number(lo, "between: lo"), _number(hi, "between: hi")
    if low is not None and high is not None and low > high:
        raise ValidationError(f"between({column!r}, {lo}, {hi}): lo is above hi; swap them")
    return _Between(columns=(column,), lo=low, hi=high, inclusive=inclusive, on=on)


@frozen(kw_only=True)
class _InSet(Check):
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        assert self.columns is not None
        shown = ", ".join(map(repr, self.values[:5])) + (", ..." if len(self.values) > 5 else "")
        return f"in_set({self.columns[0]}, {{{shown}}})"

    def run(self, frame: Any) -> CheckResult:
        assert self.columns is not None
        col = self.columns[0]
        series = frame[col]
        bad = (~series.isin(list(self.values)) & series.notna()).to_numpy(dtype=bool)
        n = int(bad.sum())
        if n == 0:
            return CheckResult(True, 0, list(self.values))
        unexpected = series[bad].drop_duplicates().head(5).tolist()
        return CheckResult(
            False,
            unexpected,
            list(self.values),
            f"{n} value(s) of column {col!r} not in the allowed set (e.g. {unexpected!r}, first at rows "
            f"{_first_rows(bad)}); fix the data or add them to the set",
        )


def in_set(column: str, values: Iterable[Any], *, on: str | None = None) -> Check:
    """Every non-missing value of *column* is one of *values*."""
    if not isinstance(column, str) or not column:
        raise ValidationError(f"in_set: column must be a column name, got {column!r}")
    if isinstance(values, str):
        raise ValidationError(
            f"in_set({column!r}, {values!r}): values must be a collection, not one string; wrap it in a list"
        )
    allowed = tuple(values)
    if not allowed:
        raise ValidationError(f"in_set({column!r}, ...): the set of allowed values is empty")
    return _InSet(columns=(column,), values=allowed, on=on)


@frozen(kw_only=True)
class _Unique(Check):
    @property
    def name(self) -> str:
        assert self.columns is not None
        return f"unique({', '.join(self.columns)})"

    def run(self, frame: Any) -> CheckResult:
        assert self.columns is not None
        dup = frame.duplicated(subset=list(self.columns), keep="first").to_numpy(dtype=bool)
        n = int(dup.sum())
        if n == 0:
            return CheckResult(True, 0, 0)
        return CheckResult(
            False,
            n,
            0,
            f"{n} duplicate row(s) on ({', '.join(self.columns)}) (first at rows {_first_rows(dup)}); "
            "drop duplicates before training",
        )


def unique(columns: str | Iterable[str], *, on: str | None = None) -> Check:
    """No two rows share the same values in *columns* (one column or a combination)."""
    return _Unique(columns=_columns(columns, "unique"), on=on)


@frozen(kw_only=True)
class _RowCount(Check):
    min: int | None
    max: int | None

    @property
    def name(self) -> str:
        return f"row_count(min={self.min}, max={self.max})"

    def run(self, frame: Any) -> CheckResult:
        n = len(frame)
        ok = (self.min is None or n >= self.min) and (self.max is None or n <= self.max)
        threshold = [self.min, self.max]
        if ok:
            return CheckResult(True, n, threshold)
        bound = (
            f"at least {self.min}"
            if self.min is not None and n < self.min
            else f"at most {self.max}"
        )
        return CheckResult(False, n, threshold, f"{n} rows, expected {bound}")


def row_count(min: int | None = None, max: int | None = None, *, on: str | None = None) -> Check:
    """The frame has at least *min* and at most *max* rows."""
    for what, v in (("min", min), ("max", max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValidationError(
                f"row_count: {what} must be a non-negative int or None, got {v!r}"
            )
    if min is None and max is None:
        raise ValidationError("row_count() needs min= or max=")
    if min is not None and max is not None and min > max:
        raise ValidationError(f"row_count(min={min}, max={max}): min is above max")
    return _RowCount(min=min, max=max, on=on)


@frozen(kw_only=True)
class MatchesSchema(Check):
    """The frame is what a deployment of the model accepts: same columns, values valid for the dtypes.

    One implementation with the model server (``opskit.coerce.check_frame``): the same
    mismatch gives the same message here and in a deployment's 400 response.
    """

    ref: str | None = None
    schema: Schema | None = None
    allow_extra: bool = False

    @property
    def name(self) -> str:
        return f"matches_schema({self.ref})" if self.ref else "matches_schema(<schema>)"

    def run(self, frame: Any) -> CheckResult:  # pragma: no cover - the runner calls check_with
        raise NotImplementedError("the runner resolves the schema first")

    def check_with(self, frame: Any, schema: Schema) -> CheckResult:
        """Check *frame* against *schema* (resolved from ``ref`` by the runner)."""
        from opskit.coerce import check_frame

        try:
            check_frame(frame, schema, allow_extra=self.allow_extra)
        except InvalidPayload as exc:
            return CheckResult(False, exc.field, None, str(exc))
        return CheckResult(True, None, None)


def matches_schema(
    ref_or_schema: str | ModelRef | Schema,
    *,
    on: str | None = None,
    allow_extra: bool = False,
) -> Check:
    """The data matches a model's input schema: column names, dtypes (pandas nullable ones too), categories.

    *ref_or_schema* is a model reference (``"wine@production"``: the signature stored with
    that version; it passes, saying so, while the reference resolves to nothing) or an
    ``opskit.Schema``. The rules are the model server's: a frame this check accepts is one
    a deployment of that version accepts, and a refused one gets the same message.
    *allow_extra* accepts columns the schema does not have (a target column in the frame).
    """
    from opskit.records import Schema

    if isinstance(ref_or_schema, Schema):
        return MatchesSchema(schema=ref_or_schema, on=on, allow_extra=allow_extra)
    try:
        ref = ModelRef.parse(ref_or_schema)
    except InvalidModelRef as exc:
        raise ValidationError(
            f"matches_schema({ref_or_schema!r}): {exc}; or pass an opskit.Schema"
        ) from None
    return MatchesSchema(ref=str(ref), on=on, allow_extra=allow_extra)


@frozen(kw_only=True)
class _NoDrift(Check):
    reference: Any
    options: Any = None

    @property
    def name(self) -> str:
        kind = type(self.reference).__name__
        return (
            f"no_drift({self.reference!r})"
            if isinstance(self.reference, str)
            else f"no_drift(<{kind}>)"
        )

    def _resolve(self) -> tuple[Any, str]:
        """The reference to compare with, or None and why there is nothing to compare with yet."""
        if not isinstance(self.reference, str):
            return self.reference, ""
        from opskit.monitor.data import is_parquet_path

        if is_parquet_path(self.reference):
            return self.reference, ""
        from opskit.errors import ModelNotFound, ProfileNotFound
        from opskit.monitor.stored import reference_profile

        try:
            return reference_profile(self.reference), ""
        except ModelNotFound:
            return None, f"no version {self.reference} yet: nothing to compare with"
        except ProfileNotFound as exc:
            return None, f"nothing to compare with: {exc}"

    def run(self, frame: Any) -> CheckResult:
        from opskit.monitor.detect import DRIFT_SHARE, drift
        from opskit.monitor.records import ReferenceProfile

        options = dict(self.options or {})
        share = options.get("drift_share", DRIFT_SHARE)
        reference, note = self._resolve()
        if reference is None:
            return CheckResult(True, None, share, note)
        columns = list(self.columns) if self.columns else None
        if columns is None:
            # Compare the reference's columns this frame has (a frame may hold only some).
            if isinstance(reference, ReferenceProfile):
                ref_names: list[str] | None = list(reference.columns)
            elif hasattr(reference, "column_names") or hasattr(reference, "columns"):
                raw = getattr(reference, "column_names", None) or reference.columns
                ref_names = [str(c) for c in raw]
            else:
                ref_names = None  # a Parquet path: drift() names a missing column
            if ref_names is not None:
                have = {str(c) for c in frame.columns}
                columns = [c for c in ref_names if c in have]
                if not columns:
                    return CheckResult(
                        True,
                        None,
                        share,
                        "no column of the reference in this argument: nothing to compare",
                    )
        report = drift(reference, frame, columns=columns, **options)
        drifted = report.drifted_columns
        if not report.drifted:
            return CheckResult(
                True, report.share_drifted, report.drift_share, report.summary().splitlines()[0]
            )
        detail = "; ".join(
            f"{c.column}: {c.method} {c.statistic:.4g} (threshold {c.threshold:.4g})"
            for c in report.columns.values()
            if c.drifted
        )
        return CheckResult(
            False,
            report.share_drifted,
            report.drift_share,
            f"{len(drifted)} drifted column(s): {', '.join(drifted)} (share {report.share_drifted:.2f} >= "
            f"{report.drift_share:g}); the data differs from the reference ({detail}). "
            "opskit.monitor.drift(...).to_html('drift.html') shows the distributions; pass "
            "drift_share=/thresholds= if the change is expected",
        )


def _check_drift_options(options: Mapping[str, Any]) -> None:
    """``no_drift``'s options well-formed (the rule ``drift`` itself applies), or ``ValidationError`` at declaration."""
    from opskit.monitor.detect import option_problem

    known = ("methods", "thresholds", "workers", "drift_share", "alpha")
    problem = option_problem(**{k: options[k] for k in known if k in options})
    if problem is not None:
        raise ValidationError(f"no_drift: {problem}")


def no_drift(
    reference: Any,
    *,
    columns: str | Iterable[str] | None = None,
    on: str | None = None,
    **options: Any,
) -> Check:
    """The data does not drift from *reference*: ``opskit.monitor.drift(reference, frame).drifted`` is False.

    *reference* is a model reference (``"wine@production"``: the profile stored with that
    version at registration; the check passes, saying so, while it resolves to no version
    or to a version without a profile, as ``matches_schema`` does), a ``ReferenceProfile``,
    a DataFrame/Arrow table or a Parquet path. *columns*: compare only these (default: the
    reference's columns the frame has). *options* go to ``drift`` (``methods``,
    ``thresholds``, ``drift_share``, ``alpha``, ``workers``). Fails when the dataset drifts,
    naming each drifted column with its statistic and threshold.
    """
    from opskit.distribution import require_extra

    require_extra("monitor", "checks.no_drift", ("numpy", "scipy", "pandas", "pyarrow"))
    allowed = {"methods", "thresholds", "drift_share", "alpha", "workers"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValidationError(
            f"no_drift: unknown option(s) {', '.join(unknown)}; it takes {', '.join(sorted(allowed))}"
        )
    if reference is None:
        raise ValidationError(
            "no_drift(None): pass a model reference ('wine@production'), a ReferenceProfile, "
            "a DataFrame or a Parquet path"
        )
    if isinstance(reference, str):
        from opskit.monitor.data import is_parquet_path

        if not is_parquet_path(reference):
            try:
                ModelRef.parse(reference)
            except InvalidModelRef as exc:
                raise ValidationError(
                    f"no_drift({reference!r}): {exc}; or pass a ReferenceProfile, a DataFrame or a Parquet path"
                ) from None
    _check_drift_options(options)
    share = options.get("drift_share")
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share <= 1.0
    ):
        raise ValidationError(f"no_drift: drift_share must be in (0, 1], got {share!r}")
    alpha = options.get("alpha")
    if alpha is not None and (
        isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha < 1.0
    ):
        raise ValidationError(f"no_drift: alpha must be in (0, 1), got {alpha!r}")
    return _NoDrift(
        reference=reference, options=dict(options), columns=_columns(columns, "no_drift"), on=on
    )


@frozen(kw_only=True)
class _Custom(Check):
    fn: Callable[[str, Any], Any]
    label: str

    frames_only = False

    @property
    def name(self) -> str:
        return self.label

    def call(self, arg: str, value: Any) -> CheckResult:
        out = self.fn(arg, value)
        if isinstance(out, CheckResult):
            return out
        if isinstance(out, bool) or type(out).__name__ == "bool_":
            return CheckResult(bool(out))
        raise ValidationError(
            f"check {self.label} returned {out!r}: a check returns a CheckResult or a bool"
        )


def custom(
    fn: Callable[[str, Any], Any], *, on: str | None = None, name: str | None = None
) -> Check:
    """A check from a callable ``(argument_name, value) -> CheckResult | bool``; every data argument, or *on*."""
    if not callable(fn):
        raise ValidationError(f"custom check {fn!r} is not callable")
    label = name or getattr(fn, "__name__", None) or repr(fn)
    return _Custom(fn=fn, label=str(label), on=on)


@frozen(kw_only=True)
class _Pandera(Check):
    schema: Any

    @property
    def name(self) -> str:
        return f"pandera({getattr(self.schema, 'name', None) or 'DataFrameSchema'})"

    def run(self, frame: Any) -> CheckResult:
        import pandera.errors as pa_errors

        try:
            self.schema.validate(frame, lazy=True)
        except pa_errors.SchemaErrors as exc:
            cases = exc.failure_cases
            n = len(cases)
            head = cases.head(5)
            shown = "; ".join(
                f"{r.get('column')}: {r.get('check')} failed for {r.get('failure_case')!r}"
                + (f" at row {r.get('index')}" if r.get("index") is not None else "")
                for r in head.to_dict("records")
            )
            return CheckResult(False, n, 0, f"{n} pandera failure(s): {shown}")
        except pa_errors.SchemaError as exc:
            return CheckResult(False, 1, 0, f"pandera: {exc}")
        return CheckResult(True, 0, 0)


def pandera(schema: Any, *, on: str | None = None) -> Check:
    """A pandera ``DataFrameSchema`` as a check (every failure case counted, the first five shown)."""
    cols = getattr(schema, "columns", None)
    if not isinstance(cols, dict) or not callable(getattr(schema, "validate", None)):
        raise ValidationError(f"{schema!r} is not a pandera DataFrameSchema")
    required = tuple(
        str(k)
        for k, c in cols.items()
        if getattr(c, "required", True) and not getattr(c, "regex", False)
    )
    return _Pandera(schema=schema, columns=required or None, on=on)


def _is_pandera(value: object) -> bool:
    module = type(value).__module__
    return module.startswith("pandera") and type(value).__name__ == "DataFrameSchema"


def as_check(value: object) -> Check:
    """A declared check as a ``Check``: a check, a pandera ``DataFrameSchema``, or a callable ``(name, value)``."""
    if isinstance(value, Check):
        return value
    if _is_pandera(value):
        return pandera(value)
    if callable(value) and not isinstance(value, type):
        return custom(value)
    raise ValidationError(
        f"{value!r} is not a data check: use opskit.checks.not_null(), between(), in_set(), unique(), "
        "row_count(), matches_schema(), a pandera DataFrameSchema, or a callable (name, value) -> bool"
    )


def as_checks(values: Sequence[object] | None) -> tuple[Check, ...]:
    """``checks=`` as a tuple of ``Check`` (``ValidationError`` for anything else)."""
    if values is None:
        return ()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | tuple | list):
        raise ValidationError(f"checks= must be a list of checks, got {values!r}")
    return tuple(as_check(v) for v in values)
