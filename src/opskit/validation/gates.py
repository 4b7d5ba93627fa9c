"""Quality gates: declared with ``gates=[...]`` on ``@opskit.train``, decided after the function returns.

A gate looks at the scores of the returned model on the evaluation data (``metrics=``),
the incumbent's scores on the same data, or the evaluation data itself, and passes or
fails. A NaN never passes a gate. Built-ins: ``at_least``, ``at_most``, ``beats``,
``fairness``; a callable ``(ctx) -> GateResult | bool``; and gates shipped by plugins
(``register_gates`` hook), used with ``gates.plugin("name", **params)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from opskit._tracing import call_registration
from opskit.errors import DuplicateGate, InvalidModelRef, InvalidName, ValidationError
from opskit.names import ModelRef, validate_alias
from opskit.registration import check_registration

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "Gate",
    "GateContext",
    "GateResult",
    "as_gate",
    "at_least",
    "at_most",
    "beats",
    "custom",
    "fairness",
    "plugin",
    "registered_gates",
    "required_value",
]


@frozen
class GateResult:
    """What a gate decided: ``passed``, the ``observed`` value, the ``threshold``, a ``message``."""

    passed: bool
    observed: Any = None
    threshold: Any = None
    message: str = ""


@frozen(kw_only=True)
class GateContext:
    """What a gate sees: the challenger's ``metrics``, the ``incumbents``' scores, the ``model``, ``X``/``y``.

    ``incumbents`` maps each incumbent reference (``wine@production``) to its scores on the
    same evaluation data (missing when there is no incumbent yet); ``incumbent_errors`` says
    why one could not be scored. ``arguments`` are the call's arguments by name.
    """

    metrics: Mapping[str, float]
    incumbents: Mapping[str, Mapping[str, float]] = field(factory=dict)
    incumbent_versions: Mapping[str, str] = field(factory=dict)
    incumbent_errors: Mapping[str, str] = field(factory=dict)
    greater_is_better: Mapping[str, bool] = field(factory=dict)
    model: Any = None
    X: Any = None
    y: Any = None
    arguments: Mapping[str, Any] = field(factory=dict)
    model_name: str | None = None


@frozen(kw_only=True)
class Gate:
    """A gate. ``metric`` is the metric it reads (None: it reads something else)."""

    metric: str | None = None

    @property
    def name(self) -> str:
        """How the gate was declared (shown in the report)."""
        return type(self).__name__

    def decide(self, ctx: GateContext) -> GateResult:  # pragma: no cover - overridden
        raise NotImplementedError


def _threshold(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be a number, got {value!r}")
    return float(value)


def _metric(metric: object, what: str) -> str:
    if not isinstance(metric, str) or not metric:
        raise ValidationError(f"{what}: the metric must be a metric name, got {metric!r}")
    return metric


def _observed(ctx: GateContext, metric: str) -> float | None:
    value = ctx.metrics.get(metric)
    return None if value is None else float(value)


def _not_logged(metric: str) -> GateResult:
    return GateResult(
        False, None, None, f"metric {metric!r} was never logged: add it to metrics= (or log it)"
    )


@frozen(kw_only=True)
class _AtLeast(Gate):
    value: float

    @property
    def name(self) -> str:
        return f"at_least({self.metric}, {self.value:g})"

    def decide(self, ctx: GateContext) -> GateResult:
        assert self.metric is not None
        m = _observed(ctx, self.metric)
        if m is None:
            return _not_logged(self.metric)
        ok = m >= self.value  # NaN compares False: a NaN never passes
        return GateResult(
            ok, m, self.value, "" if ok else f"{self.metric} = {m:g} is below {self.value:g}"
        )


@frozen(kw_only=True)
class _AtMost(Gate):
    value: float

    @property
    def name(self) -> str:
        return f"at_most({self.metric}, {self.value:g})"

    def decide(self, ctx: GateContext) -> GateResult:
        assert self.metric is not None
        m = _observed(ctx, self.metric)
        if m is None:
            return _not_logged(self.metric)
        ok = m <= self.value
        return GateResult(
            ok, m, self.value, "" if ok else f"{self.metric} = {m:g} is above {self.value:g}"
        )


def at_least(metric: str, value: float) -> Gate:
    """Passes when *metric* >= *value* (a NaN metric or threshold fails)."""
    return _AtLeast(metric=_metric(metric, "at_least"), value=_threshold(value, "at_least: value"))


def at_most(metric: str, value: float) -> Gate:
    """Passes when *metric* <= *value* (a NaN metric or threshold fails)."""
    return _AtMost(metric=_metric(metric, "at_most"), value=_threshold(value, "at_most: value"))


def required_value(incumbent: float, min_delta: float, relative: bool, greater: bool) -> float:
    """What the challenger must reach to beat *incumbent*: ``incumbent ± min_delta`` (or ``± |incumbent| × min_delta``).

    The offset goes in the metric's better direction (up when greater is better).
    """
    if min_delta == 0:
        return incumbent
    step = abs(incumbent) * min_delta if relative else min_delta
    return incumbent + step if greater else incumbent - step


def beats_decision(
    challenger: float, incumbent: float, min_delta: float, relative: bool, greater: bool
) -> bool:
    """True when *challenger* reaches ``required_value(...)`` in the better direction (NaN: False)."""
    need = required_value(incumbent, min_delta, relative, greater)
    return challenger >= need if greater else challenger <= need


@frozen(kw_only=True)
class Beats(Gate):
    """``beats(ref, metric, ...)``: the challenger must do at least as well as the incumbent plus ``min_delta``."""

    ref: str
    min_delta: float = 0.0
    relative: bool = False
    greater_is_better: bool | None = None

    @property
    def name(self) -> str:
        extra = f", min_delta={self.min_delta:g}" if self.min_delta else ""
        extra += ", relative=True" if self.relative else ""
        return f"beats({self.ref}, {self.metric}{extra})"

    def resolve(self, model_name: str | None) -> str:
        """The full reference: a bare alias names the alias of *model_name*."""
        if "@" in self.ref or ":" in self.ref:
            return str(ModelRef.parse(self.ref))
        if model_name is None:
            raise ValidationError(
                f"beats({self.ref!r}, ...): a bare alias needs the model's name; pass 'model@{self.ref}'"
            )
        return f"{model_name}@{self.ref}"

    def decide(self, ctx: GateContext) -> GateResult:
        assert self.metric is not None
        ref = self.resolve(ctx.model_name)
        m = _observed(ctx, self.metric)
        if m is None:
            return _not_logged(self.metric)
        error = ctx.incumbent_errors.get(ref)
        if error is not None:
            return GateResult(False, m, None, error)
        scores = ctx.incumbents.get(ref)
        if scores is None:
            return GateResult(True, m, None, f"no incumbent yet: {ref} points at no version")
        inc = scores.get(self.metric)
        if inc is None:
            return GateResult(
                False, m, None, f"the incumbent {ref} was not scored on {self.metric!r}"
            )
        greater = (
            self.greater_is_better
            if self.greater_is_better is not None
            else ctx.greater_is_better.get(self.metric, True)
        )
        need = required_value(inc, self.min_delta, self.relative, greater)
        ok = beats_decision(m, inc, self.min_delta, self.relative, greater)
        word = "at least" if greater else "at most"
        version = ctx.incumbent_versions.get(ref, ref)
        return GateResult(
            ok,
            m,
            need,
            f"{self.metric} = {m:g}, incumbent {version} scored {inc:g} on the same data"
            + ("" if ok else f"; needed {word} {need:g}"),
        )


def beats(
    ref: str,
    metric: str,
    min_delta: float = 0.0,
    relative: bool = False,
    *,
    greater_is_better: bool | None = None,
) -> Gate:
    """The challenger beats the model *ref* points at, both scored on the same evaluation data.

    *ref* is a full reference (``"wine@production"``, ``"wine:3"``) or a bare alias of the
    model being trained (``"production"``). The challenger must reach incumbent +
    *min_delta* (incumbent + |incumbent| × *min_delta* when *relative*), in the metric's
    better direction (scikit-learn scorers are all greater-is-better; a callable metric
    says so with a ``greater_is_better`` attribute, or pass *greater_is_better*). Passes,
    saying so, when *ref* points at no version yet.
    """
    if not isinstance(ref, str) or not ref:
        raise ValidationError(f"beats: ref must be a model reference or an alias, got {ref!r}")
    try:
        if "@" in ref or ":" in ref:
            ModelRef.parse(ref)
        else:
            validate_alias(ref)
    except (InvalidModelRef, InvalidName) as exc:
        raise ValidationError(f"beats({ref!r}, ...): {exc}") from None
    delta = _threshold(min_delta, "beats: min_delta")
    if math.isnan(delta) or delta < 0:
        raise ValidationError(f"beats: min_delta must be >= 0, got {min_delta!r}")
    return Beats(
        metric=_metric(metric, "beats"),
        ref=ref,
        min_delta=delta,
        relative=bool(relative),
        greater_is_better=greater_is_better,
    )


@frozen(kw_only=True)
class Fairness(Gate):
    """``fairness(column, metric, at_most=)``: a fairlearn disparity metric on the evaluation data."""

    column: str
    fairlearn_metric: str
    limit: float

    @property
    def name(self) -> str:
        return f"fairness({self.column}, {self.fairlearn_metric}, at_most={self.limit:g})"

    def function(self) -> Callable[..., Any]:
        """The fairlearn function (``ValidationError`` naming the choices if there is none by that name)."""
        import fairlearn.metrics as fm

        fn = getattr(fm, self.fairlearn_metric, None)
        if not callable(fn) or not self.fairlearn_metric.endswith(("_difference", "_ratio")):
            known = sorted(n for n in dir(fm) if n.endswith(("_difference", "_ratio")))
            raise ValidationError(
                f"fairness({self.column!r}, {self.fairlearn_metric!r}): fairlearn has no such metric; "
                f"use one of {', '.join(known)}"
            )
        return fn  # type: ignore[no-any-return]

    def sensitive(self, X: Any, arguments: Mapping[str, Any]) -> Any:
        """The sensitive feature: the column of the evaluation data ``X``, else the argument of that name."""
        cols = getattr(X, "columns", None)
        if cols is not None and self.column in cols:
            return X[self.column]
        if self.column in arguments:
            return arguments[self.column]
        raise ValidationError(
            f"fairness gate: column {self.column!r} is neither a column of the evaluation data nor an "
            "argument of the function; add it to X_test, or pass it as an argument aligned with X_test"
        )

    def decide(self, ctx: GateContext) -> GateResult:
        import numpy as np

        fn = self.function()
        groups = self.sensitive(ctx.X, ctx.arguments)
        y_pred = ctx.model.predict(ctx.X)
        value = float(
            fn(np.asarray(ctx.y), np.asarray(y_pred), sensitive_features=np.asarray(groups))
        )
        if self.fairlearn_metric.endswith("_ratio"):
            ok = value >= self.limit
            word = "below"
        else:
            ok = value <= self.limit
            word = "above"
        return GateResult(
            ok,
            value,
            self.limit,
            ""
            if ok
            else f"{self.fairlearn_metric} over {self.column!r} = {value:g} is {word} {self.limit:g}",
        )


def fairness(column: str, metric: str, *, at_most: float) -> Gate:
    """A fairlearn disparity metric (``demographic_parity_difference``, ``equalized_odds_difference``, ...)
    of the returned model's predictions on the evaluation data, grouped by *column*, is at most *at_most*.

    *column* is a column of the evaluation ``X`` (else an argument of that name, aligned with
    it). For fairlearn's ``*_ratio`` metrics, where 1 is parity, *at_most* is read as the
    lowest acceptable ratio.
    """
    if not isinstance(column, str) or not column:
        raise ValidationError(f"fairness: column must be a column name, got {column!r}")
    if not isinstance(metric, str) or not metric:
        raise ValidationError(f"fairness: metric must be a fairlearn metric name, got {metric!r}")
    import importlib.util

    if importlib.util.find_spec("fairlearn") is None:
        from opskit.distribution import pip_install

        raise ValidationError(
            f"fairness({column!r}, {metric!r}) needs fairlearn, which is not installed: "
            f"{pip_install('validation')}, or in a clone: pip install -e '.[validation]'"
        )
    return Fairness(
        column=column, fairlearn_metric=metric, limit=_threshold(at_most, "fairness: at_most")
    )


def _as_result(name: str, out: object) -> GateResult:
    if isinstance(out, GateResult):
        return out
    if isinstance(out, bool) or type(out).__name__ == "bool_":
        return GateResult(bool(out))
    raise ValidationError(f"gate {name} returned {out!r}: a gate returns a GateResult or a bool")


@frozen(kw_only=True)
class _Custom(Gate):
    fn: Callable[[GateContext], Any]
    label: str

    @property
    def name(self) -> str:
        return self.label

    def decide(self, ctx: GateContext) -> GateResult:
        return _as_result(self.label, self.fn(ctx))


def custom(fn: Callable[[GateContext], Any], *, name: str | None = None) -> Gate:
    """A gate from a callable ``(ctx: GateContext) -> GateResult | bool``."""
    if not callable(fn):
        raise ValidationError(f"custom gate {fn!r} is not callable")
    return _Custom(fn=fn, label=str(name or getattr(fn, "__name__", None) or repr(fn)))


@frozen(kw_only=True)
class _Plugin(Gate):
    plugin_gate: str
    params: Mapping[str, Any] = field(factory=dict)

    @property
    def name(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.plugin_gate}({args})"

    def decide(self, ctx: GateContext) -> GateResult:
        gate = registered_gates()[self.plugin_gate]
        return _as_result(self.name, gate.fn(ctx, **self.params))


@frozen
class RegisteredGate:
    """A gate a plugin registered: its name, function and plugin."""

    name: str
    fn: Callable[..., Any]
    plugin: str


def registered_gates(pm: pluggy.PluginManager | None = None) -> dict[str, RegisteredGate]:
    """Every gate the loaded plugins register (``register_gates`` hook), by name."""
    if pm is None:
        from opskit.runtime import get_plugin_manager

        pm = get_plugin_manager()
    found: dict[str, RegisteredGate] = {}
    for impl in reversed(pm.hook.register_gates.get_hookimpls()):

        def register(name: str, gate: Callable[..., Any], _plugin: str = impl.plugin_name) -> None:
            existing = found.get(name) if isinstance(name, str) else None
            check_registration(
                "gate", name, gate, _plugin, existing.plugin if existing else None, DuplicateGate
            )
            found[name] = RegisteredGate(name, gate, _plugin)

        call_registration(pm, "register_gates", impl, register)
    return found


def plugin(name: str, **params: Any) -> Gate:
    """A gate a plugin registered under *name* (``register_gates`` hook), called with ``(ctx, **params)``.

    An unknown name is a ``ValidationError`` naming the registered gates, at decoration time.
    """
    known = registered_gates()
    if name not in known:
        raise ValidationError(
            f"no plugin registers a gate named {name!r} (registered: {', '.join(sorted(known)) or 'none'}); "
            "install the plugin that ships it"
        )
    return _Plugin(plugin_gate=name, params=dict(params))


def as_gate(value: object) -> Gate:
    """A declared gate as a ``Gate``: a gate, the name of a plugin gate, or a callable ``(ctx)``."""
    if isinstance(value, Gate):
        return value
    if isinstance(value, str):
        return plugin(value)
    if callable(value) and not isinstance(value, type):
        return custom(value)
    raise ValidationError(
        f"{value!r} is not a gate: use opskit.gates.at_least(), at_most(), beats(), fairness(), "
        "plugin('name'), or a callable (ctx) -> bool"
    )


def as_gates(values: object) -> tuple[Gate, ...]:
    """``gates=`` as a tuple of ``Gate``."""
    if values is None:
        return ()
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple):
        raise ValidationError(f"gates= must be a list of gates, got {values!r}")
    return tuple(as_gate(v) for v in values)
