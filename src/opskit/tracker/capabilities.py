"""Optional tracker capabilities: extras a tracker backend may offer beyond ``Tracker``.

Each capability is a ``runtime_checkable`` protocol. A backend declares one by
subclassing it (``class MyTracker(Tracker, SupportsSync)``), so mypy checks the
methods, and opskit finds it with ``isinstance(tracker, SupportsSync)`` instead
of probing attribute names. A tracker without the capability is fine: the
feature that uses it says so (``opskit sync`` prints "nothing to sync").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from opskit.records import AliasChange, ModelVersion, Schema
    from opskit.records.audit import AuditTrail
    from opskit.registry.events import RegistryEvent

#: A state document to store with its event in the same write: ``(kind, key, document, event)``.
StateChange = tuple[str, str, Mapping[str, Any], "RegistryEvent"]

__all__ = [
    "StateChange",
    "SupportsAudit",
    "SupportsEventRecording",
    "SupportsLifecycle",
    "SupportsLocation",
    "SupportsQueuedRegistration",
    "SupportsSync",
]


@runtime_checkable
class SupportsSync(Protocol):
    """A tracker that queues writes while its server is unreachable (an outbox) and delivers them later."""

    def sync(self) -> int:
        """Deliver everything queued now; return how many runs were delivered (0 when nothing was queued).

        Called by ``opskit sync``. Safe to call at any time and repeatedly: an
        interrupted sync never delivers anything twice, and after a sync that
        returns, what was delivered is readable through the tracker.
        Raises (and keeps the queue) when the server is still unreachable.
        """
        ...


@runtime_checkable
class SupportsQueuedRegistration(Protocol):
    """A tracker that can keep a model registration (and alias move) it could not deliver, for ``sync``."""

    def queue_registration(
        self,
        name: str,
        *,
        digest: str,
        size_bytes: int,
        flavor: str,
        run_id: str,
        signature: Schema | None,
        metadata: Mapping[str, Any],
        alias: str | None,
        user: str | None,
        version: int | None = None,
    ) -> bool:
        """Queue registering *digest* as a version of *name* from run *run_id*, then moving *alias*.

        Called by the train pipeline when ``register_model_version`` or ``set_alias`` raised
        ``BackendUnavailable``; *version* is set when the version was registered and only the
        alias move is left. Return True when queued (delivered, in order after its run, by
        ``sync``), False when this tracker cannot queue it (opskit then re-raises the error).
        """
        ...


@runtime_checkable
class SupportsLocation(Protocol):
    """A tracker that can say which store it writes to, the same text in every process that selects it."""

    def location(self) -> str:
        """Where the data lives, e.g. ``/abs/path/opskit.db`` or ``http://mlflow:5000 (namespace team-a)``.

        Used to tell whether a run handle sent to another process (a ``multiprocessing``
        task argument) points at the store that process selects. Without it, trackers
        of the same name are taken to be the same store.
        """
        ...


@runtime_checkable
class SupportsAudit(Protocol):
    """A tracker that hash-chains its registry events (``opskit.governance.audit``) for ``opskit audit``."""

    def audit_trail(self) -> AuditTrail:
        """Every event of the log as an ``AuditEvent`` (``seq`` order), and the head kept outside the log.

        The events are the stored ones, unchecked: ``opskit.audit.verify`` recomputes the chain.
        Appending is the tracker's job: each registry event is sealed (``governance.audit.seal``)
        at the next ``seq``, after the last link, in the same write as the event, and two
        processes appending at once must never give two events the same ``seq``.
        """
        ...


@runtime_checkable
class SupportsLifecycle(Protocol):
    """A tracker that keeps version statuses and can delete versions (``opskit.models.archive``/``delete``/``promote``/``rollback``).

    Each method changes one thing and appends its registry event in the same write, as
    ``set_alias`` does; none of them checks policy (aliases or deployments using a version):
    ``opskit.models`` does, and the tracker re-checks the aliases inside its write.
    """

    def set_version_status(
        self, name: str, version: int, status: str, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        """Set the status of *name*:*version*; return the version as it is now (no event when unchanged)."""
        ...

    def delete_model_version(
        self, name: str, version: int, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        """Remove *name*:*version* from the registry (not its blob); return the record it had.

        Raises ``VersionInUse`` when an alias points at it (checked in the same write).
        """
        ...

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None,
        reason: str | None = None,
        state: StateChange | None = None,
    ) -> AliasChange:
        """``set_alias`` with a *reason* kept in its event (a promotion, a rollback).

        With *state* ``(kind, key, document, event)``, first store that state document and
        append its event, in the same write as the move (the approval that moves a protected
        alias: ``opskit.governance.approvals``); nothing of it is kept when the move fails.
        """
        ...


@runtime_checkable
class SupportsEventRecording(Protocol):
    """A tracker that can append a registry event that records no change (an access-policy denial)."""

    def record_event(self, event: RegistryEvent) -> RegistryEvent:
        """Append *event* to the event log (hash-chained like every event); return it with its ``id``."""
        ...
