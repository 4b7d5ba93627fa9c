"""Monitoring records: drift reports and reference profiles. Frozen attrs data; no I/O, no numpy.

``to_dict()`` gives plain JSON-able data; ``summary()`` a terminal table; ``_repr_html_()``
a notebook table. A :class:`ReferenceProfile` round-trips through ``to_json()`` /
``ReferenceProfile.from_json()``.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from opskit.errors import InvalidDataset

__all__ = [
    "PROFILE_SCHEMA_VERSION",
    "CategoricalProfile",
    "ColumnDrift",
    "Distribution",
    "DriftReport",
    "NumericProfile",
    "ReferenceProfile",
]

PROFILE_SCHEMA_VERSION = 1


def _num(value: float | None) -> float | str | None:
    """A float for JSON: NaN and infinities become strings (JSON has no literal for them)."""
    if value is None:
        return None
    if math.isfinite(value):
        return value
    return str(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


@frozen
class Distribution:
    """One column's distribution, reference vs current, for plots: shares of non-missing values per bin.

    Numeric: ``edges`` are the ``len(reference) + 1`` bin edges (equal width over both
    sides' 0.5-99.5 % quantile range; the first and last bins also hold the values
    beyond), ``labels`` is empty. Categorical: ``labels`` are the categories (the most
    frequent ones; the rest summed into a last ``(other: N values)`` label), ``edges``
    is empty. Computed from whatever the report compared, a stored profile included.
    """

    kind: str
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "kind": self.kind,
            "edges": [_num(e) for e in self.edges],
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
        }


@frozen
class ColumnDrift:
    """Drift of one column between reference and current data.

    ``method`` is the statistic that decided ``drifted``; ``statistic`` its value and
    ``p_value`` its p-value (``None`` for a distance). ``threshold`` is the decision
    threshold (a p-value test drifts when ``p_value < threshold``, a distance when
    ``statistic >= threshold``). ``guard`` names the effect-size statistic that must also
    reach its threshold for a p-value test to count (``None`` when there is no guard).
    ``statistics`` holds every statistic computed for the column by name (KS ``ks`` and
    ``ks_p_value``, ``wasserstein`` in column units, ``wasserstein_norm`` in reference
    standard deviations, ``psi``, ``chisquare`` and ``chisquare_p_value``,
    ``jensenshannon``, ``missing_share_reference``/``current``/``change``/``p_value``).
    """

    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    guard: str | None = None
    guard_threshold: float | None = None
    missing_drifted: bool = False
    statistics: Mapping[str, float] = field(factory=dict)
    #: Reference vs current shares per bin, for the report's plots (None: nothing to plot).
    distribution: Distribution | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (non-finite floats as strings)."""
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "threshold": _num(self.threshold),
            "drifted": self.drifted,
            "guard": self.guard,
            "guard_threshold": _num(self.guard_threshold),
            "missing_drifted": self.missing_drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "statistics": {k: _num(v) for k, v in self.statistics.items()},
            "distribution": None if self.distribution is None else self.distribution.to_dict(),
        }


@frozen
class DriftReport:
    """Dataset-level drift: per-column results and the share of drifted columns.

    ``drifted`` is ``share_drifted >= drift_share``. ``columns`` maps column name to
    :class:`ColumnDrift`, in the reference's column order. ``ignored_columns`` lists
    columns of the current data that the reference does not have (not compared).
    """

    columns: Mapping[str, ColumnDrift]
    drift_share: float
    n_reference: int
    n_current: int
    reference_source: str
    current_source: str
    ignored_columns: tuple[str, ...] = ()

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns flagged as drifted."""
        return [name for name, col in self.columns.items() if col.drifted]

    @property
    def share_drifted(self) -> float:
        """Drifted columns / compared columns (0.0 when no column was compared)."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        """Whether the dataset drifted: ``share_drifted >= drift_share``."""
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "drift_share": _num(self.drift_share),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "reference_source": self.reference_source,
            "current_source": self.current_source,
            "ignored_columns": list(self.ignored_columns),
            "columns": {name: col.to_dict() for name, col in self.columns.items()},
        }

    def _rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        return [
            (
                c.column,
                c.kind,
                c.method,
                _fmt(c.statistic),
                _fmt(c.p_value),
                _fmt(c.threshold),
                "DRIFT" if c.drifted else "ok",
            )
            for c in self.columns.values()
        ]

    def summary(self) -> str:
        """A plain-text table, one line per column."""
        head = (
            f"Drift: {'DRIFTED' if self.drifted else 'no drift'} - {len(self.drifted_columns)}/{len(self.columns)} "
            f"columns drifted (share {self.share_drifted:.2f}, threshold {self.drift_share:.2f}); "
            f"reference: {self.reference_source} ({self.n_reference} rows); "
            f"current: {self.current_source} ({self.n_current} rows)"
        )
        header = ("column", "kind", "method", "statistic", "p-value", "threshold", "result")
        rows = [header, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        return "\n".join([head, *lines])

    def __str__(self) -> str:
        return self.summary()

    def rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        """One formatted row per column: column, kind, method, statistic, p-value, threshold, result."""
        return self._rows()

    def _repr_html_(self) -> str:
        from opskit.monitor.report_html import notebook_html

        return notebook_html(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as one self-contained HTML file (Plotly inline, no network); return its path."""
        from opskit.monitor.report_html import write_html

        return write_html(self, path)

    def to_markdown(self) -> str:
        """The report as Markdown (a summary line and one table row per column), for CI comments."""
        from opskit.monitor.report_html import markdown

        return markdown(self)


@frozen
class NumericProfile:
    """A numeric column's reference sketch.

    ``points`` are ``len(points)`` equally weighted points, ascending: the sorted
    non-missing values cut into equal-count bins, each bin represented by its mean (so the
    sketch's CDF is within ``1 / len(points)`` of the data's); when the column has no more
    non-missing values than the sketch size they are the values themselves
    (``exact=True``). ``count`` is the number of non-missing values, ``missing`` the
    number of missing ones (null or NaN); ``mean``/``std`` (population, ddof=0) are exact.
    """

    points: tuple[float, ...]
    count: int
    missing: int
    mean: float
    std: float
    min: float
    max: float
    exact: bool

    kind = "numeric"


@frozen
class CategoricalProfile:
    """A categorical column's reference counts: value (as a string) → count.

    At most the profile's ``max_categories`` most frequent values are kept; the rest are
    summed into ``other`` (their number of distinct values in ``other_distinct``).
    """

    counts: Mapping[str, int]
    missing: int
    other: int = 0
    other_distinct: int = 0

    kind = "categorical"

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.other


ColumnProfile = NumericProfile | CategoricalProfile


def _check_column(name: str, col: ColumnProfile) -> None:
    """``InvalidDataset`` for a column no ``profile()`` makes (a damaged or hand-edited profile)."""
    problem = ""
    if isinstance(col, NumericProfile):
        points = col.points
        if not points:
            problem = "no sketch points"
        elif any(math.isnan(p) for p in points):
            problem = "a NaN sketch point"
        elif any(b < a for a, b in itertools.pairwise(points)):
            problem = "sketch points out of order"
        elif col.count < len(points) or (col.exact and col.count != len(points)):
            problem = f"count {col.count} for {len(points)} sketch points"
        elif col.missing < 0:
            problem = f"missing {col.missing}"
        elif col.std < 0 or col.min > col.max:
            problem = f"std {col.std}, min {col.min}, max {col.max}"
    else:
        negative = {k: v for k, v in col.counts.items() if v < 0}
        if negative:
            problem = f"negative counts {negative}"
        elif min(col.missing, col.other, col.other_distinct) < 0:
            problem = (
                f"missing {col.missing}, other {col.other}, other_distinct {col.other_distinct}"
            )
        elif not sum(col.counts.values()) + col.other:
            problem = "no counted value"
    if problem:
        raise InvalidDataset(
            f"reference profile column {name!r} is damaged ({problem}); build the profile again "
            "with opskit.monitor.profile(data)"
        )


@frozen
class ReferenceProfile:
    """A compact profile of reference (training) data: enough to compute drift without it.

    ``columns`` maps name → :class:`NumericProfile` or :class:`CategoricalProfile`, in the
    data's column order; ``rows`` is the row count. Build one with
    ``opskit.monitor.profile(data)``; pass it as ``drift(reference=profile, ...)``.
    """

    columns: Mapping[str, ColumnProfile]
    rows: int
    sketch_size: int
    max_categories: int
    schema_version: int = PROFILE_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; ``ReferenceProfile.from_dict`` reverses it exactly."""
        cols: dict[str, Any] = {}
        for name, col in self.columns.items():
            if isinstance(col, NumericProfile):
                cols[name] = {
                    "kind": "numeric",
                    "points": list(col.points),
                    "count": col.count,
                    "missing": col.missing,
                    "mean": col.mean,
                    "std": col.std,
                    "min": col.min,
                    "max": col.max,
                    "exact": col.exact,
                }
            else:
                cols[name] = {
                    "kind": "categorical",
                    "counts": dict(col.counts),
                    "missing": col.missing,
                    "other": col.other,
                    "other_distinct": col.other_distinct,
                }
        return {
            "schema_version": self.schema_version,
            "rows": self.rows,
            "sketch_size": self.sketch_size,
            "max_categories": self.max_categories,
            "columns": cols,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Rebuild a profile from ``to_dict()`` output; raises ``InvalidDataset`` if malformed."""
        try:
            version = int(data["schema_version"])
            if version > PROFILE_SCHEMA_VERSION:
                raise InvalidDataset(
                    f"reference profile has schema version {version}; this opskit reads up to "
                    f"{PROFILE_SCHEMA_VERSION}: upgrade opskit"
                )
            columns: dict[str, ColumnProfile] = {}
            for name, col in data["columns"].items():
                if col["kind"] == "numeric":
                    columns[name] = NumericProfile(
                        points=tuple(float(p) for p in col["points"]),
                        count=int(col["count"]),
                        missing=int(col["missing"]),
                        mean=float(col["mean"]),
                        std=float(col["std"]),
                        min=float(col["min"]),
                        max=float(col["max"]),
                        exact=bool(col["exact"]),
                    )
                elif col["kind"] == "categorical":
                    columns[name] = CategoricalProfile(
                        counts={str(k): int(v) for k, v in col["counts"].items()},
                        missing=int(col["missing"]),
                        other=int(col["other"]),
                        other_distinct=int(col["other_distinct"]),
                    )
                else:
                    raise InvalidDataset(
                        f"reference profile column {name!r} has unknown kind {col['kind']!r}"
                    )
            for name, prof in columns.items():
                _check_column(name, prof)
            for key in ("rows", "sketch_size", "max_categories"):
                if int(data[key]) < (0 if key == "rows" else 1):
                    raise InvalidDataset(f"reference profile has {key}={data[key]!r}")
            return cls(
                columns=columns,
                rows=int(data["rows"]),
                sketch_size=int(data["sketch_size"]),
                max_categories=int(data["max_categories"]),
                schema_version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, InvalidDataset):
                raise
            raise InvalidDataset(
                f"not a reference profile ({type(exc).__name__}: {exc}); build one with opskit.monitor.profile(data)"
            ) from exc

    def to_json(self) -> str:
        """The profile as a JSON string (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidDataset(f"reference profile JSON does not parse: {exc}") from exc
        if not isinstance(data, Mapping):
            raise InvalidDataset(
                f"reference profile JSON is a {type(data).__name__}, not an object"
            )
        return cls.from_dict(data)

    def summary(self) -> str:
        """One line per column."""
        lines = [f"Reference profile: {self.rows} rows, {len(self.columns)} columns"]
        for name, col in self.columns.items():
            if isinstance(col, NumericProfile):
                lines.append(
                    f"  {name}: numeric, {col.count} values, {col.missing} missing, mean {_fmt(col.mean)}, "
                    f"std {_fmt(col.std)}, range [{_fmt(col.min)}, {_fmt(col.max)}]"
                )
            else:
                lines.append(
                    f"  {name}: categorical, {len(col.counts)} values kept, {col.missing} missing"
                )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(line.strip())}</td></tr>"
            for line in self.summary().splitlines()[1:]
        )
        return (
            f"<div><strong>Reference profile</strong>: {self.rows} rows<table>{rows}</table></div>"
        )
