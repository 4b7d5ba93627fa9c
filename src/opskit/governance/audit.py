"""The audit chain: canonical JSON of an event, its SHA-256 link, and the check of a whole chain.

Pure functions (no I/O): the trackers call ``seal`` when they append an event and hand
``verify_chain`` what they stored. Each event's hash is
``SHA-256(prev_hash ‖ "\\n" ‖ canonical JSON)``, where the canonical JSON holds the event's
position ``seq`` and every field a user reads (action, subject, model, before, after, user,
time, run id, reason), with sorted keys and no spaces. SHA-256, not a fast non-cryptographic
hash such as xxh3: the point is that nobody can craft a different event with the same hash,
which needs a collision-resistant hash (see docs/governance.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from opskit.records.audit import AuditEvent, AuditHead, AuditVerification, BreakKind
from opskit.registry.events import RegistryEvent

__all__ = [
    "GENESIS",
    "canonical_json",
    "chain_hash",
    "normalize",
    "registry_event_of",
    "seal",
    "verify_chain",
]

#: The ``prev_hash`` of the first event.
GENESIS = "0" * 64


def normalize(document: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """*document* as it reads back from the store (through JSON), so the hash is computed on what is kept."""
    if document is None:
        return None
    plain: dict[str, Any] = json.loads(json.dumps(dict(document), sort_keys=True, default=str))
    return plain


def canonical_json(event: AuditEvent | RegistryEvent, seq: int) -> str:
    """The bytes hashed for *event* at position *seq*: sorted keys, no spaces, UTF-8."""
    action = event.action if isinstance(event, AuditEvent) else event.kind
    body = {
        "seq": seq,
        "action": action,
        "subject": event.subject,
        "model": event.model,
        "before": event.before,
        "after": event.after,
        "user": event.user,
        "time": event.time,
        "run_id": event.run_id,
        "reason": event.reason,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, event: AuditEvent | RegistryEvent, seq: int) -> str:
    """SHA-256 hex of ``prev_hash`` ‖ newline ‖ canonical JSON of *event* at *seq*."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(event, seq).encode("utf-8"))
    return digest.hexdigest()


def seal(event: RegistryEvent, *, seq: int, prev_hash: str) -> AuditEvent:
    """The audit event of *event* appended at *seq* after the link *prev_hash* (before/after normalized)."""
    plain = attrs.evolve(event, before=normalize(event.before), after=normalize(event.after))
    return AuditEvent(
        seq=seq,
        action=plain.kind,
        subject=plain.subject,
        model=plain.model,
        before=plain.before,
        after=plain.after,
        user=plain.user,
        time=plain.time,
        run_id=plain.run_id,
        reason=plain.reason,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, plain, seq),
        id=plain.id,
    )


def registry_event_of(event: AuditEvent) -> RegistryEvent:
    """The registry event an audit event records (``id`` included)."""
    return RegistryEvent(
        kind=event.action,  # type: ignore[arg-type]  # an EventKind when written by opskit
        subject=event.subject,
        model=event.model,
        before=event.before,
        after=event.after,
        user=event.user,
        time=event.time,
        run_id=event.run_id,
        reason=event.reason,
        id=event.id,
    )


def _broken(
    checked: int,
    head: AuditHead | None,
    seq: int,
    kind: BreakKind,
    expected: str,
    found: str,
    detail: str,
) -> AuditVerification:
    return AuditVerification(
        ok=False,
        checked=checked,
        head=head,
        seq=seq,
        kind=kind,
        expected=expected,
        found=found,
        detail=detail,
    )


def verify_chain(
    events: Iterable[AuditEvent],
    head: AuditHead | None,
    anchors: Mapping[int, str] | None = None,
) -> AuditVerification:
    """Check *events* (any order) against each other, the *anchors* and the *head*; report the first broken link.

    *head* is the last link as kept outside the log (None: none kept); *anchors* are hashes
    by position kept outside the log (the MLflow ledger params, the local head file's checkpoints). The
    check recomputes every hash from the genesis, so it is linear in the number of events.
    """
    anchors = anchors or {}
    ordered = sorted(events, key=lambda e: e.seq)
    known = {GENESIS} | {e.hash for e in ordered}
    last_seq = ordered[-1].seq if ordered else 0
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for event in ordered:
        if event.seq < expected_seq:
            return _broken(
                checked,
                head,
                event.seq,
                "reordered",
                "one event per position",
                f"a second event at seq {event.seq} ({event.action} {event.subject})",
                f"two events claim seq {event.seq}",
            )
        if event.seq > expected_seq:
            missing = (
                f"seq {expected_seq}"
                if event.seq == expected_seq + 1
                else f"seq {expected_seq}..{event.seq - 1}"
            )
            return _broken(
                checked,
                head,
                expected_seq,
                "removed",
                anchors.get(expected_seq, f"an event at seq {expected_seq}"),
                f"nothing (the next event is seq {event.seq})",
                f"the event(s) at {missing} were removed from the log",
            )
        recomputed = chain_hash(prev, event, event.seq)
        anchor = anchors.get(event.seq, event.hash)
        if recomputed == event.hash == anchor and event.prev_hash == prev:
            prev = recomputed
            expected_seq += 1
            checked += 1
            continue
        what = f"{event.action} {event.subject} by {event.user or '-'}"
        # Intact but at another position? (Searched once, at the first break: the check stays linear.)
        origin = next(
            (
                seq
                for seq in range(1, last_seq + 2)
                if seq != event.seq and chain_hash(event.prev_hash, event, seq) == event.hash
            ),
            0,
        )
        if origin:
            return _broken(
                checked,
                head,
                event.seq,
                "reordered",
                anchor,
                event.hash,
                f"the event at seq {event.seq} ({what}) was written at seq {origin}: events were reordered",
            )
        if event.prev_hash != prev and event.prev_hash not in known:
            return _broken(
                checked,
                head,
                event.seq,
                "removed",
                prev,
                event.prev_hash,
                f"the event at seq {event.seq} ({what}) follows an event that is no longer in the log",
            )
        if chain_hash(event.prev_hash, event, event.seq) == event.hash and event.prev_hash != prev:
            return _broken(
                checked,
                head,
                event.seq - 1,
                "edited",
                event.prev_hash,
                prev,
                f"the event at seq {event.seq - 1} was changed (and re-hashed): "
                f"seq {event.seq} no longer links to it",
            )
        return _broken(
            checked,
            head,
            event.seq,
            "edited",
            anchor,
            recomputed,
            f"the event at seq {event.seq} ({what}) was changed after it was written",
        )
    last = AuditHead(expected_seq - 1, prev) if checked else None
    if head is None:
        if last is None:
            return AuditVerification(ok=True, checked=0, head=None)
        return _broken(
            checked,
            None,
            last.seq,
            "head-mismatch",
            "a head record",
            "none",
            "the log has events but the head of the chain (kept outside the log) is missing",
        )
    if last is None or head.seq > last.seq:
        first_missing = 1 if last is None else last.seq + 1
        return _broken(
            checked,
            head,
            first_missing,
            "tail-truncated",
            f"events up to seq {head.seq} (head {head.hash})",
            f"events up to seq {0 if last is None else last.seq}",
            f"the log ends before its head: the event(s) from seq {first_missing} to {head.seq} were removed",
        )
    if head.seq < last.seq:
        return _broken(
            checked,
            head,
            head.seq + 1,
            "head-mismatch",
            f"the log to end at seq {head.seq}",
            f"events up to seq {last.seq}",
            "the log has events past its head (appended by something that did not update the head)",
        )
    if head.hash != last.hash:
        return _broken(
            checked,
            head,
            last.seq,
            "edited",
            head.hash,
            last.hash,
            f"the chain up to seq {last.seq} no longer ends in the head's hash: the log was rewritten",
        )
    return AuditVerification(ok=True, checked=checked, head=head)
