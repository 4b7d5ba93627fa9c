"""Audit records: hash-chained registry events, the head of the chain, and what ``verify`` found.

Data only (no I/O, no hashing): ``opskit.governance.audit`` builds and checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from attrs import field, frozen

from opskit.records._common import html_table as _html_table
from opskit.records._common import when as _when

__all__ = ["AuditEvent", "AuditHead", "AuditTrail", "AuditVerification", "BreakKind"]

#: How a chain is broken at its first bad link.
BreakKind = Literal["edited", "removed", "reordered", "tail-truncated", "head-mismatch"]


def _document(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@frozen
class AuditEvent:
    """One governed action, as the audit log holds it: a registry event plus its place in the hash chain.

    ``seq`` is its position (1, 2, 3, ... with no gap); ``hash`` is
    SHA-256(``prev_hash`` ‖ canonical JSON of the event), ``prev_hash`` the hash of the event
    before it (64 zeros for the first). ``action`` is the registry event kind
    (``version_registered``, ``alias_moved``, ``deployment_created``, ...).
    """

    seq: int
    action: str
    subject: str
    #: The model the action belongs to (``None`` for deployment events).
    model: str | None
    before: dict[str, Any] | None = field(converter=_document)
    after: dict[str, Any] | None = field(converter=_document)
    #: Who did it (``OPSKIT_USER`` / the OS user of the process), when known.
    user: str | None
    time: float
    run_id: str | None
    reason: str | None
    prev_hash: str
    hash: str
    #: The registry event id (``opskit.models.events``); equal to ``seq`` on the local tracker.
    id: int = 0

    def summary(self) -> str:
        return (
            f"#{self.seq}  {_when(self.time)}  {self.action:<20} {self.subject}  "
            f"by {self.user or '-'}  {self.hash[:12]}"
        )

    def _repr_html_(self) -> str:
        return _html_table(
            f"audit event #{self.seq}",
            [
                ("action", self.action),
                ("subject", self.subject),
                ("user", self.user or "-"),
                ("time (UTC)", _when(self.time)),
                ("before", self.before),
                ("after", self.after),
                ("reason", self.reason or "-"),
                ("run", self.run_id or "-"),
                ("hash", self.hash),
            ],
        )


@frozen
class AuditHead:
    """The last link of a chain: its ``seq`` and ``hash`` (pin it elsewhere to check the log later)."""

    seq: int
    hash: str

    def summary(self) -> str:
        return f"{self.seq}:{self.hash}"


@frozen
class AuditVerification:
    """What ``opskit.audit.verify()`` found: ``ok``, or the first broken link.

    ``seq`` is the position of the first broken link; ``kind`` says what happened there
    (``edited``, ``removed``, ``reordered``, ``tail-truncated``, ``head-mismatch``);
    ``expected`` / ``found`` are the hashes (or a description) that disagree.
    """

    ok: bool
    checked: int
    head: AuditHead | None = None
    seq: int | None = None
    kind: BreakKind | None = None
    expected: str | None = None
    found: str | None = None
    detail: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        if self.ok:
            where = f", head {self.head.summary()}" if self.head else ""
            return f"audit chain OK: {self.checked} events checked{where}"
        return (
            f"audit chain BROKEN at seq {self.seq} ({self.kind}): {self.detail}\n"
            f"  expected: {self.expected}\n  found:    {self.found}\n"
            f"  ({self.checked} events checked before the break)"
        )

    def _repr_html_(self) -> str:
        return _html_table(
            "audit verification",
            [
                ("ok", self.ok),
                ("checked", self.checked),
                ("head", self.head.summary() if self.head else "-"),
                ("first broken seq", self.seq if self.seq is not None else "-"),
                ("kind", self.kind or "-"),
                ("detail", self.detail or "-"),
            ],
        )


def _events(items: Any) -> tuple[AuditEvent, ...]:
    return tuple(items)


def _anchors(value: Mapping[int, str] | None) -> dict[int, str]:
    return dict(value or {})


@frozen
class AuditTrail:
    """What a tracker keeps of the chain, for ``verify``: the events, the head, the anchors.

    ``head`` is the last link as kept outside the log (``None``: none kept);
    ``head_error`` says why it could not be read; ``anchors`` are hashes by position kept
    outside the log (the MLflow tracker's immutable ledger params; locally, the checkpoints
    of the head file).
    """

    events: tuple[AuditEvent, ...] = field(converter=_events)
    head: AuditHead | None
    anchors: dict[int, str] = field(factory=dict, converter=_anchors)
    head_error: str | None = None
