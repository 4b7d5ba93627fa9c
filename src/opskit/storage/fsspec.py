"""Blob storage on any fsspec filesystem: ``s3://bucket/prefix``, ``gs://``, ``az://``, ``memory://``.

Layout under the prefix is the local one: ``sha256/ab/cdef…``. Blobs stream in
chunks of :data:`CHUNK_SIZE` (never read whole into memory, except by
``get_bytes`` whose contract is to return bytes).

Atomicity: the digest is known before anything is uploaded (a first streaming
pass hashes the file), so

* on object stores (S3, GCS, Azure) the blob goes straight to its final key: a
  single PUT, or a multipart upload, is invisible until it completes, and an
  upload that fails is aborted;
* on filesystems with a cheap rename (memory, local, sftp) it is written under
  ``tmp/`` and moved into place.

The content is hashed again while uploading; a file that changed between the
two passes is refused before the upload completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from opskit.distribution import pip_install
from opskit.errors import (
    BackendUnavailable,
    BlobCorrupted,
    BlobNotFound,
    ConfigError,
    StorageAccessDenied,
    UnknownBackend,
)
from opskit.storage.base import (
    BlobInfo,
    Storage,
    check_digest,
    corrupted_blob,
    digest_bytes,
    digest_file,
    digest_stream,
    write_verified,
)
from opskit.storage.capabilities import SupportsUploadCleanup
from opskit.storage.progress import Progress
from opskit.storage.retry import RetryPolicy, is_transient, with_retries

__all__ = ["CHUNK_SIZE", "OBJECT_STORE_PROTOCOLS", "FsspecStorage", "install_hint"]

T = TypeVar("T")

#: Transfer chunk and multipart part size (S3 needs parts of at least 5 MiB).
CHUNK_SIZE = 8 << 20
#: Protocols whose uploads are atomic per object, so blobs go straight to their final key.
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci"})

_EXTRAS = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}


def install_hint(scheme: str) -> str:
    """What to install for URLs with *scheme*."""
    package, extra = _EXTRAS.get(scheme, ("fsspec", "s3"))
    return f"{pip_install(extra)} (it brings {package} and fsspec)"


class FsspecStorage(Storage, SupportsUploadCleanup):
    """Content-addressed blobs under a URL prefix on an fsspec filesystem."""

    name = "fsspec"

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.location = url.rstrip("/")
        self.scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
        self.chunk_size = chunk_size
        self.retry = retry or RetryPolicy()
        options = dict(storage_options or {})
        try:
            import fsspec

            # Our own instance: fsspec caches filesystems by arguments, and a cached one would
            # keep credentials from the environment of an earlier configuration.
            self.fs, root = fsspec.url_to_fs(url, skip_instance_cache=True, **options)
        except ImportError as exc:
            raise UnknownBackend(
                f"storage {url!r} needs a filesystem library that is not installed ({exc}); "
                f"{install_hint(self.scheme)}"
            ) from None
        except ValueError as exc:
            raise UnknownBackend(
                f"fsspec cannot open {url!r}: {exc}; check the URL scheme"
            ) from None
        except TypeError as exc:
            raise UnknownBackend(
                f"the {self.scheme}:// filesystem rejected storage_options {sorted(options)}: {exc}; "
                "fix [tool.opskit.storage_options] or opskit.configure(storage_options=...)"
            ) from None
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.direct_upload = bool(set(protocols) & OBJECT_STORE_PROTOCOLS)

    # -- keys and errors -----------------------------------------------------------------------

    def _key(self, digest: str) -> str:
        hexdigest = check_digest(digest).split(":", 1)[1]
        return f"{self.root}/sha256/{hexdigest[:2]}/{hexdigest[2:]}"

    def _bucket(self) -> str:
        return str(self.root).lstrip("/").split("/", 1)[0]

    def _credentials_hint(self) -> str:
        if self.scheme in ("s3", "s3a"):
            return (
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_ENDPOINT_URL "
                "for a server that is not AWS, or key/secret/endpoint_url in "
                "[tool.opskit.storage_options] / opskit.configure(storage_options=...)"
            )
        return (
            f"check the credentials of the {self.scheme}:// filesystem: its usual environment "
            "variables, or [tool.opskit.storage_options] / opskit.configure(storage_options=...)"
        )

    def _translate(self, exc: Exception, action: str, digest: str | None) -> Exception:
        text = str(exc) or type(exc).__name__
        lowered = text.lower()
        if isinstance(exc, FileNotFoundError) and ("bucket" in lowered or "container" in lowered):
            return StorageAccessDenied(
                f"bucket {self._bucket()!r} of storage {self.location} does not exist ({text}); create it, "
                "or point OPSKIT_STORAGE / opskit.configure(storage=...) at an existing bucket"
            )
        if isinstance(exc, FileNotFoundError) and digest is not None:
            return BlobNotFound(
                f"blob {digest} is not in {self.location}; run `opskit doctor` to list missing blobs, "
                "or `opskit storage migrate` to copy them from the storage that has them"
            )
        if isinstance(exc, PermissionError):
            return StorageAccessDenied(
                f"storage {self.location} refused to {action} ({text}): {self._credentials_hint()}; "
                f"and check that bucket {self._bucket()!r} exists and these credentials may read and write it"
            )
        if isinstance(exc, TypeError) and "unexpected keyword argument" in lowered:
            return ConfigError(
                f"the {self.scheme}:// filesystem rejected an option ({text}); fix "
                "[tool.opskit.storage_options] or opskit.configure(storage_options=...)"
            )
        if is_transient(exc):
            return BackendUnavailable(
                f"storage {self.location} could not {action} after {self.retry.attempts} attempts "
                f"({type(exc).__name__}: {text}); check the network and the endpoint "
                "(AWS_ENDPOINT_URL or endpoint_url in storage_options), then try again"
            )
        return exc

    def _call(self, action: str, fn: Callable[[], T], digest: str | None = None) -> T:
        try:
            return with_retries(fn, self.retry)
        except Exception as exc:
            translated = self._translate(exc, action, digest)
            if translated is exc:
                raise
            raise translated from exc

    # -- writing -------------------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        key = self._key(digest)
        return bool(self._call("check for a blob", lambda: self.fs.exists(key)))

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = digest_bytes(data)
        if not self.exists(digest):
            key = self._key(digest)
            if self.direct_upload:
                self._call("upload a blob", lambda: self.fs.pipe_file(key, bytes(data)))
            else:
                self._call("upload a blob", lambda: self._via_temp(key, lambda f: f.write(data)))
        return BlobInfo(digest, len(data))

    def put_file(self, path: Path) -> BlobInfo:
        path = Path(path)
        digest, size = digest_file(path)  # first pass: the final key is known before uploading
        if not self.exists(digest):
            key = self._key(digest)
            self._call("upload a blob", lambda: self._upload_file(path, key, digest, size))
        return BlobInfo(digest, size)

    def _stream_into(self, out: Any, path: Path, digest: str, size: int) -> None:
        h = hashlib.sha256()
        with open(path, "rb") as src, Progress(f"upload {path.name}", size) as bar:
            while chunk := src.read(self.chunk_size):
                h.update(chunk)
                out.write(chunk)
                bar.advance(len(chunk))
        if "sha256:" + h.hexdigest() != digest:
            raise BlobCorrupted(
                f"{path} changed while it was being stored (its digest is no longer {digest}); nothing "
                "was stored. Do not modify files while opskit stores them, then try again"
            )

    def _upload_file(self, path: Path, key: str, digest: str, size: int) -> None:
        if not self.direct_upload:
            self._via_temp(key, lambda f: self._stream_into(f, path, digest, size))
            return
        out = self.fs.open(key, "wb", block_size=self.chunk_size)
        try:
            self._stream_into(out, path, digest, size)
            out.close()  # completes the single PUT or the multipart upload
        except BaseException:
            _abandon(out)  # abort the multipart upload: nothing appears under the key
            raise

    def _via_temp(self, key: str, write: Callable[[Any], object]) -> None:
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            with self.fs.open(tmp, "wb") as out:
                write(out)
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp, key)
        except BaseException:
            try:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
            except Exception:  # the original error matters more than a failed clean-up
                pass
            raise

    # -- reading -------------------------------------------------------------------------------

    def _where(self, digest: str) -> str:
        return f"{self.location}/{self._key(digest)[len(self.root) + 1 :]}"

    def _corrupted(self, digest: str) -> BlobCorrupted:
        return corrupted_blob(digest, self._where(digest))

    def open(self, digest: str) -> BinaryIO:
        key = self._key(digest)
        opened = self._call(
            "read a blob",
            lambda: self.fs.open(key, "rb", block_size=self.chunk_size, cache_type="none"),
            digest,
        )
        return cast(BinaryIO, opened)

    def get_bytes(self, digest: str) -> bytes:
        key = self._key(digest)
        data = bytes(self._call("read a blob", lambda: self.fs.cat_file(key), digest))
        if digest_bytes(data) != digest:
            raise self._corrupted(digest)
        return data

    def _download(self, digest: str, dest: Path) -> None:
        with (
            self.open(digest) as src,
            Progress(f"download {digest[7:19]}", getattr(src, "size", None)) as bar,
        ):
            write_verified(
                src,
                digest,
                dest,
                where=self._where(digest),
                chunk_size=self.chunk_size,
                on_chunk=bar.advance,
            )

    def get_file(self, digest: str, dest: Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._call("read a blob", lambda: self._download(digest, dest), digest)
        return dest

    def verify(self, digest: str) -> bool:
        def rehash() -> str:
            with self.open(digest) as src:
                return digest_stream(src, self.chunk_size)[0]

        try:
            return self._call("read a blob", rehash, digest) == digest
        except BlobNotFound:
            return False

    # -- housekeeping --------------------------------------------------------------------------

    def delete(self, digest: str) -> None:
        key = self._key(digest)

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(key)

        self._call("delete a blob", remove, digest)

    def iter_digests(self) -> Iterator[str]:
        base = f"{self.root}/sha256"
        self.fs.invalidate_cache()
        paths: list[str] = self._call("list blobs", lambda: _find(self.fs, base))
        for path in sorted(paths):
            parts = path.rstrip("/").split("/")
            if len(parts) >= 2 and len(parts[-2]) == 2 and len(parts[-1]) == 62:
                candidate = f"sha256:{parts[-2]}{parts[-1]}"
                try:
                    yield check_digest(candidate)
                except ValueError:
                    continue

    def incomplete_uploads(self, started_before: float | None = None) -> list[tuple[str, str]]:
        """``(key, upload id)`` of unfinished multipart uploads under the prefix (S3 only).

        A process killed mid-upload leaves one: invisible to readers, but the
        server keeps its parts. ``started_before`` (epoch seconds) keeps only
        older ones, so uploads in progress elsewhere are left alone.
        """
        lister = getattr(self.fs, "list_multipart_uploads", None)
        if not callable(lister):
            return []
        bucket = self._bucket()
        prefix = str(self.root).lstrip("/")[len(bucket) :].lstrip("/")
        uploads = self._call("list unfinished uploads", lambda: lister(bucket))
        found = []
        for upload in uploads:
            key = str(upload.get("Key", ""))
            initiated = upload.get("Initiated")
            if prefix and not key.startswith(prefix + "/"):
                continue
            if (
                started_before is not None
                and initiated is not None
                and initiated.timestamp() >= started_before
            ):
                continue
            found.append((key, str(upload["UploadId"])))
        return sorted(found)

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort one unfinished multipart upload (its parts are deleted)."""
        bucket = self._bucket()
        self._call("abort an unfinished upload", lambda: self.fs.abort_mpu(bucket, key, upload_id))

    def __repr__(self) -> str:
        return f"FsspecStorage({self.location!r})"


def _find(fs: Any, base: str) -> list[str]:
    try:
        return list(fs.find(base))
    except FileNotFoundError:
        return []


def _abandon(out: Any) -> None:
    """Throw away a half-written remote file so that closing it never publishes it."""
    discard = getattr(out, "discard", None)
    try:
        if callable(discard):
            discard()
    finally:
        with contextlib.suppress(AttributeError):
            out.closed = True  # stop __del__ from completing the upload
