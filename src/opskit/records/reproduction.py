"""The record of ``opskit.reproduce``: what differed in the environment, and what came out the same.

Data only: no method does I/O. ``to_dict()`` is plain JSON (what ``opskit reproduce --json`` prints).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table

__all__ = ["EnvironmentDiff", "MetricComparison", "Reproduction", "metrics_match"]


def _pairs(value: Mapping[str, tuple[str, str]] | None) -> Mapping[str, Any]:
    return _freeze_map({k: (str(a), str(b)) for k, (a, b) in (value or {}).items()})


def _metrics(items: Iterable[MetricComparison]) -> tuple[MetricComparison, ...]:
    return tuple(items)


def metrics_match(original: float | None, new: float | None, tolerance: float) -> bool:
    """Both present and equal within *tolerance* (absolute, and relative to the larger); NaN matches NaN."""
    if original is None or new is None:
        return False
    if math.isnan(original) or math.isnan(new):
        return math.isnan(original) and math.isnan(new)
    return math.isclose(original, new, rel_tol=tolerance, abs_tol=tolerance)


@frozen
class EnvironmentDiff:
    """What differs between the environment of a run and another one (``None`` where equal).

    ``python`` / ``implementation`` / ``platform`` are ``(original, current)`` pairs; packages
    are by distribution name: ``added`` (only now) and ``removed`` (only then) map to a version,
    ``changed`` to ``(original, current)``. ``packages_known`` is False when the run did not
    capture its packages (``capture_env = false``): then no package difference can be shown.
    """

    python: tuple[str, str] | None = None
    implementation: tuple[str, str] | None = None
    platform: tuple[str, str] | None = None
    added: Mapping[str, str] = field(factory=dict, converter=_freeze_map)
    removed: Mapping[str, str] = field(factory=dict, converter=_freeze_map)
    changed: Mapping[str, tuple[str, str]] = field(factory=dict, converter=_pairs)
    packages_known: bool = True

    @property
    def same(self) -> bool:
        """True when nothing captured differs."""
        return not (
            self.python
            or self.implementation
            or self.platform
            or self.added
            or self.removed
            or self.changed
        )

    def lines(self) -> list[str]:
        """One line per difference (no line when the environments are the same)."""
        out = []
        for label, pair in (
            ("Python", self.python),
            ("implementation", self.implementation),
            ("platform", self.platform),
        ):
            if pair:
                out.append(f"{label}: {pair[0]} -> {pair[1]}")
        out += [f"changed: {k} {a} -> {b}" for k, (a, b) in sorted(self.changed.items())]
        out += [f"added:   {k} {v}" for k, v in sorted(self.added.items())]
        out += [f"removed: {k} {v}" for k, v in sorted(self.removed.items())]
        if not self.packages_known:
            out.append("packages: not captured by the original run (capture_env was off)")
        return out

    def summary(self) -> str:
        lines = self.lines()
        if not lines:
            return "environment: the same as the original run's"
        return "environment differences (original -> now):\n" + "\n".join(
            "  " + line for line in lines
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": list(self.python) if self.python else None,
            "implementation": list(self.implementation) if self.implementation else None,
            "platform": list(self.platform) if self.platform else None,
            "added": dict(self.added),
            "removed": dict(self.removed),
            "changed": {k: list(v) for k, v in self.changed.items()},
            "packages_known": self.packages_known,
        }


@frozen
class MetricComparison:
    """One metric: its latest value in the original run and in the reproduction (None: not logged)."""

    key: str
    original: float | None
    new: float | None
    match: bool

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "original": self.original, "new": self.new, "match": self.match}


@frozen
class Reproduction:
    """The outcome of ``opskit.reproduce(run_id)``.

    ``matched`` is True when every metric of either run matches within ``tolerance`` and, when
    the original run registered a model, the reproduction's serialized model has the same bytes
    (the same blob digest). ``function_source`` says how the function was loaded: ``"pickle"``
    (captured by value) or ``"git:COMMIT:PATH"`` (its source at the recorded commit).
    """

    original_run_id: str
    run_id: str
    environment: EnvironmentDiff
    metrics: tuple[MetricComparison, ...] = field(default=(), converter=_metrics)
    tolerance: float = 1e-9
    original_model: str | None = None
    new_model: str | None = None
    original_model_digest: str | None = None
    new_model_digest: str | None = None
    function_source: str = "pickle"
    seed: int | None = None

    @property
    def model_identical(self) -> bool | None:
        """Whether both models' serialized bytes are identical; None when the original has no model."""
        if self.original_model_digest is None:
            return None
        return self.original_model_digest == self.new_model_digest

    @property
    def metrics_matched(self) -> bool:
        return all(m.match for m in self.metrics)

    @property
    def matched(self) -> bool:
        """Every metric within the tolerance, and the same model bytes (when there is a model)."""
        return self.metrics_matched and self.model_identical is not False

    def summary(self) -> str:
        verdict = "MATCHED" if self.matched else "DIFFERS"
        lines = [
            f"reproduction of run {self.original_run_id} -> run {self.run_id}: {verdict}",
            f"  function: {self.function_source}"
            + (f"   seed: {self.seed}" if self.seed is not None else "   seed: none recorded"),
        ]
        lines += ["  " + line for line in self.environment.summary().splitlines()]
        if self.metrics:
            lines.append(f"  metrics (tolerance {self.tolerance:g}):")
            for m in self.metrics:
                mark = "ok  " if m.match else "DIFF"
                lines.append(f"    {mark} {m.key}: {_num(m.original)} -> {_num(m.new)}")
        else:
            lines.append("  metrics: none logged")
        if self.model_identical is None:
            lines.append("  model: none registered by the original run")
        else:
            same = "identical bytes" if self.model_identical else "DIFFERENT bytes"
            lines.append(f"  model: {self.original_model} -> {self.new_model or '-'}: {same}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("verdict", "matched" if self.matched else "differs"),
            ("new run", self.run_id),
            ("function", self.function_source),
            ("seed", "-" if self.seed is None else self.seed),
        ]
        rows += [("environment", line) for line in self.environment.lines()] or [
            ("environment", "the same")
        ]
        rows += [
            (
                f"metric {m.key}",
                f"{_num(m.original)} -> {_num(m.new)} ({'ok' if m.match else 'differs'})",
            )
            for m in self.metrics
        ]
        if self.model_identical is not None:
            rows.append(
                (
                    "model",
                    f"{self.original_model} -> {self.new_model or '-'} "
                    f"({'identical bytes' if self.model_identical else 'different bytes'})",
                )
            )
        return _html_table(f"Reproduction of run {self.original_run_id}", rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "original_run_id": self.original_run_id,
            "run_id": self.run_id,
            "matched": self.matched,
            "tolerance": self.tolerance,
            "function_source": self.function_source,
            "seed": self.seed,
            "environment": self.environment.to_dict(),
            "metrics": [m.to_dict() for m in self.metrics],
            "model": {
                "original": self.original_model,
                "new": self.new_model,
                "original_digest": self.original_model_digest,
                "new_digest": self.new_model_digest,
                "identical": self.model_identical,
            },
        }


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"
