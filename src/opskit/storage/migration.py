"""``opskit storage migrate --to URL``: copy every blob from the active storage to another.

Each blob is read from the source with its digest verified, written to the
destination (atomically, as every storage writes) and checked there. Blobs the
destination already holds with the right content are skipped, so a migration
that was interrupted is resumed by running it again, and running it twice
copies nothing the second time. A damaged copy at the destination is replaced.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from attrs import frozen

from opskit.errors import BlobCorrupted
from opskit.storage.base import Storage

__all__ = ["MigrationReport", "migrate", "open_storage"]


@frozen
class MigrationReport:
    """What a migration did, blob by blob."""

    source: str
    destination: str
    copied: tuple[str, ...]
    skipped: tuple[str, ...]
    replaced: tuple[str, ...]
    bytes_copied: int

    @property
    def total(self) -> int:
        return len(self.copied) + len(self.skipped)

    def summary(self) -> str:
        return (
            f"{len(self.copied)} blob(s) copied ({self.bytes_copied} bytes, {len(self.replaced)} damaged "
            f"cop(ies) replaced), {len(self.skipped)} already present and verified; "
            f"{self.source} → {self.destination}"
        )


def open_storage(location: str) -> Storage:
    """A storage for *location* (a name, path or URL) with the options of the configuration in force."""
    from opskit.runtime import get_config, get_registry, storage_registration

    name, where = storage_registration(location)
    storage: Storage = get_registry().get("storage", name).factory(get_config(), where)
    return storage


def migrate(
    to: str | Storage,
    *,
    source: Storage | None = None,
    verify_existing: bool = True,
    on_blob: Callable[[str, str], None] | None = None,
) -> MigrationReport:
    """Copy every blob of *source* (default: the active storage) to *to* (a URL, path or Storage).

    ``verify_existing`` re-hashes blobs already at the destination (a full read);
    without it their presence is trusted. ``on_blob(digest, outcome)`` is called
    after each blob with ``"copied"``, ``"replaced"`` or ``"skipped"``.
    """
    from opskit.runtime import get_storage

    src = source if source is not None else get_storage()
    dest = open_storage(to) if isinstance(to, str) else to
    copied: list[str] = []
    skipped: list[str] = []
    replaced: list[str] = []
    nbytes = 0
    with tempfile.TemporaryDirectory(prefix="opskit-migrate-") as scratch:
        for digest in src.iter_digests():
            present = dest.exists(digest)
            if present and (not verify_existing or dest.verify(digest)):
                skipped.append(digest)
                _notify(on_blob, digest, "skipped")
                continue
            if present:
                dest.delete(digest)  # damaged copy: put_* would skip an existing key
                replaced.append(digest)
            staged = src.get_file(digest, Path(scratch) / "blob")  # verified against the digest
            blob = dest.put_file(staged)
            staged.unlink()
            if blob.digest != digest or not dest.exists(digest):
                raise BlobCorrupted(
                    f"blob {digest} was copied to {dest.location} but reads back as {blob.digest}; "
                    "the destination storage is not storing content faithfully. Check it, then run the "
                    "migration again (it resumes where it stopped)"
                )
            copied.append(digest)
            nbytes += blob.size_bytes
            _notify(on_blob, digest, "replaced" if present else "copied")
    return MigrationReport(
        src.location, dest.location, tuple(copied), tuple(skipped), tuple(replaced), nbytes
    )


def _notify(callback: Callable[[str, str], None] | None, digest: str, outcome: str) -> None:
    if callback is not None:
        callback(digest, outcome)
