"""opskit: one decorator for versioning, validation, registration, deployment and monitoring.

``import opskit`` is cheap: every public name is resolved on first use from the
private module that holds it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public API, in one table: public name → module that defines it.
# To add a public name, add two lines: one here (keep the table sorted) and
# `from <module> import Name as Name` under `if TYPE_CHECKING:` at the end of this file
# (what type checkers read; `as Name` marks an explicit re-export). `__all__`, `dir(opskit)`
# and the lazy `__getattr__` follow this table; tests/test_public_api.py fails until the
# table and the imports agree and the object has a docstring.
_EXPORTS: dict[str, str] = {
    "ActiveRun": "opskit.tracking.context",
    "AliasChange": "opskit.records.registry",
    "AlreadyApproved": "opskit.errors",
    "ApprovalNotFound": "opskit.errors",
    "ApprovalPending": "opskit.errors",
    "ApprovalRequest": "opskit.governance.approvals",
    "Artifact": "opskit.records.runs",
    "AuditUnsupported": "opskit.errors",
    "BackendUnavailable": "opskit.errors",
    "BlobCorrupted": "opskit.errors",
    "BlobNotFound": "opskit.errors",
    "CodeInfo": "opskit.records.runs",
    "ColumnSpec": "opskit.records.data",
    "Config": "opskit.config",
    "ConfigError": "opskit.errors",
    "DataInput": "opskit.records.data",
    "DatasetNotFound": "opskit.errors",
    "DatasetVersion": "opskit.records.datasets",
    "Deployment": "opskit.records.deployments",
    "DeploymentError": "opskit.errors",
    "DeploymentNotFound": "opskit.errors",
    "DuplicateBackend": "opskit.errors",
    "EnvInfo": "opskit.records.runs",
    "FunctionNotCaptured": "opskit.errors",
    "GovernanceConfigError": "opskit.errors",
    "InvalidDatasetRef": "opskit.errors",
    "InvalidFilter": "opskit.errors",
    "InvalidModelRef": "opskit.errors",
    "InvalidName": "opskit.errors",
    "InvalidOption": "opskit.errors",
    "InvalidPayload": "opskit.errors",
    "InvalidValue": "opskit.errors",
    "LifecycleUnsupported": "opskit.errors",
    "Lineage": "opskit.records.versioning",
    "Metric": "opskit.records.runs",
    "MissingExtra": "opskit.errors",
    "Model": "opskit.records.registry",
    "ModelCard": "opskit.records.card",
    "ModelLoadError": "opskit.errors",
    "ModelNotFound": "opskit.errors",
    "ModelRef": "opskit.names",
    "ModelVersion": "opskit.records.registry",
    "NoActiveRun": "opskit.errors",
    "NoRollbackTarget": "opskit.errors",
    "OpskitError": "opskit.errors",
    "OpskitWarning": "opskit.errors",
    "PermissionDenied": "opskit.errors",
    "PluginError": "opskit.errors",
    "PolicyError": "opskit.errors",
    "Reproduction": "opskit.records.reproduction",
    "ReproductionError": "opskit.errors",
    "RequestClosed": "opskit.errors",
    "Run": "opskit.records.runs",
    "RunDiff": "opskit.records.versioning",
    "RunList": "opskit.records.runs",
    "RunNotFound": "opskit.errors",
    "Schema": "opskit.records.data",
    "SelfApproval": "opskit.errors",
    "SerializationError": "opskit.errors",
    "SerializedModel": "opskit.records.registry",
    "SnapshotMissing": "opskit.errors",
    "StorageAccessDenied": "opskit.errors",
    "StoreError": "opskit.errors",
    "StoreNotFound": "opskit.errors",
    "UnknownBackend": "opskit.errors",
    "UnknownRole": "opskit.errors",
    "UnsupportedData": "opskit.errors",
    "ValidationError": "opskit.errors",
    "ValidationFailed": "opskit.errors",
    "ValidationReport": "opskit.records.validation",
    "ValidationRequired": "opskit.errors",
    "ValidationResult": "opskit.records.validation",
    "ValidationWarning": "opskit.errors",
    "VersionInUse": "opskit.errors",
    "VersionNotServable": "opskit.errors",
    "active_run": "opskit.tracking.context",
    "configure": "opskit.runtime",
    "deploy": "opskit.deployments.api",
    "diff": "opskit.data.diff",
    "get_config": "opskit.runtime",
    "get_run": "opskit.tracking.runs",
    "hookimpl": "opskit.hookspecs",
    "last_run": "opskit.tracking.runs",
    "lineage": "opskit.data.lineage",
    "load_data": "opskit.data.datasets",
    "load_model": "opskit.loading",
    "log_artifact": "opskit.tracking.context",
    "log_data": "opskit.data.datasets",
    "log_metric": "opskit.tracking.context",
    "log_metrics": "opskit.tracking.context",
    "log_param": "opskit.tracking.context",
    "log_params": "opskit.tracking.context",
    "metric_history": "opskit.tracking.runs",
    "reproduce": "opskit.data.reproduce",
    "reset_defaults": "opskit.runtime",
    "search_runs": "opskit.tracking.runs",
    "seed": "opskit.seeding",
    "set_tag": "opskit.tracking.context",
    "set_tags": "opskit.tracking.context",
    "start_run": "opskit.tracking.context",
    "track": "opskit.tracking.decorators",
    "train": "opskit.tracking.decorators",
}
# Public submodules reached as attributes: opskit.models.list(), opskit.plugins.list_plugins().
_SUBMODULES = (
    "approvals",
    "audit",
    "checks",
    "data",
    "deployments",
    "gates",
    "models",
    "monitor",
    "plugins",
)


# Hidden from type checkers, which read the `Name as Name` imports at the end instead:
# with a module-level `__getattr__` mypy would accept any `opskit.<name>` as `Any`, and an
# `__all__` it cannot evaluate would make it export nothing to `from opskit import *`.
if not TYPE_CHECKING:
    __all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in _SUBMODULES:
            value = importlib.import_module(f"opskit.{name}")
        else:  # any other submodule, as the docs write it: `opskit.errors.InvalidValue`
            from opskit._lazy import submodule

            value = submodule(__name__, name)
            if value is None:
                raise AttributeError(f"module 'opskit' has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from opskit import approvals as approvals
    from opskit import audit as audit
    from opskit import checks as checks
    from opskit import data as data
    from opskit import deployments as deployments
    from opskit import gates as gates
    from opskit import models as models
    from opskit import monitor as monitor
    from opskit import plugins as plugins
    from opskit.config import Config as Config
    from opskit.data.datasets import load_data as load_data
    from opskit.data.datasets import log_data as log_data
    from opskit.data.diff import diff as diff
    from opskit.data.lineage import lineage as lineage
    from opskit.data.reproduce import reproduce as reproduce
    from opskit.deployments.api import deploy as deploy
    from opskit.errors import AlreadyApproved as AlreadyApproved
    from opskit.errors import ApprovalNotFound as ApprovalNotFound
    from opskit.errors import ApprovalPending as ApprovalPending
    from opskit.errors import AuditUnsupported as AuditUnsupported
    from opskit.errors import BackendUnavailable as BackendUnavailable
    from opskit.errors import BlobCorrupted as BlobCorrupted
    from opskit.errors import BlobNotFound as BlobNotFound
    from opskit.errors import ConfigError as ConfigError
    from opskit.errors import DatasetNotFound as DatasetNotFound
    from opskit.errors import DeploymentError as DeploymentError
    from opskit.errors import DeploymentNotFound as DeploymentNotFound
    from opskit.errors import DuplicateBackend as DuplicateBackend
    from opskit.errors import FunctionNotCaptured as FunctionNotCaptured
    from opskit.errors import GovernanceConfigError as GovernanceConfigError
    from opskit.errors import InvalidDatasetRef as InvalidDatasetRef
    from opskit.errors import InvalidFilter as InvalidFilter
    from opskit.errors import InvalidModelRef as InvalidModelRef
    from opskit.errors import InvalidName as InvalidName
    from opskit.errors import InvalidOption as InvalidOption
    from opskit.errors import InvalidPayload as InvalidPayload
    from opskit.errors import InvalidValue as InvalidValue
    from opskit.errors import LifecycleUnsupported as LifecycleUnsupported
    from opskit.errors import MissingExtra as MissingExtra
    from opskit.errors import ModelLoadError as ModelLoadError
    from opskit.errors import ModelNotFound as ModelNotFound
    from opskit.errors import NoActiveRun as NoActiveRun
    from opskit.errors import NoRollbackTarget as NoRollbackTarget
    from opskit.errors import OpskitError as OpskitError
    from opskit.errors import OpskitWarning as OpskitWarning
    from opskit.errors import PermissionDenied as PermissionDenied
    from opskit.errors import PluginError as PluginError
    from opskit.errors import PolicyError as PolicyError
    from opskit.errors import ReproductionError as ReproductionError
    from opskit.errors import RequestClosed as RequestClosed
    from opskit.errors import RunNotFound as RunNotFound
    from opskit.errors import SelfApproval as SelfApproval
    from opskit.errors import SerializationError as SerializationError
    from opskit.errors import SnapshotMissing as SnapshotMissing
    from opskit.errors import StorageAccessDenied as StorageAccessDenied
    from opskit.errors import StoreError as StoreError
    from opskit.errors import StoreNotFound as StoreNotFound
    from opskit.errors import UnknownBackend as UnknownBackend
    from opskit.errors import UnknownRole as UnknownRole
    from opskit.errors import UnsupportedData as UnsupportedData
    from opskit.errors import ValidationError as ValidationError
    from opskit.errors import ValidationFailed as ValidationFailed
    from opskit.errors import ValidationRequired as ValidationRequired
    from opskit.errors import ValidationWarning as ValidationWarning
    from opskit.errors import VersionInUse as VersionInUse
    from opskit.errors import VersionNotServable as VersionNotServable
    from opskit.governance.approvals import ApprovalRequest as ApprovalRequest
    from opskit.hookspecs import hookimpl as hookimpl
    from opskit.loading import load_model as load_model
    from opskit.names import ModelRef as ModelRef
    from opskit.records.card import ModelCard as ModelCard
    from opskit.records.data import ColumnSpec as ColumnSpec
    from opskit.records.data import DataInput as DataInput
    from opskit.records.data import Schema as Schema
    from opskit.records.datasets import DatasetVersion as DatasetVersion
    from opskit.records.deployments import Deployment as Deployment
    from opskit.records.registry import AliasChange as AliasChange
    from opskit.records.registry import Model as Model
    from opskit.records.registry import ModelVersion as ModelVersion
    from opskit.records.registry import SerializedModel as SerializedModel
    from opskit.records.reproduction import Reproduction as Reproduction
    from opskit.records.runs import Artifact as Artifact
    from opskit.records.runs import CodeInfo as CodeInfo
    from opskit.records.runs import EnvInfo as EnvInfo
    from opskit.records.runs import Metric as Metric
    from opskit.records.runs import Run as Run
    from opskit.records.runs import RunList as RunList
    from opskit.records.validation import ValidationReport as ValidationReport
    from opskit.records.validation import ValidationResult as ValidationResult
    from opskit.records.versioning import Lineage as Lineage
    from opskit.records.versioning import RunDiff as RunDiff
    from opskit.runtime import configure as configure
    from opskit.runtime import get_config as get_config
    from opskit.runtime import reset_defaults as reset_defaults
    from opskit.seeding import seed as seed
    from opskit.tracking.context import ActiveRun as ActiveRun
    from opskit.tracking.context import active_run as active_run
    from opskit.tracking.context import log_artifact as log_artifact
    from opskit.tracking.context import log_metric as log_metric
    from opskit.tracking.context import log_metrics as log_metrics
    from opskit.tracking.context import log_param as log_param
    from opskit.tracking.context import log_params as log_params
    from opskit.tracking.context import set_tag as set_tag
    from opskit.tracking.context import set_tags as set_tags
    from opskit.tracking.context import start_run as start_run
    from opskit.tracking.decorators import track as track
    from opskit.tracking.decorators import train as train
    from opskit.tracking.runs import get_run as get_run
    from opskit.tracking.runs import last_run as last_run
    from opskit.tracking.runs import metric_history as metric_history
    from opskit.tracking.runs import search_runs as search_runs
