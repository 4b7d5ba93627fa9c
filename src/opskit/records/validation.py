"""The validation record: every data check and quality gate of one run, observed against threshold.

``ValidationResult`` is one check (before the call, on a data argument) or one gate (after
the call, on the returned model's metrics); ``ValidationReport`` holds them all. Records do
no I/O: storing a report with its run and reading it back live in ``opskit.validation``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from attrs import field, frozen

from opskit.records._common import freeze_map

__all__ = ["REPORT_FORMAT", "ResultStatus", "ValidationReport", "ValidationResult"]

#: The version of ``ValidationReport.to_dict()``'s layout (stored with every report).
REPORT_FORMAT = 1

#: ``passed``, ``failed``, or ``error``: the check or gate could not be evaluated.
ResultStatus = Literal["passed", "failed", "error"]
ReportStatus = Literal["passed", "failed", "error"]


def _plain(value: Any) -> Any:
    """A JSON-safe copy of an observed value / threshold (NaN and inf become strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item):
        return _plain(item())
    return repr(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@frozen(kw_only=True)
class ValidationResult:
    """One check or gate.

    ``kind`` is ``"check"`` (on a data argument, before the call) or ``"gate"`` (on the result,
    after it). ``name`` is how it was declared (``between(alcohol, 0, 20)``); ``target`` what it
    looked at (``X_train.alcohol``, a metric name, ``sex``). ``observed`` / ``threshold`` /
    ``incumbent`` are JSON-plain values (None when they do not apply); ``incumbent`` is the
    value the alias holder scored on the same data. ``status`` is ``passed``, ``failed`` or
    ``error`` (could not be evaluated: the message says why). ``duration`` is in seconds.
    """

    kind: Literal["check", "gate"]
    name: str
    status: ResultStatus
    target: str | None = None
    observed: Any = field(default=None, converter=_plain)
    threshold: Any = field(default=None, converter=_plain)
    incumbent: Any = field(default=None, converter=_plain)
    message: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        """True when the check or gate passed."""
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-plain dict (the stored layout)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "target": self.target,
            "observed": self.observed,
            "threshold": self.threshold,
            "incumbent": self.incumbent,
            "message": self.message,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationResult:
        """The result back from ``to_dict()``."""
        return cls(**{k: data[k] for k in _RESULT_KEYS if k in data})


_RESULT_KEYS: tuple[str, ...] = (
    "kind",
    "name",
    "status",
    "target",
    "observed",
    "threshold",
    "incumbent",
    "message",
    "duration",
)


def _results(items: Iterable[ValidationResult]) -> tuple[ValidationResult, ...]:
    return tuple(items)


@frozen(kw_only=True)
class ValidationReport:
    """Every check and gate of one run, and what was decided.

    ``status``: ``failed`` when any check or gate failed, else ``error`` when any could not be
    evaluated, else ``passed`` (an empty report passes). ``incumbent`` is the model version the
    gates compared against (``wine:3``), None when there was none. ``metrics`` /
    ``incumbent_metrics`` are the challenger's and the incumbent's scores on the same
    evaluation data. ``outcome`` says what happened to the model: ``registered``,
    ``rejected`` (registered without moving the alias, marked rejected), ``not_registered``,
    or ``stopped`` (a data check failed: the function never ran).
    """

    results: tuple[ValidationResult, ...] = field(default=(), converter=_results)
    run_id: str | None = None
    model: str | None = None
    incumbent: str | None = None
    metrics: Mapping[str, float] = field(factory=dict, converter=freeze_map)
    incumbent_metrics: Mapping[str, float] = field(factory=dict, converter=freeze_map)
    outcome: str | None = None

    @property
    def status(self) -> ReportStatus:
        """``failed`` if anything failed, else ``error`` if anything could not be evaluated, else ``passed``."""
        statuses = {r.status for r in self.results}
        if "failed" in statuses:
            return "failed"
        if "error" in statuses:
            return "error"
        return "passed"

    @property
    def passed(self) -> bool:
        """True when every check and gate passed."""
        return self.status == "passed"

    @property
    def checks(self) -> tuple[ValidationResult, ...]:
        """The data checks, in declaration order."""
        return tuple(r for r in self.results if r.kind == "check")

    @property
    def gates(self) -> tuple[ValidationResult, ...]:
        """The gates, in declaration order."""
        return tuple(r for r in self.results if r.kind == "gate")

    @property
    def failures(self) -> tuple[ValidationResult, ...]:
        """The results that failed or could not be evaluated."""
        return tuple(r for r in self.results if r.status != "passed")

    # -- conversion ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-plain dict: ``format``, ``status``, ``run_id``, ``model``, ``incumbent``,
        ``metrics``, ``incumbent_metrics``, ``outcome``, ``results`` (list of result dicts)."""
        return {
            "format": REPORT_FORMAT,
            "status": self.status,
            "run_id": self.run_id,
            "model": self.model,
            "incumbent": self.incumbent,
            "metrics": _plain(dict(self.metrics)),
            "incumbent_metrics": _plain(dict(self.incumbent_metrics)),
            "outcome": self.outcome,
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        """``to_dict()`` as JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """The report back from ``to_dict()``; ValueError on a layout newer than this opskit."""
        fmt = int(data.get("format", 1))
        if fmt > REPORT_FORMAT:
            raise ValueError(
                f"validation report format {fmt} is newer than this opskit reads ({REPORT_FORMAT}): upgrade opskit"
            )
        return cls(
            results=[ValidationResult.from_dict(r) for r in data.get("results", ())],
            run_id=data.get("run_id"),
            model=data.get("model"),
            incumbent=data.get("incumbent"),
            metrics=data.get("metrics") or {},
            incumbent_metrics=data.get("incumbent_metrics") or {},
            outcome=data.get("outcome"),
        )

    # -- rendering -------------------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        return [
            (
                r.status.upper(),
                r.kind,
                r.name,
                r.target or "-",
                _fmt(r.observed),
                _fmt(r.threshold),
                _fmt(r.incumbent),
            )
            for r in self.results
        ]

    def _title(self) -> str:
        subject = f" for run {self.run_id}" if self.run_id else ""
        model = f", model {self.model}" if self.model else ""
        vs = f" vs {self.incumbent}" if self.incumbent else ""
        return f"validation {self.status.upper()}{subject}{model}{vs}"

    def summary(self) -> str:
        """A few lines for a terminal: the verdict, then one line per check and gate."""
        lines = [self._title()]
        if self.outcome:
            lines.append(f"  outcome: {self.outcome}")
        for r in self.results:
            vs = f" (incumbent {_fmt(r.incumbent)})" if r.incumbent is not None else ""
            target = f" on {r.target}" if r.target else ""
            lines.append(
                f"  {r.status.upper():6} {r.kind:5} {r.name}{target}: observed {_fmt(r.observed)}"
                f", threshold {_fmt(r.threshold)}{vs}"
                + (f": {r.message}" if r.message and not r.passed else "")
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_markdown(self) -> str:
        """A Markdown section (a heading, the outcome, a table): for ``$GITHUB_STEP_SUMMARY`` and PR comments."""
        icon = {"passed": "✅", "failed": "❌", "error": "⚠️"}

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        out = [f"### {icon[self.status]} opskit {self._title()}", ""]
        if self.outcome:
            out += [f"Outcome: **{self.outcome}**", ""]
        if self.results:
            out.append(
                "| status | kind | name | target | observed | threshold | incumbent | message |"
            )
            out.append("|---|---|---|---|---|---|---|---|")
            for r, row in zip(self.results, self._rows(), strict=True):
                out.append(
                    "| "
                    + " | ".join(cell(c) for c in (icon[r.status] + " " + row[0], *row[1:]))
                    + f" | {cell(r.message)} |"
                )
        else:
            out.append("No checks or gates were declared.")
        return "\n".join(out) + "\n"

    def _repr_html_(self) -> str:
        colour = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a6700"}
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in (
                "status",
                "kind",
                "name",
                "target",
                "observed",
                "threshold",
                "incumbent",
                "message",
            )
        )
        body = "".join(
            "<tr>"
            + f"<td style='color:{colour[r.status]};text-align:left'><b>{row[0]}</b></td>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row[1:])
            + f"<td style='text-align:left'>{html.escape(r.message)}</td></tr>"
            for r, row in zip(self.results, self._rows(), strict=True)
        )
        return (
            f"<div class='opskit-validation'><strong style='color:{colour[self.status]}'>"
            f"{html.escape(self._title())}</strong>"
            + (f"<div>outcome: {html.escape(self.outcome)}</div>" if self.outcome else "")
            + f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )
