"""Optional storage capabilities: extras a storage backend may offer beyond ``Storage``.

Each capability is a ``runtime_checkable`` protocol. A backend declares one by
subclassing it (``class MyStorage(Storage, SupportsUploadCleanup)``), so mypy
checks the methods, and opskit finds it with ``isinstance`` instead of probing
attribute names.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["SupportsBlobAge", "SupportsUploadCleanup"]


@runtime_checkable
class SupportsBlobAge(Protocol):
    """A storage that knows when each blob was written.

    ``opskit doctor --repair`` then removes orphan blobs (referenced by no run or
    model) older than an hour; younger ones may belong to a run in progress.
    Without it, doctor only reports orphans.
    """

    def stored_at(self, digest: str) -> float:
        """When the blob was written (epoch seconds). Raises ``BlobNotFound`` when it is not stored."""
        ...


@runtime_checkable
class SupportsUploadCleanup(Protocol):
    """A storage whose interrupted writes can leave unfinished uploads behind (object-store multipart uploads).

    ``opskit doctor`` lists them, and ``opskit doctor --repair`` aborts those
    older than an hour.
    """

    def incomplete_uploads(self, started_before: float | None = None) -> list[tuple[str, str]]:
        """``(key, upload id)`` of every unfinished upload, sorted; only those started before *started_before*
        (epoch seconds) when given, so uploads in progress elsewhere are left alone. Readers never see them."""
        ...

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort one unfinished upload so the server frees its parts."""
        ...
