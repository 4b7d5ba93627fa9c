"""The audit chain of the embedded tracker: chain columns in ``registry_events``, the head in a file.

Every event row carries ``prev_hash`` and ``hash`` (``opskit.governance.audit``); its
``id`` is its position ``seq`` (1, 2, 3, ... with no gap). The head of the chain (last
``seq`` and ``hash``) is kept outside the database, in ``<database>.audit-head`` next to
it: one fixed-size line ``<seq> <hash>`` appended per write transaction, just before its
COMMIT (appends are serialized by SQLite's write lock, so heads are too). The last line is
the head; the earlier ones are checkpoints ``verify`` also checks. An append, not a
temporary file renamed over the old one: on ext4 a rename over a file forces its data to
disk, which cost milliseconds per event (docs/benchmarks.md).
Editing, deleting or reordering rows in the database, or cutting its tail, leaves the
head file as it was, and ``opskit audit verify`` sees the difference. Someone who
rewrites both the rows and the head file is not caught: pin the head elsewhere
(``opskit audit head``) to catch that too. See docs/governance.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import attrs

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
    "read_checkpoints",
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


_LINE = 12 + 1 + 64 + 1  # "<seq, 12 digits> <sha-256 hex>\n"


def _parse(line: bytes, path: Path) -> AuditHead:
    seq, _, digest = line.decode("ascii", "replace").strip().partition(" ")
    if not seq.isdigit() or len(digest) != 64:
        raise StoreError(
            f"the audit head {path} ends in {line[:80]!r}, not a head record; run `opskit audit verify`"
        )
    return AuditHead(int(seq), digest)


def read_head(path: Path) -> AuditHead | None:
    """The head kept in *path* (its last line), None when there is none; StoreError when it cannot be read.

    A last line without its newline is a write cut short by a crash: the line before it counts.
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 2 * _LINE))
            tail = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the audit head {path}: {exc}") from exc
    lines = tail.split(b"\n")
    complete = lines[:-1]  # what follows the last newline is empty, or a torn write
    if not complete or not complete[-1]:
        if size == 0:
            return None
        raise StoreError(f"the audit head {path} holds no complete head record")
    return _parse(complete[-1], path)


def read_checkpoints(path: Path) -> list[AuditHead]:
    """Every head ever written to *path*, oldest first (each append adds one line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [_parse(line, path) for line in data.split(b"\n")[:-1] if line]


def _write_head(path: Path, head: AuditHead) -> None:
    """Append the head as one fixed-size line (an append, not a rename: no forced flush of the file)."""
    line = f"{head.seq:012d} {head.hash}\n".encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


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
    return attrs.evolve(sealed, id=sealed.seq)


_COLUMNS = "id, kind, subject, model, before, after, user, time, run_id, reason, prev_hash, hash"


def _audit_event(row: tuple[Any, ...]) -> AuditEvent:
    number, kind, subject, model, before, after, user, when, run_id, reason, prev, digest = row
    return AuditEvent(
        seq=number,
        action=kind,
        subject=subject,
        model=model,
        before=None if before is None else json.loads(before),
        after=None if after is None else json.loads(after),
        user=user,
        time=when,
        run_id=run_id,
        reason=reason,
        prev_hash=prev or "",
        hash=digest or "",
        id=number,
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
