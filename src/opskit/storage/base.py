"""The storage contract: content-addressed blobs, written atomically, verified on read.

A digest is ``"sha256:<64 hex>"``. Writing the same content twice stores it once.
A reader never sees a half-written blob, and every read checks the digest
(``BlobCorrupted`` if the content was changed).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from attrs import frozen

from opskit.errors import BlobCorrupted, InvalidValue

__all__ = [
    "CHUNK",
    "BlobInfo",
    "Storage",
    "check_digest",
    "corrupted_blob",
    "digest_bytes",
    "digest_file",
    "digest_stream",
    "write_verified",
]

CHUNK = 1 << 20
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@frozen
class BlobInfo:
    """A stored blob: its digest and size."""

    digest: str
    size_bytes: int


def check_digest(digest: str) -> str:
    """Return *digest* if it is ``sha256:<64 lowercase hex>``, else raise ``InvalidValue``."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidValue(
            f"invalid blob digest {digest!r}: expected 'sha256:' followed by 64 hex digits"
        )
    return digest


def corrupted_blob(digest: str, where: str) -> BlobCorrupted:
    """The error every storage raises when a blob's content no longer matches its digest."""
    return BlobCorrupted(
        f"blob {digest} at {where} does not match its digest: it was modified or damaged. Nothing "
        "was loaded. Run `opskit doctor` to find every damaged blob, and restore it from a backup "
        "or re-run the training that produced it"
    )


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_stream(src: BinaryIO, chunk_size: int = CHUNK) -> tuple[str, int]:
    """Digest and size of everything *src* yields, read in chunks."""
    h = hashlib.sha256()
    size = 0
    while chunk := src.read(chunk_size):
        h.update(chunk)
        size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def digest_file(path: Path) -> tuple[str, int]:
    """Digest and size of a file, read in chunks."""
    with open(path, "rb") as fh:
        return digest_stream(fh)


def write_verified(
    src: BinaryIO,
    digest: str,
    dest: Path,
    *,
    where: str,
    chunk_size: int = CHUNK,
    on_chunk: Callable[[int], object] | None = None,
) -> Path:
    """Stream *src* to *dest* through a temp file beside it; publish it only if it matches *digest*.

    The caller sees the whole verified file or nothing; a mismatch raises
    ``BlobCorrupted`` naming *where* the blob is stored.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(chunk_size):
                h.update(chunk)
                out.write(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
        if "sha256:" + h.hexdigest() != digest:
            raise corrupted_blob(digest, where)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


@runtime_checkable
class Storage(Protocol):
    """What opskit needs from a blob store."""

    #: Backend name ("local", "fsspec", ...).
    name: str
    #: Where the blobs are, as a path or URL (shown by ``opskit plugins`` and ``doctor``).
    location: str

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store *data*; return its digest and size. Idempotent."""
        ...

    def put_file(self, path: Path) -> BlobInfo:
        """Store a file's content without reading it whole into memory."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content. Raises ``BlobNotFound`` / ``BlobCorrupted``."""
        ...

    def get_file(self, digest: str, dest: Path) -> Path:
        """Write the verified content to *dest* (atomically) and return it."""
        ...

    def open(self, digest: str) -> BinaryIO:
        """A binary stream of the content (verification is the caller's business)."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are fine)."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest."""
        ...

    def verify(self, digest: str) -> bool:
        """Re-hash a stored blob; True when its content matches its digest."""
        ...
