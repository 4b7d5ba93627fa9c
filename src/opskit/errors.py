"""The exception hierarchy: one root, ``OpskitError``; every message says what to do.

Subclasses also inherit the builtin that matches their meaning, so callers that
already catch ``LookupError`` or ``ValueError`` keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.records.validation import ValidationReport

__all__ = [
    "AlreadyApproved",
    "ApprovalNotFound",
    "ApprovalPending",
    "AuditUnsupported",
    "BackendUnavailable",
    "BlobCorrupted",
    "BlobNotFound",
    "ColumnNotFound",
    "ConfigError",
    "DataNotFound",
    "DatasetNotFound",
    "DeploymentError",
    "DeploymentNotFound",
    "DuplicateBackend",
    "DuplicateDriftMethod",
    "DuplicateGate",
    "FunctionNotCaptured",
    "GovernanceConfigError",
    "InvalidDataset",
    "InvalidDatasetRef",
    "InvalidFilter",
    "InvalidModelRef",
    "InvalidName",
    "InvalidOption",
    "InvalidPayload",
    "InvalidValue",
    "LifecycleUnsupported",
    "ModelLoadError",
    "ModelNotFound",
    "NoActiveRun",
    "NoRollbackTarget",
    "OpskitError",
    "OpskitWarning",
    "OutputNotWritable",
    "PermissionDenied",
    "PluginError",
    "PolicyError",
    "ProfileNotFound",
    "RegistrationQueued",
    "ReproductionError",
    "RequestClosed",
    "RunNotFound",
    "RunNotOwned",
    "SelfApproval",
    "SerializationError",
    "SnapshotMissing",
    "StorageAccessDenied",
    "StoreError",
    "StoreNotFound",
    "UnknownBackend",
    "UnknownDriftMethod",
    "UnknownRole",
    "UnsupportedData",
    "UnsupportedMediaType",
    "ValidationError",
    "ValidationFailed",
    "ValidationRequired",
    "ValidationWarning",
    "VersionInUse",
    "VersionNotServable",
]


class OpskitError(Exception):
    """Root of every error opskit raises on purpose."""


class OpskitWarning(UserWarning):
    """Something worked, but not the way you probably meant."""


class ConfigError(OpskitError, ValueError):
    """A configuration value is malformed or contradicts another one."""


class InvalidName(OpskitError, ValueError):
    """A model, alias, param, metric or tag name is not allowed."""


class InvalidModelRef(OpskitError, ValueError):
    """A model reference is not ``name``, ``name:VERSION`` or ``name@alias``."""


class InvalidValue(OpskitError, ValueError):
    """A param, metric or tag value cannot be stored."""


class OutputNotWritable(InvalidValue, OSError):
    """A report, card or file opskit was asked to write cannot be written at the path given.

    A directory, a missing folder, no permission, a read-only or full disk: the message names
    the path as given (never an internal temp file) and nothing is left behind.
    """


class InvalidFilter(OpskitError, ValueError):
    """A ``search_runs`` filter or order_by expression does not parse."""


class ModelNotFound(OpskitError, LookupError):
    """No model, version or alias matches the reference."""


class RunNotFound(OpskitError, LookupError):
    """No run has the given id."""


class NoActiveRun(OpskitError, RuntimeError):
    """A ``log_*`` function was called outside a run."""


class BlobNotFound(OpskitError, LookupError):
    """The storage holds no blob with the given digest."""


class BlobCorrupted(OpskitError):
    """A blob's content no longer matches its digest (tampered or damaged)."""


class SerializationError(OpskitError, TypeError):
    """An object (model, function, value) cannot be serialized."""


class ModelLoadError(OpskitError):
    """A stored model cannot be loaded in this environment."""


class StoreError(OpskitError):
    """The store itself is unusable: newer schema, unreadable file, ..."""


class StoreNotFound(StoreError, FileNotFoundError):
    """A command that only reads found no store where the configuration points (and created none)."""


class PluginError(OpskitError):
    """A plugin failed to load or misbehaved."""


class DuplicateBackend(PluginError):
    """Two plugins registered a backend under the same name."""


class UnknownBackend(PluginError, LookupError):
    """No installed plugin provides the requested backend."""


class MissingExtra(OpskitError, ImportError):
    """A feature needs an optional extra (``pip install 'opskit-ml[serve]'``) whose packages are not installed."""


class BackendUnavailable(OpskitError, ConnectionError):
    """A backend (server, bucket, database) cannot be reached."""


class DeploymentError(OpskitError):
    """A deployment could not be started, reached or stopped."""


class DeploymentNotFound(DeploymentError, LookupError):
    """No deployment has the given name."""


class InvalidOption(DeploymentError, ValueError):
    """A deployment option is unknown to its target or has a value the target cannot use.

    ``option`` names it, ``value`` is what was given, ``accepted`` says what the option takes.
    """

    def __init__(
        self, message: str, *, option: str, value: object = None, accepted: str = ""
    ) -> None:
        super().__init__(message)
        self.option = option
        self.value = value
        self.accepted = accepted


class InvalidPayload(OpskitError, ValueError):
    """A scoring request does not match the payload formats or the model's input schema.

    ``field`` names the offending column or key when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMediaType(InvalidPayload):
    """A scoring request with a Content-Type the model server does not read (HTTP 415)."""


class StorageAccessDenied(OpskitError, PermissionError):
    """The storage refused the credentials, or the bucket/container does not exist."""


class InvalidDataset(OpskitError, ValueError):
    """Data handed to ``opskit.monitor`` cannot be used: empty, unreadable, or column kinds disagree."""


class DataNotFound(InvalidDataset, FileNotFoundError):
    """A path given as data (a separator, a data file suffix, or an ``os.PathLike``) does not exist."""


class ColumnNotFound(OpskitError, LookupError):
    """A named column is not in the data (or the reference profile)."""


class ProfileNotFound(OpskitError, LookupError):
    """A model version has no reference profile stored with it (registered without table training data)."""


class UnknownDriftMethod(OpskitError, LookupError):
    """No registered drift method has the given name, or it does not apply to the column's kind."""


class DuplicateDriftMethod(PluginError):
    """Two plugins registered a drift method under the same name."""


class DuplicateGate(PluginError):
    """Two plugins registered a quality gate under the same name."""


class RunNotOwned(OpskitError, RuntimeError):
    """A forked process tried to end a run that its parent process began (it may only log to it)."""


class RegistrationQueued(OpskitWarning):
    """The tracker could not be reached: the model blob is stored and its registration waits for `opskit sync`."""


class ValidationError(OpskitError, ValueError):
    """A check, gate, metric or ``evaluate=`` declaration cannot be used (raised before training where it can be known)."""


class ValidationFailed(OpskitError):
    """A data check failed (the function never ran), or a gate failed with ``on_fail="raise"``.

    ``report`` is the run's ``ValidationReport``.
    """

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.report))


class ValidationWarning(OpskitWarning):
    """A gate failed: the run finished, but the model was not registered (or was registered as rejected)."""


class AuditUnsupported(OpskitError, NotImplementedError):
    """The selected tracker keeps no hash-chained audit log (it does not implement ``SupportsAudit``)."""


class LifecycleUnsupported(OpskitError, NotImplementedError):
    """The selected tracker keeps no version status and cannot delete versions (no ``SupportsLifecycle``)."""


class VersionInUse(OpskitError, RuntimeError):
    """A version cannot be archived or deleted: an alias or a running deployment refers to it."""


class NoRollbackTarget(OpskitError, LookupError):
    """An alias has no previous target to roll back to (it was never moved)."""


class VersionNotServable(OpskitError, ValueError):
    """An archived or rejected version cannot be promoted to an alias or deployed."""


class FunctionNotCaptured(OpskitError, LookupError):
    """``opskit reproduce``: the run's function can be loaded neither by value nor from its source."""


class ReproductionError(OpskitError, RuntimeError):
    """``opskit reproduce``: the run cannot be re-executed as it was (an argument was never recorded, ...)."""


class DatasetNotFound(OpskitError, LookupError):
    """No dataset, dataset version or dataset alias matches the reference."""


class InvalidDatasetRef(InvalidModelRef):
    """A dataset reference is not ``name``, ``name:VERSION`` or ``name@alias``."""


class UnsupportedData(OpskitError, ValueError):
    """A value cannot be stored as a dataset version exactly (``opskit.log_data``, ``data="snapshot"``)."""


class SnapshotMissing(OpskitError, LookupError):
    """A run's data argument was only fingerprinted (or not recorded): there is no snapshot to load."""


class GovernanceConfigError(ConfigError):
    """``[tool.opskit.governance]`` / ``configure(governance=...)`` has an unknown key or a bad value."""


class ApprovalNotFound(OpskitError, LookupError):
    """No approval request has that id (``opskit approvals list`` shows them)."""


class SelfApproval(OpskitError, PermissionError):
    """The requester of an approval request tried to approve it (four eyes: another user must)."""


class AlreadyApproved(OpskitError, ValueError):
    """This user already approved the request; another user must give the next approval."""


class RequestClosed(OpskitError, ValueError):
    """The approval request is already approved or rejected; open a new one (``opskit models promote``)."""


class ValidationRequired(OpskitError, ValueError):
    """``require_validation``: the version's run has no passed validation report, so it cannot be requested for a protected alias."""


class ApprovalPending(OpskitWarning):
    """A protected alias was not moved: an approval request was opened instead (the message names its id)."""


class PolicyError(GovernanceConfigError):
    """The access policy (``[tool.opskit.governance]`` roles/users) is malformed; ``key`` names the offending key."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),), {"key": self.key})


class UnknownRole(PolicyError, LookupError):
    """A user (or ``default_role``) is given a role the policy does not define."""


class PermissionDenied(OpskitError, PermissionError):
    """The access policy (or the MLflow server's permissions) does not allow this user this action.

    ``user``, ``action`` and ``allowed_by`` (the roles that would allow it) say what was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        user: str | None = None,
        action: str | None = None,
        allowed_by: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.user = user
        self.action = action
        self.allowed_by = allowed_by

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (str(self),),
            {"user": self.user, "action": self.action, "allowed_by": self.allowed_by},
        )
