"""Local content-addressed storage: atomic writes, dedup, verified reads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.storage.base import digest_bytes
from opskit.storage.local import LocalStorage


@given(st.binary(max_size=4096))
@settings(max_examples=50, deadline=None)
def test_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """Whatever goes in comes out byte for byte, under its sha256 digest."""
    storage = LocalStorage(tmp_path_factory.mktemp("blobs"))
    blob = storage.put_bytes(data)
    assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert blob.size_bytes == len(data)
    assert storage.get_bytes(blob.digest) == data


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    """Putting the same bytes twice (as bytes and as a file) leaves one blob."""
    storage = LocalStorage(tmp_path / "blobs")
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 10_000)
    a = storage.put_bytes(b"x" * 10_000)
    b = storage.put_file(source)
    assert a == b
    assert list(storage.iter_digests()) == [a.digest]


def test_put_file_streams_and_get_file_verifies(tmp_path: Path) -> None:
    """A multi-chunk file round-trips through put_file/get_file."""
    storage = LocalStorage(tmp_path / "blobs")
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * (1 << 20) + 17))
    blob = storage.put_file(source)
    out = storage.get_file(blob.digest, tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == source.read_bytes()
    assert storage.verify(blob.digest)


def test_tampered_blob_is_refused(tmp_path: Path) -> None:
    """A blob whose bytes changed raises BlobCorrupted on read and fails verify()."""
    storage = LocalStorage(tmp_path / "blobs")
    blob = storage.put_bytes(b"original content")
    path = storage._path(blob.digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered content")
    with pytest.raises(opskit.BlobCorrupted, match="does not match its digest"):
        storage.get_bytes(blob.digest)
    with pytest.raises(opskit.BlobCorrupted):
        storage.get_file(blob.digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert not storage.verify(blob.digest)


def test_missing_blob_and_bad_digest(tmp_path: Path) -> None:
    """Unknown digests raise BlobNotFound; malformed ones raise InvalidValue."""
    storage = LocalStorage(tmp_path / "blobs")
    with pytest.raises(opskit.BlobNotFound, match="opskit doctor"):
        storage.get_bytes(digest_bytes(b"never stored"))
    with pytest.raises(opskit.InvalidValue, match="64 hex"):
        storage.get_bytes("md5:abc")


def test_failed_write_leaves_nothing_visible(tmp_path: Path) -> None:
    """A write interrupted by an exception leaves no blob and no temp file behind."""
    storage = LocalStorage(tmp_path / "blobs")

    def chunks():  # type: ignore[no-untyped-def]
        yield b"partial"
        raise KeyboardInterrupt

    final = storage._path(digest_bytes(b"partial"))
    with pytest.raises(KeyboardInterrupt):
        storage._write_atomic(final, chunks())
    assert not final.exists()
    assert list((tmp_path / "blobs").rglob("*.tmp*")) == []
    assert list(storage.iter_digests()) == []
