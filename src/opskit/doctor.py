"""``opskit doctor``: check (and with ``repair=True`` mend) the store."""

from __future__ import annotations

import time
from pathlib import Path

from attrs import define, field, frozen

from opskit.errors import BlobNotFound
from opskit.runtime import get_storage, get_tracker
from opskit.storage.capabilities import SupportsBlobAge, SupportsUploadCleanup
from opskit.storage.local import LocalStorage

__all__ = ["Finding", "Report", "run_doctor"]

#: Orphans and temp files younger than this may belong to a run in progress.
GRACE_SECONDS = 3600.0


@frozen
class Finding:
    """One thing doctor checked."""

    check: str
    ok: bool
    detail: str
    repaired: bool = False


@define
class Report:
    findings: list[Finding] = field(factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok or f.repaired for f in self.findings)

    def add(self, check: str, ok: bool, detail: str, repaired: bool = False) -> None:
        self.findings.append(Finding(check, ok, detail, repaired))


def _temp_files(storage: LocalStorage, older_than: float) -> list[Path]:
    if not storage.root.is_dir():
        return []
    return [p for p in storage.root.rglob(".tmp-*") if p.stat().st_mtime < older_than]


def run_doctor(*, repair: bool = False, verify: bool = True) -> Report:
    """Check schema, stale runs, missing/corrupted/orphan blobs and leftover temp files."""
    report = Report()
    tracker = get_tracker()
    report.add("tracker", True, f"{tracker.name} tracker opened (schema up to date)")
    stale = tracker.mark_stale_runs()
    report.add(
        "stale runs",
        True,
        f"{len(stale)} run(s) whose process died were marked KILLED: {', '.join(stale)}"
        if stale
        else "none",
        repaired=bool(stale),
    )
    storage = get_storage()
    referenced = tracker.referenced_digests()
    stored = set(storage.iter_digests())
    missing = sorted(referenced - stored)
    report.add(
        "missing blobs",
        not missing,
        f"{len(missing)} referenced blob(s) are not in {storage.location}: {', '.join(missing[:5])}"
        if missing
        else f"all {len(referenced)} referenced blob(s) present",
    )
    if verify:
        bad = sorted(d for d in referenced & stored if not storage.verify(d))
        report.add(
            "blob digests",
            not bad,
            f"{len(bad)} blob(s) do not match their digest (tampered or damaged): {', '.join(bad[:5])}; "
            "restore them from a backup or retrain"
            if bad
            else f"{len(referenced & stored)} blob(s) verified",
        )
    orphans = sorted(stored - referenced)
    removed = 0
    if repair and orphans and isinstance(storage, SupportsBlobAge):  # age unknown: never remove
        cutoff = time.time() - GRACE_SECONDS
        for digest in orphans:
            try:
                old = storage.stored_at(digest) < cutoff
            except BlobNotFound:  # removed meanwhile
                continue
            if old:
                storage.delete(digest)
                removed += 1
    if not repair:
        outcome = " (harmless; `opskit doctor --repair` removes old ones)"
    elif isinstance(storage, SupportsBlobAge):
        outcome = f"; removed {removed} older than an hour"
    else:
        outcome = f"; kept: {storage.name} storage does not report blob ages, so none can be told safe to remove"
    report.add(
        "orphan blobs",
        True,
        f"{len(orphans)} blob(s) not referenced by any record (run, model version, state document)"
        + outcome
        if orphans
        else "none",
        repaired=removed > 0,
    )
    if isinstance(storage, LocalStorage):
        leftovers = _temp_files(storage, time.time() - GRACE_SECONDS)
        if repair:
            for path in leftovers:
                path.unlink(missing_ok=True)
        report.add(
            "temp files",
            not leftovers or repair,
            f"{len(leftovers)} leftover temp file(s) from interrupted writes"
            + (" removed" if repair else "")
            if leftovers
            else "none",
            repaired=repair and bool(leftovers),
        )
    _unfinished_uploads(report, storage, repair=repair)
    return report


def _unfinished_uploads(report: Report, storage: object, *, repair: bool) -> None:
    """Multipart uploads left by killed processes (object stores only): harmless, but they cost space."""
    if not isinstance(storage, SupportsUploadCleanup):
        return
    stale = storage.incomplete_uploads(time.time() - GRACE_SECONDS)
    if repair:
        for key, upload_id in stale:
            storage.abort_upload(key, upload_id)
    report.add(
        "unfinished uploads",
        True,
        f"{len(stale)} multipart upload(s) older than an hour never completed (invisible to readers)"
        + ("; aborted" if repair else "; `opskit doctor --repair` aborts them")
        if stale
        else "none",
        repaired=repair and bool(stale),
    )
