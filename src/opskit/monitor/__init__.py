"""Monitoring: data drift between reference (training) data and current (live) data.

    report = opskit.monitor.drift(reference=X_train, current=live_df)
    report.drifted, report.share_drifted, report.columns["alcohol"].p_value
    prof = opskit.monitor.profile(X_train)        # compact, JSON round trip
    opskit.monitor.drift(reference=prof, current="live/*.parquet dir")
    opskit.monitor.drift(reference="wine@production", current=live_df)  # the profile stored at registration
    opskit.monitor.log_labels("wine-prod", request_ids, y_true)          # delayed ground truth
    opskit.monitor.performance("wine-prod", window="1d"); opskit.monitor.fairness("wine-prod", column="sex")
    opskit.monitor.check("wine-prod")          # drift since the last check + performance thresholds
    report.to_html("drift.html"); report.to_markdown()

Importing this package is cheap; numpy, scipy, pandas and pyarrow (the ``monitor``
extra: ``pip install 'opskit-ml[monitor]'``) load on first use. See docs/monitoring.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "CategoricalProfile": "opskit.monitor.records",
    "ColumnDrift": "opskit.monitor.records",
    "Distribution": "opskit.monitor.records",
    "DriftMethod": "opskit.monitor.methods",
    "DriftReport": "opskit.monitor.records",
    "NumericProfile": "opskit.monitor.records",
    "ReferenceProfile": "opskit.monitor.records",
    "FairnessReport": "opskit.monitor.perf_records",
    "LabelsLogged": "opskit.monitor.perf_records",
    "MonitorCheck": "opskit.monitor.perf_records",
    "PerformanceReport": "opskit.monitor.perf_records",
    "check": "opskit.monitor.perf",
    "drift": "opskit.monitor.detect",
    "drift_methods": "opskit.monitor.methods",
    "fairness": "opskit.monitor.perf",
    "labels": "opskit.monitor.perf",
    "log_labels": "opskit.monitor.perf",
    "performance": "opskit.monitor.perf",
    "prediction_files": "opskit.monitor.prediction_log",
    "predictions": "opskit.monitor.prediction_log",
    "predictions_dataset": "opskit.monitor.prediction_log",
    "profile": "opskit.monitor.profiles",
    "reference_profile": "opskit.monitor.stored",
}

_CORE = ("numpy", "scipy", "pandas", "pyarrow")
#: What each function needs of the ``monitor`` extra (checked when it is first looked up,
#: so a missing package is a ``MissingExtra`` naming the extra, not a ``ModuleNotFoundError``).
_NEEDS: dict[str, tuple[str, ...]] = {
    "check": (*_CORE, "sklearn"),
    "drift": _CORE,
    "drift_methods": _CORE,
    "fairness": (*_CORE, "sklearn", "fairlearn"),
    "labels": ("pandas", "pyarrow"),
    "log_labels": ("numpy", "pandas", "pyarrow"),
    "performance": (*_CORE, "sklearn"),
    "prediction_files": ("pyarrow",),
    "predictions": ("pandas", "pyarrow"),
    "predictions_dataset": ("pyarrow",),
    "profile": _CORE,
    "reference_profile": _CORE,
}

if not TYPE_CHECKING:
    __all__ = sorted(_EXPORTS)

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is not None:
            if name in _NEEDS:
                from opskit.distribution import require_extra

                require_extra("monitor", f"opskit.monitor.{name}", _NEEDS[name])
            value = getattr(importlib.import_module(module), name)
        else:  # `opskit.monitor.alerts.latest(...)` after a plain `import opskit`
            from opskit._lazy import submodule

            value = submodule(__name__, name)
            if value is None:
                raise AttributeError(f"module 'opskit.monitor' has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from opskit.monitor.detect import drift as drift
    from opskit.monitor.methods import DriftMethod as DriftMethod
    from opskit.monitor.methods import drift_methods as drift_methods
    from opskit.monitor.perf import check as check
    from opskit.monitor.perf import fairness as fairness
    from opskit.monitor.perf import labels as labels
    from opskit.monitor.perf import log_labels as log_labels
    from opskit.monitor.perf import performance as performance
    from opskit.monitor.perf_records import FairnessReport as FairnessReport
    from opskit.monitor.perf_records import LabelsLogged as LabelsLogged
    from opskit.monitor.perf_records import MonitorCheck as MonitorCheck
    from opskit.monitor.perf_records import PerformanceReport as PerformanceReport
    from opskit.monitor.prediction_log import prediction_files as prediction_files
    from opskit.monitor.prediction_log import predictions as predictions
    from opskit.monitor.prediction_log import predictions_dataset as predictions_dataset
    from opskit.monitor.profiles import profile as profile
    from opskit.monitor.records import CategoricalProfile as CategoricalProfile
    from opskit.monitor.records import ColumnDrift as ColumnDrift
    from opskit.monitor.records import Distribution as Distribution
    from opskit.monitor.records import DriftReport as DriftReport
    from opskit.monitor.records import NumericProfile as NumericProfile
    from opskit.monitor.records import ReferenceProfile as ReferenceProfile
    from opskit.monitor.stored import reference_profile as reference_profile
