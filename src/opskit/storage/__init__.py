"""Content-addressed blob storage. ``Storage`` is the contract; ``migrate`` copies between storages."""

from opskit.storage.base import BlobInfo, Storage
from opskit.storage.capabilities import SupportsBlobAge, SupportsUploadCleanup
from opskit.storage.migration import MigrationReport, migrate, open_storage

__all__ = [
    "BlobInfo",
    "MigrationReport",
    "Storage",
    "SupportsBlobAge",
    "SupportsUploadCleanup",
    "migrate",
    "open_storage",
]


from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
