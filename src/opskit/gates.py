"""``opskit.gates``: quality gates for ``gates=[...]`` (defined in ``opskit.validation.gates``).

::

    @opskit.train(evaluate=("X_test", "y_test"), metrics=["accuracy"],
                  gates=[gates.at_least("accuracy", 0.85), gates.beats("production", "accuracy")])
"""

from __future__ import annotations

from opskit.validation.gates import (
    Gate,
    GateContext,
    GateResult,
    at_least,
    at_most,
    beats,
    custom,
    fairness,
    plugin,
)

__all__ = [
    "Gate",
    "GateContext",
    "GateResult",
    "at_least",
    "at_most",
    "beats",
    "custom",
    "fairness",
    "plugin",
]
