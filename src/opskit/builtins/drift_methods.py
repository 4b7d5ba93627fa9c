"""Built-in plugin: the drift statistics of ``opskit.monitor`` (KS, Wasserstein, PSI, chi-square, Jensen–Shannon).

Registered through ``register_drift_methods`` like any plugin's; numpy and scipy are
imported only when a statistic is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.monitor.methods import RegisterDriftMethod

#: Default thresholds: p-value tests flag drift below, distances at or above.
ALPHA = 0.05
DISTANCE = 0.1


def ks(reference: Any, current: Any) -> tuple[float, float | None]:
    """Two-sample Kolmogorov–Smirnov statistic D and its p-value."""
    from opskit.monitor import stats

    d, _ = stats.numeric_distances(reference, current)
    return d, stats.ks_pvalue(d, reference, current)


def wasserstein(reference: Any, current: Any) -> tuple[float, float | None]:
    """Wasserstein-1 distance in reference standard deviations."""
    from opskit.monitor import stats

    _, w = stats.numeric_distances(reference, current)
    return stats.normalise(w, reference.mean_std()[1]), None


def psi(reference: Any, current: Any) -> tuple[float, float | None]:
    """Population stability index (numeric: reference-decile bins; categorical: categories)."""
    from opskit.monitor import stats

    if isinstance(reference, stats.CategoricalData):
        return stats.psi_categorical(reference, current), None
    return stats.psi_numeric(reference, current), None


def chisquare(reference: Any, current: Any) -> tuple[float, float | None]:
    """Pearson chi-square of current counts against reference shares, with its p-value."""
    from opskit.monitor import stats

    return stats.chi_square(reference, current)


def jensenshannon(reference: Any, current: Any) -> tuple[float, float | None]:
    """Jensen–Shannon distance (base 2) between the category distributions."""
    from opskit.monitor import stats

    return stats.jensen_shannon(reference, current), None


@hookimpl(trylast=True)
def register_drift_methods(register: RegisterDriftMethod) -> None:
    register("ks", ks, kinds=("numeric",), threshold=ALPHA)
    register("wasserstein", wasserstein, kinds=("numeric",), threshold=DISTANCE)
    register("psi", psi, kinds=("numeric", "categorical"), threshold=DISTANCE)
    register("chisquare", chisquare, kinds=("categorical",), threshold=ALPHA)
    register("jensenshannon", jensenshannon, kinds=("categorical",), threshold=DISTANCE)
