"""Evaluation: ``metrics=`` scored on the ``evaluate=`` arguments, for the challenger and the incumbent.

A metric is a scikit-learn scorer name (``sklearn.metrics.get_scorer``: ``accuracy``,
``f1_macro``, ``neg_log_loss``, ...; every scorer is greater-is-better, the ``neg_*`` ones
are negated losses) or a callable ``(model, X, y) -> float`` (greater-is-better unless it
has ``greater_is_better = False``). scikit-learn is imported when a scorer name is resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from opskit.errors import ValidationError

__all__ = ["Metric", "as_metrics", "resolve", "score"]

Scorer = Callable[[Any, Any, Any], Any]


@frozen
class Metric:
    """One declared metric: its ``name`` and a scorer name or a callable ``(model, X, y)``."""

    name: str
    spec: str | Scorer


def as_metrics(value: object) -> tuple[Metric, ...]:
    """``metrics=`` (a list of scorer names, or a mapping name -> scorer name or callable) as ``Metric`` s."""
    if value is None:
        return ()
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = [(v, v) for v in value]
    else:
        raise ValidationError(
            f"metrics= must be a list of scikit-learn scorer names or a dict name -> scorer, got {value!r}"
        )
    out: list[Metric] = []
    for name, spec in items:
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"metrics=: {name!r} is not a metric name (use a non-empty string)"
            )
        if not isinstance(spec, str) and not callable(spec):
            raise ValidationError(
                f"metrics=: {name!r} -> {spec!r} is neither a scikit-learn scorer name nor a callable (model, X, y)"
            )
        out.append(Metric(name, spec))
    names = [m.name for m in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValidationError(f"metrics=: {', '.join(map(repr, dup))} declared twice")
    return tuple(out)


@frozen
class Resolved:
    """A metric ready to score: its name, the callable ``(model, X, y)`` and its direction."""

    name: str
    fn: Scorer
    greater_is_better: bool


def resolve(metrics: tuple[Metric, ...]) -> tuple[Resolved, ...]:
    """Every metric as a callable; an unknown scorer name is a ``ValidationError`` naming the close ones."""
    out = []
    for metric in metrics:
        if isinstance(metric.spec, str):
            from sklearn.metrics import get_scorer, get_scorer_names

            try:
                scorer = get_scorer(metric.spec)
            except ValueError:
                import difflib

                close = difflib.get_close_matches(metric.spec, get_scorer_names(), n=5, cutoff=0.5)
                raise ValidationError(
                    f"metrics=: {metric.spec!r} is not a scikit-learn scorer name"
                    + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
                    + "; see sklearn.metrics.get_scorer_names(), or pass a callable (model, X, y) -> float"
                ) from None
            out.append(Resolved(metric.name, scorer, True))
        else:
            greater = getattr(metric.spec, "greater_is_better", True)
            out.append(Resolved(metric.name, metric.spec, bool(greater)))
    return tuple(out)


def score(metrics: tuple[Resolved, ...], model: Any, X: Any, y: Any) -> dict[str, float]:
    """Every metric of *model* on (*X*, *y*), as floats (exceptions propagate to the caller)."""
    out: dict[str, float] = {}
    for metric in metrics:
        value = metric.fn(model, X, y)
        try:
            out[metric.name] = float(value)
        except (TypeError, ValueError):
            raise ValidationError(
                f"metric {metric.name!r} returned {value!r}, not a number: a metric returns a float"
            ) from None
    return out
