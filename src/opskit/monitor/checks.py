"""``checks.no_drift(reference=...)``: a data check (``checks=[...]``) built on ``opskit.monitor.drift``.

::

    @opskit.train(model="wine", checks=[checks.no_drift("wine@production")])
    def train(X_train, y_train): ...

Training on data that drifted from what the production model was trained on stops
before the body runs (``ValidationFailed``, the run FAILED with the report). numpy,
scipy and pandas load only when the check runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from opskit.errors import InvalidModelRef, ModelNotFound, ProfileNotFound, ValidationError
from opskit.validation.checks import Check, CheckResult

__all__ = ["NoDrift", "no_drift"]


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


@frozen(kw_only=True)
class NoDrift(Check):
    """The data has not drifted from *reference* (``drift(reference, frame).drifted`` is False)."""

    reference: object
    label: str
    drift_share: float | None = None
    alpha: float | None = None
    methods: Mapping[str, str] | None = field(default=None, converter=_plain)
    thresholds: Mapping[str, float] | None = field(default=None, converter=_plain)

    @property
    def name(self) -> str:
        return f"no_drift({self.label})"

    def _reference(self) -> tuple[object | None, str]:
        if not isinstance(self.reference, str):
            return self.reference, ""
        from opskit.monitor.data import is_parquet_path

        if is_parquet_path(self.reference):
            return self.reference, ""
        from opskit.monitor.stored import reference_profile

        try:
            return reference_profile(self.reference), ""
        except ModelNotFound:
            return None, f"no version {self.reference} yet: nothing to compare with"
        except ProfileNotFound as exc:
            return None, f"nothing to compare with: {exc}"

    def run(self, frame: Any) -> CheckResult:
        from opskit.monitor.detect import ALPHA, DRIFT_SHARE, drift
        from opskit.monitor.records import ReferenceProfile

        reference, note = self._reference()
        if reference is None:
            return CheckResult(True, None, None, note)
        share = DRIFT_SHARE if self.drift_share is None else self.drift_share
        names = [str(c) for c in frame.columns]
        compared: list[str] | None
        if self.columns is not None:
            compared = list(self.columns)
        else:
            ref_names = (
                list(reference.columns)
                if isinstance(reference, ReferenceProfile)
                else None  # data: drift() compares its columns and names a missing one
            )
            compared = [c for c in ref_names if c in names] if ref_names is not None else None
            if compared == []:
                return CheckResult(
                    True,
                    None,
                    share,
                    f"no column of {self.label} in this argument: nothing to compare",
                )
        report = drift(
            reference=reference,
            current=frame,
            columns=compared,
            drift_share=share,
            alpha=ALPHA if self.alpha is None else self.alpha,
            methods=self.methods,
            thresholds=self.thresholds,
        )
        observed = {
            "share_drifted": report.share_drifted,
            "drifted_columns": report.drifted_columns,
        }
        if not report.drifted:
            return CheckResult(True, observed, share, report.summary().splitlines()[0])
        detail = "; ".join(
            f"{c.column}: {c.method} {c.statistic:.4g} (threshold {c.threshold:.4g})"
            for c in report.columns.values()
            if c.drifted
        )
        return CheckResult(
            False,
            observed,
            share,
            f"{len(report.drifted_columns)}/{len(report.columns)} columns drifted from {self.label} "
            f"(share {report.share_drifted:.2f} >= {share:.2f}): {detail}. Check the data "
            "(opskit.monitor.drift(...).to_html('drift.html') shows the distributions), or pass "
            "drift_share=/thresholds= to no_drift if the change is expected",
        )


def no_drift(
    reference: object,
    *,
    columns: str | Iterable[str] | None = None,
    on: str | None = None,
    drift_share: float | None = None,
    alpha: float | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Check:
    """The data has not drifted from *reference*: ``opskit.monitor.drift(reference, data).drifted`` is False.

    *reference* is a model reference (``"wine@production"``: the profile stored with that
    version; the check passes, saying so, while the reference resolves to nothing or the
    version has no profile), a ``ReferenceProfile``, reference data or a Parquet path.
    *columns*: compare only these (the check then binds to the frames having them all);
    default: the reference's columns the frame has. *drift_share*, *alpha*, *methods*,
    *thresholds*: as for ``drift()``. A failure's message names every drifted column with
    its statistic and threshold.
    """
    from opskit.monitor.records import ReferenceProfile

    if isinstance(reference, str):
        from opskit.monitor.data import is_parquet_path

        if not is_parquet_path(reference):
            from opskit.names import ModelRef

            try:
                label = str(ModelRef.parse(reference))
            except InvalidModelRef as exc:
                raise ValidationError(
                    f"no_drift({reference!r}): {exc}; or pass a ReferenceProfile, data or a Parquet path"
                ) from None
        else:
            label = reference
    elif isinstance(reference, ReferenceProfile):
        label = "<profile>"
    elif reference is None:
        raise ValidationError(
            "no_drift(None): pass a model reference ('wine@production'), a ReferenceProfile or data"
        )
    else:
        label = f"<{type(reference).__name__}>"
    if drift_share is not None and not 0.0 < drift_share <= 1.0:
        raise ValidationError(f"no_drift: drift_share must be in (0, 1], got {drift_share!r}")
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise ValidationError(f"no_drift: alpha must be in (0, 1), got {alpha!r}")
    if isinstance(columns, str):
        cols: tuple[str, ...] | None = (columns,)
    else:
        cols = tuple(columns) if columns is not None else None
    if cols is not None and (not cols or not all(isinstance(c, str) and c for c in cols)):
        raise ValidationError(
            f"no_drift: columns must be a column name or a list of them, got {columns!r}"
        )
    return NoDrift(
        reference=reference,
        label=label,
        columns=cols,
        on=on,
        drift_share=drift_share,
        alpha=alpha,
        methods=methods,
        thresholds=thresholds,
    )
