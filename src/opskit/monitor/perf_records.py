"""Records of delayed labels, performance, fairness and monitor checks. Frozen attrs data; no I/O.

``to_dict()`` gives plain JSON-able data, ``summary()`` a terminal table,
``_repr_html_()`` a notebook table.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from opskit.monitor.records import DriftReport

__all__ = [
    "FairnessReport",
    "FairnessWindow",
    "GateOutcome",
    "LabelsLogged",
    "MonitorCheck",
    "PerformanceReport",
    "PerformanceWindow",
]


def _num(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if math.isfinite(value) else str(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{value:.4g}"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


@frozen
class LabelsLogged:
    """What ``log_labels`` stored: ``stored`` labels, of which ``matched`` join a logged prediction.

    ``unknown`` labels name a (request id, row) the prediction log does not hold (yet):
    they are stored all the same (a prediction still in the server's buffer joins once it
    is written) and reported here, ``unknown_examples`` listing up to 10 request ids.
    """

    deployment: str
    stored: int
    matched: int
    unknown: int
    unknown_examples: tuple[str, ...] = ()
    day: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "deployment": self.deployment,
            "stored": self.stored,
            "matched": self.matched,
            "unknown": self.unknown,
            "unknown_examples": list(self.unknown_examples),
            "day": self.day,
        }

    def summary(self) -> str:
        """One line."""
        text = f"{self.stored} label(s) stored for {self.deployment!r}: {self.matched} joined a logged prediction"
        if self.unknown:
            text += (
                f", {self.unknown} name a request not in the prediction log (yet): "
                + ", ".join(self.unknown_examples)
            )
        return text

    def __str__(self) -> str:
        return self.summary()


@frozen
class GateOutcome:
    """One threshold (a validation gate) decided on one variant's latest window."""

    variant: str
    gate: str
    passed: bool
    observed: float | None
    threshold: float | None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "variant": self.variant,
            "gate": self.gate,
            "passed": self.passed,
            "observed": _num(self.observed),
            "threshold": _num(self.threshold),
            "message": self.message,
        }


@frozen
class PerformanceWindow:
    """The metrics of one variant over one time window ``[start, end)`` (epoch seconds, UTC).

    ``count`` is the number of labelled prediction rows the metrics are computed on;
    ``versions`` the model versions that served them.
    """

    variant: str
    start: float
    end: float
    count: int
    metrics: Mapping[str, float]
    versions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "variant": self.variant,
            "start": self.start,
            "end": self.end,
            "count": self.count,
            "versions": list(self.versions),
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
        }


def _stamp(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@frozen
class PerformanceReport:
    """Performance of a deployment per variant per time window, from logged predictions and delayed labels.

    ``task`` is ``classification`` or ``regression``; ``windows`` are ordered by variant,
    then time. ``gates`` hold each threshold decided on each variant's **latest** window
    with labels; ``degraded`` maps variant → whether any of its thresholds failed.
    ``n_predictions`` counts the prediction rows in range, ``n_labelled`` those with a label.
    """

    deployment: str
    task: str
    metrics: tuple[str, ...]
    window: str
    windows: tuple[PerformanceWindow, ...]
    n_predictions: int
    n_labelled: int
    gates: tuple[GateOutcome, ...] = ()
    degraded: Mapping[str, bool] = field(factory=dict)

    @property
    def variants(self) -> list[str]:
        """The variants with labelled predictions, in report order."""
        return list(dict.fromkeys(w.variant for w in self.windows))

    @property
    def degraded_variants(self) -> list[str]:
        """Variants whose latest window breaches a threshold."""
        return [v for v, bad in self.degraded.items() if bad]

    @property
    def any_degraded(self) -> bool:
        """Whether any variant breaches a threshold."""
        return any(self.degraded.values())

    def latest(self, variant: str) -> PerformanceWindow | None:
        """The latest window of *variant* (None: it has no labelled predictions)."""
        found = [w for w in self.windows if w.variant == variant]
        return found[-1] if found else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "deployment": self.deployment,
            "task": self.task,
            "metrics": list(self.metrics),
            "window": self.window,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "windows": [w.to_dict() for w in self.windows],
            "gates": [g.to_dict() for g in self.gates],
            "degraded": dict(self.degraded),
        }

    def to_pandas(self) -> Any:
        """One row per (variant, window): ``variant``, ``start``, ``end``, ``count``, then one column per metric."""
        import pandas as pd

        rows = [
            {
                "variant": w.variant,
                "start": pd.Timestamp(w.start, unit="s", tz="UTC"),
                "end": pd.Timestamp(w.end, unit="s", tz="UTC"),
                "count": w.count,
                **dict(w.metrics),
            }
            for w in self.windows
        ]
        return pd.DataFrame(rows, columns=["variant", "start", "end", "count", *self.metrics])

    def _rows(self) -> list[list[str]]:
        return [
            [
                w.variant,
                _stamp(w.start),
                str(w.count),
                *(_fmt(w.metrics.get(m)) for m in self.metrics),
            ]
            for w in self.windows
        ]

    def summary(self) -> str:
        """A plain-text table, one line per variant and window, then the thresholds."""
        state = f"DEGRADED ({', '.join(self.degraded_variants)})" if self.any_degraded else "ok"
        head = (
            f"Performance of {self.deployment!r} ({self.task}, window {self.window}): {state}; "
            f"{self.n_labelled}/{self.n_predictions} prediction rows labelled"
        )
        lines = [
            head,
            *_text_table(["variant", "window start", "count", *self.metrics], self._rows()),
        ]
        for g in self.gates:
            lines.append(
                f"  {g.variant}: {g.gate} {'ok' if g.passed else 'FAILED'} {g.message}".rstrip()
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        table = _html_table(["variant", "window start", "count", *self.metrics], self._rows())
        return f"<div><strong>{html.escape(self.summary().splitlines()[0])}</strong>{table}</div>"


@frozen
class FairnessWindow:
    """Fairness of one variant over one window for one sensitive column.

    ``by_group`` maps metric → group → value (fairlearn ``MetricFrame.by_group``);
    ``difference`` / ``ratio`` map metric → the parity difference (max − min over groups)
    and ratio (min / max); ``counts`` the rows per group.
    """

    variant: str
    column: str
    start: float
    end: float
    count: int
    by_group: Mapping[str, Mapping[str, float]]
    overall: Mapping[str, float]
    difference: Mapping[str, float]
    ratio: Mapping[str, float]
    counts: Mapping[str, int] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "variant": self.variant,
            "column": self.column,
            "start": self.start,
            "end": self.end,
            "count": self.count,
            "counts": dict(self.counts),
            "overall": {k: _num(v) for k, v in self.overall.items()},
            "by_group": {
                m: {g: _num(v) for g, v in groups.items()} for m, groups in self.by_group.items()
            },
            "difference": {k: _num(v) for k, v in self.difference.items()},
            "ratio": {k: _num(v) for k, v in self.ratio.items()},
        }


@frozen
class FairnessReport:
    """Fairlearn metrics per sensitive column, variant and window, with parity differences and ratios.

    ``frames`` maps ``(column, variant, start)`` to the fairlearn ``MetricFrame`` each
    window was computed with (not part of ``to_dict()``).
    """

    deployment: str
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    window: str
    windows: tuple[FairnessWindow, ...]
    frames: Mapping[tuple[str, str, float], Any] = field(factory=dict, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "deployment": self.deployment,
            "columns": list(self.columns),
            "metrics": list(self.metrics),
            "window": self.window,
            "windows": [w.to_dict() for w in self.windows],
        }

    def _rows(self) -> list[list[str]]:
        return [
            [
                w.column,
                w.variant,
                _stamp(w.start),
                str(w.count),
                *(_fmt(w.difference.get(m)) for m in self.metrics),
            ]
            for w in self.windows
        ]

    def summary(self) -> str:
        """A plain-text table of parity differences, one line per column, variant and window."""
        header = [
            "column",
            "variant",
            "window start",
            "count",
            *(f"{m} diff" for m in self.metrics),
        ]
        head = f"Fairness of {self.deployment!r} (window {self.window})"
        return "\n".join([head, *_text_table(header, self._rows())])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        header = [
            "column",
            "variant",
            "window start",
            "count",
            *(f"{m} diff" for m in self.metrics),
        ]
        return f"<div><strong>{html.escape(self.summary().splitlines()[0])}</strong>{_html_table(header, self._rows())}</div>"


@frozen
class MonitorCheck:
    """One ``opskit.monitor.check(deployment)``: drift of the predictions logged since the last check, and performance.

    ``drift`` compares the inputs of the prediction-log ``batches`` not checked before
    (primary and canary rows, not shadow duplicates) with the stored profile of
    ``reference`` (the version the primary serves); None when there was nothing new or no
    profile (see ``notes``). ``since`` / ``until``: the request times of the rows covered
    (``until`` just after the newest; both the check's time when nothing was new).
    ``performance`` is set when labels exist. ``alert`` is ``drifted or degraded``.
    """

    deployment: str
    since: float | None
    until: float
    rows: int
    reference: str | None
    drift: DriftReport | None
    performance: PerformanceReport | None
    notes: tuple[str, ...] = ()
    #: How many prediction-log batches (index entries) this check took.
    batches: int = 0
    #: Which: ``<day>/<index key>`` of each batch taken (not in ``to_dict``: it can be long).
    batch_keys: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        """Whether the new predictions drifted from the reference profile."""
        return self.drift is not None and self.drift.drifted

    @property
    def degraded(self) -> bool:
        """Whether a performance threshold is breached by any variant."""
        return self.performance is not None and self.performance.any_degraded

    @property
    def alert(self) -> bool:
        """Drift or a breached threshold: ``opskit monitor check`` exits 1."""
        return self.drifted or self.degraded

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "deployment": self.deployment,
            "since": self.since,
            "until": self.until,
            "rows": self.rows,
            "batches": self.batches,
            "reference": self.reference,
            "drifted": self.drifted,
            "degraded": self.degraded,
            "alert": self.alert,
            "notes": list(self.notes),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
        }

    def summary(self) -> str:
        """A few lines: the verdict, then the drift and performance summaries."""
        since = "the start" if self.since is None else _stamp(self.since)
        verdict = "ALERT" if self.alert else "ok"
        lines = [
            f"Monitor check of {self.deployment!r}: {verdict}; {self.rows} new prediction rows "
            f"in {self.batches} batch(es), from {since} to {_stamp(self.until)} "
            f"(reference: {self.reference or '-'})"
        ]
        lines += [f"  note: {n}" for n in self.notes]
        if self.drift is not None:
            lines.append(self.drift.summary())
        if self.performance is not None:
            lines.append(self.performance.summary())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"
