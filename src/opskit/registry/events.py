"""Registry events: one record per change of the registry or of a deployment, appended by the tracker.

Every change (a version registered, an alias set, moved or removed, a deployment
created, switched or stopped) produces exactly one :class:`RegistryEvent`. The
tracker appends it in the same transaction as the change it records (the local
tracker: the same SQLite transaction; MLflow, which has no transactions: in the
same tracker call, right after the change, before the call returns). Lifecycle
hooks fire after the commit, from the events (``opskit.registry.hooks.fire_hooks``), so a process that
dies between the change and its hooks still leaves the event behind.

The constructors below (``version_registered``, ``alias_changed``,
``deployment_changed``) are the only way events are built: a tracker builds the
event it stores with them, and the SDK builds the event it fires hooks from with
the same function from the record the tracker returned, so both agree (except
``id``, which the tracker assigns when it appends).
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs
from attrs import field, frozen

from opskit.records import AliasChange, ModelVersion
from opskit.serialize import from_plain, to_plain

if TYPE_CHECKING:
    from opskit.records.deployments import Deployment

__all__ = [
    "EVENT_KINDS",
    "EventKind",
    "RegistryEvent",
    "alias_change_of",
    "alias_changed",
    "approval_changed",
    "deployment_changed",
    "deployment_of",
    "policy_denied",
    "status_changed",
    "version_deleted",
    "version_of",
    "version_registered",
]

EventKind = Literal[
    "version_registered",
    "alias_set",
    "alias_moved",
    "alias_removed",
    "deployment_created",
    "deployment_switched",
    "deployment_stopped",
    "version_status_changed",
    "version_deleted",
    "approval_requested",
    "approval_granted",
    "approval_rejected",
    "data_forgotten",
    "data_expired",
    "policy_denied",
]
#: Every kind, in the order above (derived from ``EventKind``, so the two cannot drift apart).
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)


def _document(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@frozen
class RegistryEvent:
    """One change of the registry or of a deployment, as the tracker recorded it.

    ``subject`` names what changed: ``"wine:3"`` (a version), ``"wine@production"``
    (an alias) or the deployment name. ``before`` / ``after`` are the JSON state of
    the subject before and after the change (``None`` where it did not exist): the
    whole ``ModelVersion`` for a registration, ``{"version": n}`` for an alias, the
    whole ``Deployment`` record for a deployment.
    """

    kind: EventKind
    subject: str
    #: The model the change belongs to (``None`` for deployment events).
    model: str | None
    before: dict[str, Any] | None = field(converter=_document)
    after: dict[str, Any] | None = field(converter=_document)
    #: Who made the change (the OS user of the process), when known.
    user: str | None
    time: float
    #: The run the change came from, when there is one (a registered version's run).
    run_id: str | None = None
    #: Why, when the user said so (a comment given with the change).
    reason: str | None = None
    #: Position in the tracker's event log, assigned when appended (0 until then); grows with each event.
    id: int = 0

    def summary(self) -> str:
        when = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(self.time))
        change = f"{_short(self.before)} -> {_short(self.after)}"
        return (
            f"#{self.id}  {when}  {self.kind:<20} {self.subject}  {change}  by {self.user or '-'}"
        )


def _short(document: Mapping[str, Any] | None) -> str:
    if document is None:
        return "-"
    if "version" in document and "digest" not in document:
        return f"v{document['version']}"
    if "state" in document:
        return str(document["state"])
    if "status" in document and "digest" not in document:
        return str(document["status"])
    if "version" in document:
        return f"v{document['version']}"
    return "{...}"


def version_registered(version: ModelVersion, *, user: str | None) -> RegistryEvent:
    """The event of registering *version*."""
    return RegistryEvent(
        kind="version_registered",
        subject=version.ref,
        model=version.name,
        before=None,
        after=to_plain(version),
        user=user,
        time=version.created_at,
        run_id=version.run_id,
    )


def alias_changed(change: AliasChange, *, run_id: str | None = None) -> RegistryEvent | None:
    """The event of an alias move or removal, or None when nothing moved (the alias already pointed there)."""
    if change.version == change.previous_version:
        return None
    kind: EventKind
    if change.version is None:
        kind = "alias_removed"
    elif change.previous_version is None:
        kind = "alias_set"
    else:
        kind = "alias_moved"
    return RegistryEvent(
        kind=kind,
        subject=f"{change.model}@{change.alias}",
        model=change.model,
        before=None if change.previous_version is None else {"version": change.previous_version},
        after=None if change.version is None else {"version": change.version},
        user=change.user,
        time=change.changed_at,
        run_id=run_id,
    )


def deployment_changed(
    before: Mapping[str, Any] | None, after: Deployment, *, user: str | None, stopped: bool = False
) -> RegistryEvent:
    """The event of storing deployment record *after* where *before* was stored (None: there was none).

    ``stopped`` says the record is written by ``opskit.deployments.stop``; otherwise a new
    record is ``deployment_created`` and a replaced one ``deployment_switched``.
    """
    kind: EventKind = (
        "deployment_stopped"
        if stopped
        else ("deployment_created" if before is None else "deployment_switched")
    )
    return RegistryEvent(
        kind=kind,
        subject=after.name,
        model=None,
        before=before,
        after=to_plain(after),
        user=user,
        time=_time.time(),
        run_id=None,
    )


def status_changed(
    version: ModelVersion, status: str, *, user: str | None, reason: str | None = None
) -> RegistryEvent:
    """The event of changing *version*'s status (``candidate`` → ``archived``, ...) to *status*."""
    return RegistryEvent(
        kind="version_status_changed",
        subject=version.ref,
        model=version.name,
        before={"status": version.status},
        after={"status": status},
        user=user,
        time=_time.time(),
        run_id=version.run_id,
        reason=reason,
    )


def version_deleted(
    version: ModelVersion, *, user: str | None, reason: str | None = None
) -> RegistryEvent:
    """The event of deleting *version* (its whole record is kept in ``before``)."""
    return RegistryEvent(
        kind="version_deleted",
        subject=version.ref,
        model=version.name,
        before=to_plain(attrs.evolve(version, aliases=())),
        after=None,
        user=user,
        time=_time.time(),
        run_id=version.run_id,
        reason=reason,
    )


def approval_changed(
    kind: EventKind,
    model: str,
    alias: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    user: str | None,
    reason: str | None = None,
) -> RegistryEvent:
    """The event of an approval request opened, approved or rejected (``opskit.approvals``).

    ``before`` / ``after`` are the request document before and after (``None`` before it
    was opened); *reason* is the comment given with it.
    """
    return RegistryEvent(
        kind=kind,
        subject=f"{model}@{alias}",
        model=model,
        before=before,
        after=after,
        user=user,
        time=_time.time(),
        run_id=None,
        reason=reason,
    )


def policy_denied(
    action: str,
    subject: str,
    *,
    model: str | None,
    user: str | None,
    roles: tuple[str, ...],
    allowed_by: tuple[str, ...],
    reason: str,
) -> RegistryEvent:
    """The event of the access policy refusing *user* the *action* on *subject* (nothing else changed)."""
    return RegistryEvent(
        kind="policy_denied",
        subject=subject,
        model=model,
        before=None,
        after={"action": action, "roles": list(roles), "allowed_by": list(allowed_by)},
        user=user,
        time=_time.time(),
        run_id=None,
        reason=reason,
    )


def version_of(event: RegistryEvent) -> ModelVersion:
    """The registered ``ModelVersion`` of a ``version_registered`` event."""
    assert event.kind == "version_registered" and event.after is not None
    version: ModelVersion = from_plain(ModelVersion, event.after)
    return version


def alias_change_of(event: RegistryEvent) -> AliasChange:
    """The ``AliasChange`` of an ``alias_*`` event (what ``after_alias_changed`` and ``alias_history`` give)."""
    assert event.kind in ("alias_set", "alias_moved", "alias_removed") and event.model is not None
    alias = event.subject[len(event.model) + 1 :]
    version = None if event.after is None else int(event.after["version"])
    previous = None if event.before is None else int(event.before["version"])
    return AliasChange(event.model, alias, version, previous, event.time, event.user)


def deployment_of(event: RegistryEvent) -> Deployment:
    """The stored ``Deployment`` record of a ``deployment_*`` event."""
    from opskit.records.deployments import Deployment

    assert event.kind.startswith("deployment_") and event.after is not None
    deployment: Deployment = from_plain(Deployment, event.after)
    return deployment
