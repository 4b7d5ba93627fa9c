"""The records opskit hands out: runs, model versions, models, data inputs, deployments.

Values are frozen attrs classes holding data only: no method does I/O or imports a
backend, and their maps are read-only (``types.MappingProxyType``); change them with
``attrs.evolve``. They print well in a terminal (``summary()``) and render in notebooks
(``_repr_html_``). Conversion to plain dicts lives in ``opskit.serialize``.

The classes live in ``opskit.records.runs``, ``.data``, ``.registry`` and
``.deployments``; every name stays importable from ``opskit.records``.
"""

from __future__ import annotations

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table
from opskit.records._common import when as _when
from opskit.records.audit import AuditEvent, AuditHead, AuditVerification
from opskit.records.card import ModelCard
from opskit.records.data import ColumnSpec, DataInput, Schema
from opskit.records.datasets import Dataset, DatasetVersion
from opskit.records.deployments import Deployment, DeploymentSpec
from opskit.records.registry import AliasChange, Model, ModelVersion, SerializedModel
from opskit.records.runs import (
    RUN_STATUSES,
    Artifact,
    CodeInfo,
    EnvInfo,
    Metric,
    Run,
    RunList,
    RunStatus,
)
from opskit.records.validation import ValidationReport, ValidationResult

__all__ = [
    "AliasChange",
    "Artifact",
    "AuditEvent",
    "AuditHead",
    "AuditVerification",
    "CodeInfo",
    "ColumnSpec",
    "DataInput",
    "Dataset",
    "DatasetVersion",
    "Deployment",
    "DeploymentSpec",
    "EnvInfo",
    "Metric",
    "Model",
    "ModelCard",
    "ModelVersion",
    "Run",
    "RunList",
    "RunStatus",
    "Schema",
    "SerializedModel",
    "ValidationReport",
    "ValidationResult",
]

# Private helpers some modules imported from here; kept for them.
_KEPT = (RUN_STATUSES, _freeze_map, _html_table, _when)


from typing import TYPE_CHECKING  # noqa: E402

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.records.<module>`` after ``import opskit``.

        (Records import nothing but each other and the standard library, so this does not use
        ``opskit._lazy``; same rule.)
        """
        import importlib
        import importlib.util

        full = f"{__name__}.{name}"
        if name.isidentifier() and not name.startswith("__"):
            try:
                found = importlib.util.find_spec(full)
            except (ImportError, ValueError):
                found = None
            if found is not None:
                return importlib.import_module(full)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
