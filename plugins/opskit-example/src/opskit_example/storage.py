"""A folder of blobs named by digest, plus ``index.json`` (digest → size) for fast listing."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from opskit.errors import BlobCorrupted, BlobNotFound
from opskit.storage import BlobInfo, Storage
from opskit.storage.base import (
    CHUNK,
    check_digest,
    digest_bytes,
    digest_file,
    digest_stream,
    write_verified,
)
from opskit.storage.capabilities import SupportsBlobAge


class IndexedFolderStorage(Storage, SupportsBlobAge):
    """Implements ``opskit.storage.Storage``: atomic writes (temp file + rename), verified reads."""

    name = "example"

    def __init__(self, folder: Path, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.location = f"example://{self.folder}"
        self.fsync = fsync
        self._lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------------

    def _path(self, digest: str) -> Path:
        return self.folder / check_digest(digest).replace(":", "-")

    def _index(self) -> dict[str, int]:
        try:
            return dict(json.loads((self.folder / "index.json").read_text()))
        except FileNotFoundError:
            return {}

    def _publish(self, tmp: Path, digest: str, size: int) -> None:
        """Move a fully written temp file under its digest, then record it in the index."""
        with self._lock:
            os.replace(tmp, self._path(digest))
            index = self._index()
            index[digest] = size
            self._write_atomic(
                self.folder / "index.json", json.dumps(index, sort_keys=True).encode()
            )

    def _write_atomic(self, final: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if self.fsync:
                os.fsync(out.fileno())
        os.replace(tmp, final)

    # -- the Storage protocol --------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = digest_bytes(data)
        if not self.exists(digest):
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            self._publish(Path(tmp), digest, len(data))
        return BlobInfo(digest, len(data))

    def put_file(self, path: Path) -> BlobInfo:
        digest, size = digest_file(path)
        if not self.exists(digest):
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            self._publish(Path(tmp), digest, size)
        return BlobInfo(digest, size)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {digest} is not in {self.location}; run `opskit doctor`"
            ) from None

    def stored_at(self, digest: str) -> float:
        try:
            return self._path(digest).stat().st_mtime
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {digest} is not in {self.location}; run `opskit doctor`"
            ) from None

    def get_bytes(self, digest: str) -> bytes:
        with self.open(digest) as src:
            data = src.read()
        if digest_bytes(data) != digest:
            raise BlobCorrupted(
                f"blob {digest} in {self.location} does not match its digest; restore it"
            )
        return data

    def get_file(self, digest: str, dest: Path) -> Path:
        # opskit's helper streams through a temp file and publishes only verified content.
        with self.open(digest) as src:
            return write_verified(src, digest, dest, where=self.location)

    def exists(self, digest: str) -> bool:
        return (
            self._path(digest).is_file() and digest in self._index()
        )  # _path refuses a malformed digest

    def delete(self, digest: str) -> None:
        with self._lock:
            self._path(digest).unlink(missing_ok=True)
            index = self._index()
            if index.pop(digest, None) is not None:
                self._write_atomic(
                    self.folder / "index.json", json.dumps(index, sort_keys=True).encode()
                )

    def iter_digests(self) -> Iterator[str]:
        return iter(sorted(self._index()))

    def verify(self, digest: str) -> bool:
        try:
            with self.open(digest) as src:
                return digest_stream(src)[0] == digest
        except BlobNotFound:
            return False
