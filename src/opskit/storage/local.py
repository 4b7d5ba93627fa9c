"""Local directory storage: ``<root>/sha256/ab/cdef…``, temp file + ``os.replace``, verified reads."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from opskit.errors import BlobCorrupted, BlobNotFound
from opskit.storage.base import (
    CHUNK,
    BlobInfo,
    Storage,
    check_digest,
    corrupted_blob,
    digest_bytes,
    digest_stream,
    write_verified,
)
from opskit.storage.capabilities import SupportsBlobAge

__all__ = ["LocalStorage"]


class LocalStorage(Storage, SupportsBlobAge):
    """Blobs in a local folder; identical content is stored once."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, digest: str) -> Path:
        hexdigest = check_digest(digest).split(":", 1)[1]
        return self.root / "sha256" / hexdigest[:2] / hexdigest[2:]

    def _write_atomic(self, final: Path, chunks: Iterator[bytes]) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = digest_bytes(data)
        final = self._path(digest)
        if not final.exists():
            self._write_atomic(final, iter((data,)))
        return BlobInfo(digest, len(data))

    def put_file(self, path: Path) -> BlobInfo:
        # Copy to a temp file in the store while hashing, then rename under the digest.
        self.root.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            digest = "sha256:" + h.hexdigest()
            final = self._path(digest)
            if final.exists():
                Path(tmp).unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return BlobInfo(digest, size)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {digest} is not in {self.location}; run `opskit doctor` to list missing blobs"
            ) from None

    def get_bytes(self, digest: str) -> bytes:
        with self.open(digest) as fh:
            data = fh.read()
        if digest_bytes(data) != digest:
            raise self._corrupted(digest)
        return data

    def get_file(self, digest: str, dest: Path) -> Path:
        with self.open(digest) as src:
            return write_verified(src, digest, dest, where=str(self._path(digest)))

    def _corrupted(self, digest: str) -> BlobCorrupted:
        return corrupted_blob(digest, str(self._path(digest)))

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)

    def stored_at(self, digest: str) -> float:
        try:
            return self._path(digest).stat().st_mtime
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {digest} is not in {self.location}; run `opskit doctor`"
            ) from None

    def iter_digests(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(base.iterdir()):
            if prefix.is_dir() and len(prefix.name) == 2:
                for blob in sorted(prefix.iterdir()):
                    if not blob.name.startswith(".tmp-"):
                        yield f"sha256:{prefix.name}{blob.name}"

    def verify(self, digest: str) -> bool:
        try:
            with self.open(digest) as fh:
                return digest_stream(fh)[0] == digest
        except BlobNotFound:
            return False
