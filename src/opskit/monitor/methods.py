"""Drift methods: the statistics ``drift()`` can decide with, registered through a hook.

Every method, built-in or not, comes from a ``register_drift_methods(register)`` hook
implementation (the built-ins from ``opskit.builtins.drift_methods``)::

    @opskit.hookimpl
    def register_drift_methods(register):
        register("mean_shift", compute, kinds=("numeric",), threshold=0.5)

``compute(reference, current)`` receives two :class:`opskit.monitor.stats.NumericData`
(or two ``CategoricalData``) and returns ``(statistic, p_value)``; ``p_value`` is ``None``
for a distance. A p-value method flags drift when ``p_value < threshold``, a distance
when ``statistic >= threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import frozen

from opskit._tracing import call_registration
from opskit.errors import DuplicateDriftMethod, UnknownDriftMethod
from opskit.registration import (  # the protocol lives with the other register callbacks
    DriftCompute,
    RegisterDriftMethod,
    check_registration,
)

if TYPE_CHECKING:
    import pluggy

__all__ = ["KINDS", "DriftMethod", "RegisterDriftMethod", "drift_methods", "get_method"]

#: Column kinds a method can apply to.
KINDS = ("numeric", "categorical")

Compute = DriftCompute


@frozen
class DriftMethod:
    """One registered drift statistic: its name, function, column kinds, default threshold, plugin."""

    name: str
    compute: Compute
    kinds: tuple[str, ...]
    threshold: float
    plugin: str


def drift_methods(pm: pluggy.PluginManager | None = None) -> dict[str, DriftMethod]:
    """Every drift method registered by the loaded plugins, by name.

    Raises :class:`opskit.errors.DuplicateDriftMethod` (naming both plugins) when two
    plugins register the same name, and ``InvalidName``/``ValueError`` for a malformed
    registration.
    """
    if pm is None:
        from opskit.runtime import get_plugin_manager

        pm = get_plugin_manager()
    methods: dict[str, DriftMethod] = {}
    for impl in reversed(pm.hook.register_drift_methods.get_hookimpls()):  # registration order

        def register(
            name: str,
            compute: Compute,
            *,
            kinds: Sequence[str],
            threshold: float,
            _plugin: str = impl.plugin_name,
        ) -> None:
            existing = methods.get(name) if isinstance(name, str) else None
            check_registration(
                "drift method",
                name,
                compute,
                _plugin,
                existing.plugin if existing else None,
                DuplicateDriftMethod,
            )
            bad = [k for k in kinds if k not in KINDS]
            if isinstance(kinds, str) or bad or not kinds:
                raise ValueError(
                    f"plugin {_plugin!r} registered drift method {name!r} with kinds {kinds!r}: use a tuple of {KINDS}"
                )
            methods[name] = DriftMethod(name, compute, tuple(kinds), float(threshold), _plugin)

        call_registration(pm, "register_drift_methods", impl, register)
    return methods


def get_method(methods: dict[str, DriftMethod], name: str, kind: str, column: str) -> DriftMethod:
    """The method *name* for a *kind* column; ``UnknownDriftMethod`` naming the choices otherwise."""
    method = methods.get(name)
    if method is None or kind not in method.kinds:
        usable = sorted(m.name for m in methods.values() if kind in m.kinds)
        what = "is not registered" if method is None else f"does not apply to {kind} columns"
        raise UnknownDriftMethod(
            f"drift method {name!r} for column {column!r} {what}; {kind} columns can use: {', '.join(usable)}"
        )
    return method
