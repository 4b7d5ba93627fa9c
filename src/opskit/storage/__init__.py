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
