"""The audit chain of the embedded tracker: chain columns in ``registry_events``, the head in a file.

Every event row carries ``prev_hash`` and ``hash`` (``opskit.governance.audit``); its
``id`` is its position ``seq`` (1, 2, 3, ... with no gap). The head of the chain (last
``seq`` and ``hash``) is kept outside the database, in ``<database>.audit-head`` next to
it, replaced atomically (temporary file + rename) inside the writing transaction, just
before its COMMIT (appends are serialized by SQLite's write lock, so heads are too).
Editing, deleting or reordering rows in the database, or cutting its tail, leaves the
head file as it was, and ``opskit audit verify`` sees the difference. Someone who
rewrites both the rows and the head file is not caught: pin the head elsewhere
(``opskit audit head``) to catch that too. See docs/governance.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

from opskit.errors import StoreError
from opskit.governance.audit import GENESIS, seal
from opskit.records.audit import AuditEvent, AuditHead
from opskit.registry.events import RegistryEvent

__all__ = [
    "append",
    "backfill",
    "chain",
    "database",
    "drop_pending",
    "head_path",
    "read_head",
    "write_pending",
]

#: Heads appended inside a transaction not yet committed, by connection: written just before COMMIT.
_pending: dict[int, tuple[Path, AuditHead]] = {}


def head_path(database: str | Path) -> Path:
    """Where the head of the chain of the database *database* is kept."""
    return Path(f"{database}.audit-head")


def database(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def read_head(path: Path) -> AuditHead | None:
    """The head kept in *path*, None when there is none; StoreError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the audit head {path}: {exc}") from exc
    try:
        data = json.loads(text)
        return AuditHead(seq=int(data["seq"]), hash=str(data["hash"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"the audit head {path} is not a head record ({exc}); run `opskit audit verify`"
        ) from exc


def _write_head(path: Path, head: AuditHead) -> None:
    text = json.dumps({"seq": head.seq, "hash": head.hash}, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pending(conn: sqlite3.Connection) -> None:
    """Write the head of what *conn* appended in its open transaction (call just before COMMIT)."""
    pending = _pending.pop(id(conn), None)
    if pending is not None:
        _write_head(*pending)


def drop_pending(conn: sqlite3.Connection) -> None:
    """Forget the head of a transaction that rolls back."""
    _pending.pop(id(conn), None)


def _tip(conn: sqlite3.Connection, path: Path) -> AuditHead:
    """Where the next event links: the later of the last row and the kept head (the head on a tie).

    Taking the head when it is ahead of (or disagrees with) the rows keeps the evidence: a cut
    tail stays a gap, an edited last event stays a broken link, after new events are appended.
    """
    row = conn.execute("SELECT id, hash FROM registry_events ORDER BY id DESC LIMIT 1").fetchone()
    last = AuditHead(0, GENESIS) if row is None else AuditHead(int(row[0]), str(row[1] or ""))
    pending = _pending.get(id(conn))
    try:
        head = pending[1] if pending is not None else read_head(path)
    except StoreError:
        head = None  # unreadable: `audit verify` reports it; appending goes on from the rows
    if head is not None and head.seq >= last.seq:
        return head
    return last


def append(conn: sqlite3.Connection, event: RegistryEvent) -> AuditEvent:
    """Append *event* inside the caller's transaction, chained; return it sealed (``id`` = ``seq``)."""
    path = head_path(database(conn))
    tip = _tip(conn, path)
    sealed = seal(event, seq=tip.seq + 1, prev_hash=tip.hash)
    sealed = _insert(conn, sealed)
    _pending[id(conn)] = (path, AuditHead(sealed.seq, sealed.hash))
    return sealed


def _insert(conn: sqlite3.Connection, sealed: AuditEvent) -> AuditEvent:
    conn.execute(
        "INSERT INTO registry_events (id, kind, subject, model, before, after, user, time, run_id, "
        "reason, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sealed.seq,
            sealed.action,
            sealed.subject,
            sealed.model,
            None if sealed.before is None else json.dumps(sealed.before, sort_keys=True),
            None if sealed.after is None else json.dumps(sealed.after, sort_keys=True),
            sealed.user,
            sealed.time,
            sealed.run_id,
            sealed.reason,
            sealed.prev_hash,
            sealed.hash,
        ),
    )
    return AuditEvent(
        seq=sealed.seq,
        action=sealed.action,
        subject=sealed.subject,
        model=sealed.model,
        before=sealed.before,
        after=sealed.after,
        user=sealed.user,
        time=sealed.time,
        run_id=sealed.run_id,
        reason=sealed.reason,
        prev_hash=sealed.prev_hash,
        hash=sealed.hash,
        id=sealed.seq,
    )


_COLUMNS = "id, kind, subject, model, before, after, user, time, run_id, reason, prev_hash, hash"


def _audit_event(row: tuple[object, ...]) -> AuditEvent:
    number, kind, subject, model, before, after, user, when, run_id, reason, prev, digest = row
    return AuditEvent(
        seq=int(number),  # type: ignore[call-overload]
        action=str(kind),
        subject=str(subject),
        model=None if model is None else str(model),
        before=None if before is None else json.loads(str(before)),
        after=None if after is None else json.loads(str(after)),
        user=None if user is None else str(user),
        time=float(when),  # type: ignore[arg-type]
        run_id=None if run_id is None else str(run_id),
        reason=None if reason is None else str(reason),
        prev_hash=str(prev or ""),
        hash=str(digest or ""),
        id=int(number),  # type: ignore[call-overload]
    )


def chain(conn: sqlite3.Connection) -> list[AuditEvent]:
    """Every event of the log as an ``AuditEvent``, in ``seq`` order."""
    return [
        _audit_event(row)
        for row in conn.execute(f"SELECT {_COLUMNS} FROM registry_events ORDER BY id")
    ]


def backfill(conn: sqlite3.Connection, database: str) -> None:
    """Migration to schema 4: chain the events a previous opskit wrote (in id order), keep the head."""
    prev = GENESIS
    last = 0
    for event in chain(conn):
        sealed = seal(
            RegistryEvent(
                kind=event.action,  # type: ignore[arg-type]
                subject=event.subject,
                model=event.model,
                before=event.before,
                after=event.after,
                user=event.user,
                time=event.time,
                run_id=event.run_id,
                reason=event.reason,
            ),
            seq=event.seq,
            prev_hash=prev,
        )
        conn.execute(
            "UPDATE registry_events SET prev_hash = ?, hash = ? WHERE id = ?",
            (sealed.prev_hash, sealed.hash, event.seq),
        )
        prev, last = sealed.hash, event.seq
    if last:
        _pending[id(conn)] = (head_path(database), AuditHead(last, prev))
