"""The registry lifecycle: promote, roll back, archive, delete (``opskit.models.*``).

Each is one tracker write with its registry event (so one audit event), then the
lifecycle hook. The checks a tracker cannot make in its write (a running deployment
serving the version) are made here first; the alias check is repeated by the tracker
inside its write, so a concurrent alias move cannot slip through between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.errors import (
    InvalidModelRef,
    LifecycleUnsupported,
    NoRollbackTarget,
    VersionInUse,
    VersionNotServable,
)
from opskit.governance.policy import require
from opskit.names import ModelRef, validate_alias, validate_model_name
from opskit.registry.events import alias_changed
from opskit.registry.hooks import fire_hooks
from opskit.runtime import get_storage, get_tracker
from opskit.sdk import identity
from opskit.tracker.capabilities import SupportsLifecycle

if TYPE_CHECKING:
    from opskit.governance.approvals import ApprovalRequest
    from opskit.records import AliasChange, ModelVersion

__all__ = [
    "archive",
    "delete",
    "lifecycle_tracker",
    "promote",
    "reject",
    "rollback",
    "serving_deployments",
]

#: Deployment statuses that count as serving (a stopped server or a docker build context do not).
_LIVE = frozenset({"running", "starting"})


def lifecycle_tracker() -> SupportsLifecycle:
    """The tracker, when it keeps version statuses (``LifecycleUnsupported`` otherwise)."""
    tracker = get_tracker()
    if not isinstance(tracker, SupportsLifecycle):
        raise LifecycleUnsupported(
            f"the tracker {type(tracker).__name__} keeps no version "
            "status; use the local or mlflow tracker (or one that implements SupportsLifecycle)"
        )
    return tracker


def _version(ref: str | ModelRef) -> ModelVersion:
    parsed = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
    return get_tracker().get_model_version(parsed)


def serving_deployments(version: ModelVersion) -> list[str]:
    """Names of the deployments that are serving *version* now (any of their refs or shadow resolves to it)."""
    from opskit.deployments.api import list as deployments

    tracker = get_tracker()
    serving = []
    for deployment in deployments():
        if deployment.record.state == "stopped":
            continue
        refs = [
            *deployment.record.refs,
            *([deployment.record.shadow] if deployment.record.shadow else []),
        ]
        hit = False
        for ref in refs:
            try:
                found = tracker.get_model_version(ModelRef.parse(ref))
            except LookupError:
                continue
            if (found.name, found.version) == (version.name, version.version):
                hit = True
                break
        if hit and deployment.status() in _LIVE:
            serving.append(deployment.name)
    return serving


def _alias_of(version: ModelVersion, alias: str) -> str:
    """*alias* as given (``production``) or as a reference of the same model (``wine@production``)."""
    if "@" in alias:
        target = ModelRef.parse(alias)
        if target.name != version.name or target.alias is None:
            raise InvalidModelRef(
                f"cannot promote {version.ref} to {alias!r}: that alias belongs to model "
                f"{target.name!r}; promote a version of {target.name!r}, or give the alias alone "
                f"(e.g. {target.alias or 'production'!r})"
            )
        alias = target.alias
    return validate_alias(alias)


def promote(
    ref: str | ModelRef, alias: str, *, comment: str | None = None
) -> AliasChange | ApprovalRequest:
    """Point *alias* of the version's model at the version *ref* (``wine:7``); audited with *comment*.

    Refuses an archived or rejected version (``VersionNotServable``) and an alias of
    another model (``InvalidModelRef``); nothing moves then. On a protected alias
    (``[tool.opskit.governance]``) nothing moves either: the open ``ApprovalRequest`` for
    the move is returned (``opskit.approvals.approve`` by other users moves it).
    """
    version = _version(ref)
    name = _alias_of(version, alias)
    require(
        f"promote:{name}", subject=f"{version.ref} -> {version.name}@{name}", model=version.name
    )
    if version.status in ("archived", "rejected"):
        raise VersionNotServable(
            f"cannot promote {version.ref} to {name!r}: it is {version.status}; promote another "
            f"version (see `opskit models show {version.name}`)"
        )
    from opskit.governance.approvals import guard

    request = guard(version.name, name, version.version, comment=comment)
    if request is not None:
        return request
    change = lifecycle_tracker().move_alias(
        version.name,
        name,
        version.version,
        user=identity.user(),
        reason=comment or f"promote {version.ref} to {name}",
    )
    fire_hooks([alias_changed(change)])
    return change


def rollback(name: str, alias: str, *, comment: str | None = None) -> AliasChange:
    """Point *alias* back at its previous target (from its history); audited. ``NoRollbackTarget`` if there is none.

    The previous target is the version the alias pointed at before its last move (a
    second rollback therefore undoes the first). An archived previous target is refused.
    """
    name, alias = validate_model_name(name), validate_alias(alias)
    require(f"rollback:{alias}", subject=f"{name}@{alias}", model=name)
    tracker = get_tracker()
    history = tracker.alias_history(name, alias)
    current = history[-1] if history else None
    if current is None or current.version is None or current.previous_version is None:
        state = (
            "was never set"
            if current is None
            else ("was removed" if current.version is None else "has only ever had one target")
        )
        raise NoRollbackTarget(
            f"cannot roll back {name}@{alias}: it {state}, so there is no previous target; "
            f"use opskit.models.promote('{name}:VERSION', {alias!r})"
        )
    target = tracker.get_model_version(ModelRef(name, version=current.previous_version))
    if target.status == "archived":
        raise VersionNotServable(
            f"cannot roll back {name}@{alias} to {target.ref}: it is archived; promote another version"
        )
    change = lifecycle_tracker().move_alias(
        name,
        alias,
        target.version,
        user=identity.user(),
        reason=comment
        or f"rollback of {name}@{alias} from v{current.version} to v{target.version}",
    )
    fire_hooks([alias_changed(change)])
    return change


def _refuse_in_use(version: ModelVersion, what: str) -> None:
    if version.aliases:
        raise VersionInUse(
            f"cannot {what} {version.ref}: the alias(es) {', '.join(version.aliases)} point at it; "
            f"promote another version to them first (opskit.models.promote)"
        )
    serving = serving_deployments(version)
    if serving:
        raise VersionInUse(
            f"cannot {what} {version.ref}: the deployment(s) {', '.join(serving)} serve it; "
            f"stop them first (opskit deployments stop NAME)"
        )


def reject(version: ModelVersion, *, reason: str) -> ModelVersion:
    """Mark a just-registered *version* ``rejected`` (validation's ``on_fail="register"``); audited with *reason*.

    A tracker without version statuses keeps only the ``opskit.status`` metadata the
    version was registered with; the version is returned as it is then.
    """
    tracker = get_tracker()
    if not isinstance(tracker, SupportsLifecycle):
        return version
    return tracker.set_version_status(
        version.name, version.version, "rejected", user=identity.user(), reason=reason
    )


def archive(ref: str | ModelRef, *, comment: str | None = None) -> ModelVersion:
    """Mark a version ``archived`` (kept, never promoted or deployed again); refused while an alias or a running deployment uses it."""
    version = _version(ref)
    require("archive", subject=version.ref, model=version.name)
    _refuse_in_use(version, "archive")
    return lifecycle_tracker().set_version_status(
        version.name, version.version, "archived", user=identity.user(), reason=comment
    )


def delete(ref: str | ModelRef, *, comment: str | None = None) -> ModelVersion:
    """Remove a version from the registry, and its model blob when no other record references it.

    Refused while an alias or a running deployment uses it. Returns the record it had; the
    ``version_deleted`` event keeps that record in the audit log.
    """
    version = _version(ref)
    require("delete", subject=version.ref, model=version.name)
    _refuse_in_use(version, "delete")
    tracker = get_tracker()
    removed = lifecycle_tracker().delete_model_version(
        version.name, version.version, user=identity.user(), reason=comment
    )
    if removed.digest and removed.digest not in tracker.referenced_digests():
        storage = get_storage()
        if storage.exists(removed.digest):
            storage.delete(removed.digest)
    return removed
