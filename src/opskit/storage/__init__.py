"""Content-addressed blob storage. ``Storage`` is the contract."""

from opskit.storage.base import BlobInfo, Storage

__all__ = ["BlobInfo", "Storage"]
