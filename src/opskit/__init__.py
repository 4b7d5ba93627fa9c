"""opskit: one decorator for versioning, validation, registration, deployment and monitoring.

``import opskit`` is cheap: every public name is resolved on first use from the
private module that holds it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name → module that defines it.
_EXPORTS: dict[str, str] = {
    "ActiveRun": "opskit.sdk.context",
    "AliasChange": "opskit.records",
    "Artifact": "opskit.records",
    "BackendUnavailable": "opskit.errors",
    "BlobCorrupted": "opskit.errors",
    "BlobNotFound": "opskit.errors",
    "CodeInfo": "opskit.records",
    "ColumnSpec": "opskit.records",
    "Config": "opskit.config",
    "ConfigError": "opskit.errors",
    "DataInput": "opskit.records",
    "Deployment": "opskit.deployments.target",
    "DeploymentError": "opskit.errors",
    "DeploymentNotFound": "opskit.errors",
    "DuplicateBackend": "opskit.errors",
    "EnvInfo": "opskit.records",
    "InvalidFilter": "opskit.errors",
    "InvalidModelRef": "opskit.errors",
    "InvalidName": "opskit.errors",
    "InvalidOption": "opskit.errors",
    "InvalidPayload": "opskit.errors",
    "InvalidValue": "opskit.errors",
    "Metric": "opskit.records",
    "Model": "opskit.records",
    "ModelLoadError": "opskit.errors",
    "ModelNotFound": "opskit.errors",
    "ModelRef": "opskit.names",
    "ModelVersion": "opskit.records",
    "NoActiveRun": "opskit.errors",
    "OpskitError": "opskit.errors",
    "OpskitWarning": "opskit.errors",
    "PluginError": "opskit.errors",
    "Run": "opskit.records",
    "RunList": "opskit.records",
    "RunNotFound": "opskit.errors",
    "Schema": "opskit.records",
    "SerializationError": "opskit.errors",
    "SerializedModel": "opskit.records",
    "StorageAccessDenied": "opskit.errors",
    "StoreError": "opskit.errors",
    "StoreNotFound": "opskit.errors",
    "UnknownBackend": "opskit.errors",
    "active_run": "opskit.sdk.context",
    "configure": "opskit.config",
    "deploy": "opskit.deployments.api",
    "get_config": "opskit.config",
    "get_run": "opskit.sdk.runs",
    "hookimpl": "opskit.hookspecs",
    "last_run": "opskit.sdk.runs",
    "load_model": "opskit.loading",
    "log_artifact": "opskit.sdk.context",
    "log_metric": "opskit.sdk.context",
    "log_metrics": "opskit.sdk.context",
    "log_param": "opskit.sdk.context",
    "log_params": "opskit.sdk.context",
    "reset_defaults": "opskit.config",
    "search_runs": "opskit.sdk.runs",
    "set_tag": "opskit.sdk.context",
    "set_tags": "opskit.sdk.context",
    "start_run": "opskit.sdk.context",
    "track": "opskit.sdk.decorators",
    "train": "opskit.sdk.decorators",
}
# Public submodules reached as attributes: opskit.models.list(), opskit.plugins.list_plugins().
_SUBMODULES = ("deployments", "models", "plugins")

__all__ = [
    "ActiveRun",
    "AliasChange",
    "Artifact",
    "BackendUnavailable",
    "BlobCorrupted",
    "BlobNotFound",
    "CodeInfo",
    "ColumnSpec",
    "Config",
    "ConfigError",
    "DataInput",
    "Deployment",
    "DeploymentError",
    "DeploymentNotFound",
    "DuplicateBackend",
    "EnvInfo",
    "InvalidFilter",
    "InvalidModelRef",
    "InvalidName",
    "InvalidOption",
    "InvalidPayload",
    "InvalidValue",
    "Metric",
    "Model",
    "ModelLoadError",
    "ModelNotFound",
    "ModelRef",
    "ModelVersion",
    "NoActiveRun",
    "OpskitError",
    "OpskitWarning",
    "PluginError",
    "Run",
    "RunList",
    "RunNotFound",
    "Schema",
    "SerializationError",
    "SerializedModel",
    "StorageAccessDenied",
    "StoreError",
    "StoreNotFound",
    "UnknownBackend",
    "__version__",
    "active_run",
    "configure",
    "deploy",
    "deployments",
    "get_config",
    "get_run",
    "hookimpl",
    "last_run",
    "load_model",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "models",
    "plugins",
    "reset_defaults",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
    "track",
    "train",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"opskit.{name}")
    else:
        raise AttributeError(f"module 'opskit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from opskit import deployments, models, plugins
    from opskit.config import Config, configure, get_config, reset_defaults
    from opskit.deployments.api import deploy
    from opskit.deployments.target import Deployment
    from opskit.errors import (
        BackendUnavailable,
        BlobCorrupted,
        BlobNotFound,
        ConfigError,
        DeploymentError,
        DeploymentNotFound,
        DuplicateBackend,
        InvalidFilter,
        InvalidModelRef,
        InvalidName,
        InvalidOption,
        InvalidPayload,
        InvalidValue,
        ModelLoadError,
        ModelNotFound,
        NoActiveRun,
        OpskitError,
        OpskitWarning,
        PluginError,
        RunNotFound,
        SerializationError,
        StoreError,
        StoreNotFound,
        UnknownBackend,
    )
    from opskit.hookspecs import hookimpl
    from opskit.loading import load_model
    from opskit.names import ModelRef
    from opskit.records import (
        AliasChange,
        Artifact,
        CodeInfo,
        ColumnSpec,
        DataInput,
        EnvInfo,
        Metric,
        Model,
        ModelVersion,
        Run,
        RunList,
        Schema,
        SerializedModel,
    )
    from opskit.sdk.context import (
        ActiveRun,
        active_run,
        log_artifact,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        set_tag,
        set_tags,
        start_run,
    )
    from opskit.sdk.decorators import track, train
    from opskit.sdk.runs import get_run, last_run, search_runs
