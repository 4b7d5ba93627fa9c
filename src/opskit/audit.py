"""``opskit.audit``: the tamper-evident audit log of governed actions, and its check.

Every registry event (a version registered, an alias set/moved/removed, a deployment
created/switched/stopped) is appended to a hash chain by the tracker, in the same write as
the event. ``log`` reads and filters it; ``verify`` recomputes the chain and compares it
with its head, kept where an edit of the log alone does not change it; ``head`` gives that
head, to pin it elsewhere. See docs/governance.md for what this does and does not protect.
"""

from __future__ import annotations

import builtins
import datetime as _dt
from collections.abc import Sequence

from opskit.errors import AuditUnsupported, InvalidValue
from opskit.governance.audit import verify_chain
from opskit.records.audit import AuditEvent, AuditHead, AuditTrail, AuditVerification
from opskit.registry.events import EVENT_KINDS
from opskit.runtime import get_tracker
from opskit.tracker.capabilities import SupportsAudit

__all__ = ["head", "log", "parse_pin", "parse_time", "verify"]

TimeLike = float | int | str | _dt.datetime | _dt.date


def parse_time(value: TimeLike, *, name: str = "time") -> float:
    """*value* as a Unix time: a number, a ``datetime``/``date`` (naive means UTC) or an ISO text.

    ``"2026-11-01"`` is the start of that day (UTC); ``"2026-11-01T12:30"`` and
    ``"2026-11-01T12:30:00+01:00"`` work too.
    """
    if isinstance(value, bool):
        raise InvalidValue(f"{name}={value!r} is not a time; give a date like 2026-11-01")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed: _dt.date = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidValue(
                f"{name}={value!r} is not a date or time; use ISO 8601, e.g. 2026-11-01 or "
                "2026-11-01T12:30:00+00:00"
            ) from None
        value = parsed
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)
        return moment.timestamp()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC).timestamp()
    raise InvalidValue(
        f"{name}={value!r} is not a time; give a date like 2026-11-01, a datetime or a Unix time"
    )


def _trail() -> AuditTrail:
    tracker = get_tracker()
    if not isinstance(tracker, SupportsAudit):
        raise AuditUnsupported(
            f"the tracker {type(tracker).__name__} keeps no audit chain; "
            "use the local or mlflow tracker (or a plugin tracker that implements SupportsAudit)"
        )
    return tracker.audit_trail()


def _actions(action: str | Sequence[str] | None) -> set[str] | None:
    if action is None:
        return None
    wanted = {action} if isinstance(action, str) else set(action)
    unknown = sorted(wanted - set(EVENT_KINDS))
    if unknown:
        raise InvalidValue(
            f"unknown audit action(s) {unknown}; use some of {', '.join(EVENT_KINDS)}"
        )
    return wanted


def log(
    *,
    model: str | None = None,
    action: str | Sequence[str] | None = None,
    user: str | None = None,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
) -> builtins.list[AuditEvent]:
    """The audit events, oldest first, filtered by model, action(s), user and time (``since`` <= time < ``until``).

    The events are returned as stored; ``verify()`` says whether they are intact.
    """
    actions = _actions(action)
    start = None if since is None else parse_time(since, name="since")
    end = None if until is None else parse_time(until, name="until")
    return [
        event
        for event in sorted(_trail().events, key=lambda e: e.seq)
        if (model is None or event.model == model)
        and (actions is None or event.action in actions)
        and (user is None or event.user == user)
        and (start is None or event.time >= start)
        and (end is None or event.time < end)
    ]


def parse_pin(text: str) -> AuditHead:
    """A head written as ``SEQ:HASH`` (what ``opskit audit head`` prints)."""
    seq, sep, digest = text.strip().partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise InvalidValue(
            f"pinned head {text!r} must look like SEQ:HASH (64 hex digits), as `opskit audit head` prints it"
        )
    return AuditHead(int(seq), digest.lower())


def verify(*, pin: AuditHead | str | None = None) -> AuditVerification:
    """Recompute the whole chain; ``ok`` or the first broken link (seq, kind, expected vs found).

    *pin* is a head recorded earlier (``head()`` or ``opskit audit head``): the chain must
    still contain it, which also catches someone who rewrote both the log and its head.
    """
    pinned = parse_pin(pin) if isinstance(pin, str) else pin
    trail = _trail()
    if trail.head_error is not None:
        return AuditVerification(
            ok=False,
            checked=0,
            seq=trail.events[-1].seq if trail.events else 0,
            kind="head-mismatch",
            expected="a readable head record",
            found=trail.head_error,
            detail="the head of the chain cannot be read",
        )
    result = verify_chain(trail.events, trail.head, trail.anchors)
    if not result.ok or pinned is None:
        return result
    at = next((e for e in trail.events if e.seq == pinned.seq), None)
    if at is None:
        return AuditVerification(
            ok=False,
            checked=result.checked,
            head=result.head,
            seq=pinned.seq,
            kind="tail-truncated",
            expected=pinned.hash,
            found="no event at that seq",
            detail=f"the pinned head {pinned.summary()} is no longer in the chain",
        )
    if at.hash != pinned.hash:
        return AuditVerification(
            ok=False,
            checked=result.checked,
            head=result.head,
            seq=pinned.seq,
            kind="edited",
            expected=pinned.hash,
            found=at.hash,
            detail=f"the chain up to seq {pinned.seq} differs from the pinned head: it was rewritten",
        )
    return result


def head() -> AuditHead | None:
    """The head of the chain (last ``seq`` and ``hash``), None while the log is empty."""
    trail = _trail()
    if trail.head is not None:
        return trail.head
    if trail.events:
        last = max(trail.events, key=lambda e: e.seq)
        return AuditHead(last.seq, last.hash)
    return None
