"""Protected aliases and four-eyes approvals (``opskit.approvals``).

A protected alias (``[tool.opskit.governance] protected_aliases``) never moves by itself:
every path that would move it (the decorator's ``alias=``, ``opskit.models.set_alias``,
``promote``, the CLI, validation's registration) calls :func:`guard`, which opens an
:class:`ApprovalRequest` instead. ``approve`` by users other than the requester adds
approvals; when the alias's ``approvals_required`` distinct approvers are reached the alias
moves. ``reject`` closes a request. A rollback (to the alias's previous target, a state
that was approved) needs no approval.

Requests are tracker state documents (kind ``opskit.approval``); their ids are allocated
atomically with ``claim_state`` (kind ``opskit.approval.id``), so two processes never open
two requests with the same id. Each change of a request is one registry event
(``approval_requested`` / ``approval_granted`` / ``approval_rejected``) written with the
document, so it is in the audit chain, with the comment as the reason.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping
from typing import Any, Literal

import attrs
from attrs import frozen

from opskit.errors import (
    AlreadyApproved,
    ApprovalNotFound,
    ApprovalPending,
    InvalidValue,
    LifecycleUnsupported,
    RequestClosed,
    SelfApproval,
    ValidationRequired,
    VersionNotServable,
)
from opskit.records import AliasChange
from opskit.registry.events import EventKind, RegistryEvent, alias_changed, approval_changed
from opskit.registry.hooks import fire_hooks
from opskit.runtime import get_config, get_tracker
from opskit.sdk import identity
from opskit.tracker.capabilities import SupportsLifecycle

__all__ = [
    "Approval",
    "ApprovalRequest",
    "RequestStatus",
    "approve",
    "get",
    "guard",
    "list",
    "open_request",
    "pending",
    "reject",
]

RequestStatus = Literal["open", "approved", "rejected"]
_STATUSES: tuple[RequestStatus, ...] = ("open", "approved", "rejected")
#: State kind of the request documents, and of the id claims.
KIND = "opskit.approval"
ID_KIND = "opskit.approval.id"


@frozen
class Approval:
    """One approval (or the rejection) of a request: who, when, why."""

    user: str | None
    time: float
    comment: str | None = None


@frozen
class ApprovalRequest:
    """A request to point ``model@alias`` at ``version``, waiting for (or closed by) approvers."""

    id: int
    model: str
    alias: str
    version: int
    #: Who asked (``$OPSKIT_USER`` or the OS user); never allowed to approve it.
    requester: str | None
    created_at: float
    #: ``open``, ``approved`` (the alias moved) or ``rejected``.
    status: RequestStatus
    #: Distinct approvers needed (from the configuration when the request was opened).
    required: int
    #: The version the alias pointed at when the request was opened (None: unset).
    previous_version: int | None = None
    comment: str | None = None
    approvals: tuple[Approval, ...] = ()
    rejection: Approval | None = None

    @property
    def ref(self) -> str:
        """``model@alias``."""
        return f"{self.model}@{self.alias}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document it is stored as."""
        return attrs.asdict(self, recurse=True)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ApprovalRequest:
        """The request of a stored document."""
        rejection = doc.get("rejection")
        return cls(
            id=int(doc["id"]),
            model=str(doc["model"]),
            alias=str(doc["alias"]),
            version=int(doc["version"]),
            requester=doc.get("requester"),
            created_at=float(doc["created_at"]),
            status=doc["status"],
            required=int(doc["required"]),
            previous_version=doc.get("previous_version"),
            comment=doc.get("comment"),
            approvals=tuple(Approval(**a) for a in doc.get("approvals", ())),
            rejection=None if rejection is None else Approval(**rejection),
        )

    def summary(self) -> str:
        """One line for ``opskit approvals list``."""
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(self.created_at))
        by = ", ".join(a.user or "-" for a in self.approvals) or "-"
        return (
            f"#{self.id}  {when}  {self.status:<8} {self.ref} -> v{self.version}  "
            f"by {self.requester or '-'}  approvals {len(self.approvals)}/{self.required} ({by})"
        )


def _key(request_id: int) -> str:
    return f"{request_id:010d}"


def _event(
    request: ApprovalRequest,
    kind: EventKind,
    before: ApprovalRequest | None,
    *,
    user: str | None,
    reason: str | None,
) -> RegistryEvent:
    return approval_changed(
        kind,
        request.model,
        request.alias,
        None if before is None else before.to_dict(),
        request.to_dict(),
        user=user,
        reason=reason,
    )


def _store(
    request: ApprovalRequest,
    kind: EventKind,
    before: ApprovalRequest | None,
    *,
    user: str | None,
    reason: str | None,
) -> None:
    event = _event(request, kind, before, user=user, reason=reason)
    get_tracker().put_state(KIND, _key(request.id), request.to_dict(), event=event)


def _require_validation(model: str, version: int, alias: str) -> None:
    from opskit.names import ModelRef

    tracker = get_tracker()
    found = tracker.get_model_version(ModelRef(model, version=version))
    report = None
    if found.run_id is not None:
        report = tracker.get_run(found.run_id).validation
    if report is None or report.status != "passed":
        state = "has no validation report" if report is None else f"validation {report.status}"
        raise ValidationRequired(
            f"cannot request {model}:{version} for protected alias {alias!r}: its run {state} and "
            "require_validation is on; train it with validation (validate=...) that passes, "
            "or promote another version"
        )


def open_request(
    model: str, alias: str, version: int, *, comment: str | None = None, validated: bool = False
) -> ApprovalRequest:
    """Open a request to point ``model@alias`` at *version* (the open one for the same target, if any).

    Refuses an archived or rejected version (``VersionNotServable``) and, with
    ``require_validation``, a version without a passed validation report (``ValidationRequired``;
    *validated* says the caller saw its validation pass, before the report was stored).
    """
    from opskit.names import ModelRef

    tracker = get_tracker()
    found = tracker.get_model_version(ModelRef(model, version=version))
    if found.status in ("archived", "rejected"):
        raise VersionNotServable(
            f"cannot request {found.ref} for {alias!r}: it is {found.status}; promote another version"
        )
    governance = get_config().governance
    if governance.require_validation and not validated:
        _require_validation(model, version, alias)
    for existing in list(status="open"):
        if (existing.model, existing.alias, existing.version) == (model, alias, version):
            return existing
    user = identity.user()
    current = tracker.get_model(model).aliases.get(alias)
    request_id = len(tracker.list_state(ID_KIND)) + 1
    while not tracker.claim_state(ID_KIND, _key(request_id), {"time": time.time()}):
        request_id += 1
    request = ApprovalRequest(
        id=request_id,
        model=model,
        alias=alias,
        version=version,
        requester=user,
        created_at=time.time(),
        status="open",
        required=max(governance.required(alias), 1),
        previous_version=current,
        comment=comment,
    )
    _store(
        request,
        "approval_requested",
        None,
        user=user,
        reason=comment or f"request {model}:{version} for {model}@{alias}",
    )
    return request


def guard(
    model: str, alias: str, version: int, *, comment: str | None = None, validated: bool = False
) -> ApprovalRequest | None:
    """None when *alias* is not protected (move it); else the open request for the move (do not move it).

    Moving a protected alias to the version it already points at needs nothing (None).
    """
    governance = get_config().governance
    if not governance.is_protected(alias):
        return None
    if get_tracker().get_model(model).aliases.get(alias) == version:
        return None
    return open_request(model, alias, version, comment=comment, validated=validated)


def pending(
    model: str, alias: str, version: int, *, registering: bool = False, validated: bool = False
) -> AliasChange | None:
    """``guard`` for the paths that return an ``AliasChange`` (``set_alias``, the decorator's ``alias=``).

    None: move the alias. Otherwise the request was opened, an ``ApprovalPending`` warning names
    it, and the returned change says the alias stayed. With *registering* (the version was just
    registered and must not be lost), a refusal to open the request (``ValidationRequired``,
    ``VersionNotServable``) is a warning too, not an error.
    """
    import warnings

    from opskit._stack import user_stacklevel

    try:
        request = guard(model, alias, version, validated=validated)
    except (ValidationRequired, VersionNotServable) as exc:
        if not registering:
            raise
        warnings.warn(
            f"{model}:{version} is registered but protected alias {alias!r} was not moved and no "
            f"approval request was opened: {exc}",
            ApprovalPending,
            stacklevel=user_stacklevel(),
        )
        current = get_tracker().get_model(model).aliases.get(alias)
        return AliasChange(model, alias, current, current, time.time(), identity.user())
    if request is None:
        return None
    warnings.warn(
        f"{model}@{alias} is protected: it was not moved to v{version}; approval request "
        f"#{request.id} is open (`opskit approvals approve {request.id}` by another user moves it)",
        ApprovalPending,
        stacklevel=user_stacklevel(),
    )
    current = get_tracker().get_model(model).aliases.get(alias)
    return AliasChange(model, alias, current, current, time.time(), identity.user())


def get(request_id: int) -> ApprovalRequest:
    """The request *request_id*; ``ApprovalNotFound`` when there is none."""
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise InvalidValue(f"approval request id {request_id!r} must be a number, e.g. 12")
    doc = get_tracker().get_state(KIND, _key(request_id))
    if doc is None:
        raise ApprovalNotFound(
            f"no approval request #{request_id}; `opskit approvals list --status all` shows them"
        )
    return ApprovalRequest.from_dict(doc)


def list(
    status: RequestStatus | Literal["all"] | None = "open", *, model: str | None = None
) -> builtins.list[ApprovalRequest]:
    """The approval requests, oldest first: those with *status* (``open`` by default; ``all`` or None: every one)."""
    if status not in (*_STATUSES, "all", None):
        raise InvalidValue(
            f"unknown approval status {status!r}; use one of {', '.join(_STATUSES)} or all"
        )
    requests = [ApprovalRequest.from_dict(d) for d in get_tracker().list_state(KIND).values()]
    return sorted(
        (
            r
            for r in requests
            if (status in ("all", None) or r.status == status)
            and (model is None or r.model == model)
        ),
        key=lambda r: r.id,
    )


def _open(request_id: int, action: str) -> ApprovalRequest:
    request = get(request_id)
    if request.status != "open":
        raise RequestClosed(
            f"cannot {action} approval request #{request_id}: it is already {request.status}; "
            f"open a new one with `opskit models promote {request.model}:VERSION {request.alias}`"
        )
    return request


def approve(request_id: int, *, comment: str | None = None) -> ApprovalRequest:
    """Approve request *request_id* as the current user; the alias moves when enough distinct users approved.

    Refused (nothing changes): by the requester (``SelfApproval``), by a user who already
    approved it (``AlreadyApproved``), on a closed request (``RequestClosed``), when the
    version was archived or rejected meanwhile (``VersionNotServable``).
    """
    from opskit.names import ModelRef

    request = _open(request_id, "approve")
    from opskit.governance.policy import require

    require(f"approve:{request.alias}", subject=request.ref, model=request.model)
    user = identity.user()
    if user is None:
        raise SelfApproval(
            f"cannot approve request #{request_id}: opskit cannot tell who you are; set OPSKIT_USER"
        )
    if user == request.requester:
        raise SelfApproval(
            f"cannot approve request #{request_id}: {user!r} opened it, and a request needs "
            "approval by someone else (four eyes); ask another user to run "
            f"`opskit approvals approve {request_id}`"
        )
    if any(a.user == user for a in request.approvals):
        raise AlreadyApproved(
            f"{user!r} already approved request #{request_id} "
            f"({len(request.approvals)}/{request.required}); another user must approve it"
        )
    version = get_tracker().get_model_version(ModelRef(request.model, version=request.version))
    if version.status in ("archived", "rejected"):
        raise VersionNotServable(
            f"cannot approve request #{request_id}: {version.ref} was {version.status} meanwhile; "
            f"reject it (`opskit approvals reject {request_id}`) and request another version"
        )
    tracker = get_tracker()
    if not isinstance(tracker, SupportsLifecycle):
        raise LifecycleUnsupported(
            f"the tracker {type(tracker).__name__} cannot move an alias with a reason; "
            "use the local or mlflow tracker (or one that implements SupportsLifecycle)"
        )
    approvals = (*request.approvals, Approval(user, time.time(), comment))
    done = len({a.user for a in approvals}) >= request.required
    updated = attrs.evolve(request, approvals=approvals, status="approved" if done else "open")
    reason = comment or f"approval {len(approvals)}/{request.required} of request #{request_id}"
    if not done:
        _store(updated, "approval_granted", request, user=user, reason=reason)
        return updated
    # The last approval: the request document, its event and the alias move in one tracker write.
    event = _event(updated, "approval_granted", request, user=user, reason=reason)
    change = tracker.move_alias(
        request.model,
        request.alias,
        request.version,
        user=user,
        reason=f"approval request #{request_id} approved by "
        + ", ".join(a.user or "-" for a in approvals),
        state=(KIND, _key(request.id), updated.to_dict(), event),
    )
    fire_hooks([alias_changed(change)])
    return updated


def reject(request_id: int, *, comment: str | None = None) -> ApprovalRequest:
    """Close request *request_id* as rejected (by anyone, the requester included: a withdrawal); the alias stays."""
    request = _open(request_id, "reject")
    from opskit.governance.policy import require

    require(f"reject:{request.alias}", subject=request.ref, model=request.model)
    user = identity.user()
    updated = attrs.evolve(
        request, status="rejected", rejection=Approval(user, time.time(), comment)
    )
    _store(
        updated,
        "approval_rejected",
        request,
        user=user,
        reason=comment or f"request #{request_id} rejected",
    )
    return updated
