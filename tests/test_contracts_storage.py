"""The storage contract suite (opskit.testing.StorageContract) run against every storage in this repo."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from opskit.storage.base import Storage
from opskit.storage.fsspec import FsspecStorage
from opskit.storage.local import LocalStorage
from opskit.testing import StorageContract


class TestLocalStorage(StorageContract):
    """The built-in local folder storage."""

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Storage:
        return LocalStorage(tmp_path / "blobs")

    def tamper(self, storage: Storage, digest: str) -> None:
        assert isinstance(storage, LocalStorage)
        path = storage._path(digest)
        os.chmod(path, 0o644)  # blobs are stored read-only
        path.write_bytes(b"tampered")


class TestMemoryFsspecStorage(StorageContract):
    """The built-in fsspec storage on fsspec's in-memory filesystem (no server)."""

    @pytest.fixture
    def storage(self) -> Storage:
        return FsspecStorage(f"memory://contract-{uuid.uuid4().hex}")

    def tamper(self, storage: Storage, digest: str) -> None:
        assert isinstance(storage, FsspecStorage)
        storage.fs.pipe_file(storage._key(digest), b"tampered")


class TestFsspecLocalFolderStorage(StorageContract):
    """The fsspec storage forced onto a local folder (``fsspec+file://``)."""

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Storage:
        return FsspecStorage(f"file://{tmp_path / 'blobs'}")

    def tamper(self, storage: Storage, digest: str) -> None:
        assert isinstance(storage, FsspecStorage)
        storage.fs.pipe_file(storage._key(digest), b"tampered")


class TestExamplePluginStorage(StorageContract):
    """plugins/opskit-example's indexed folder storage."""

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Storage:
        from opskit_example.storage import IndexedFolderStorage

        return IndexedFolderStorage(tmp_path / "example-blobs")

    def tamper(self, storage: Storage, digest: str) -> None:
        from opskit_example.storage import IndexedFolderStorage

        assert isinstance(storage, IndexedFolderStorage)
        storage._path(digest).write_bytes(b"tampered")
