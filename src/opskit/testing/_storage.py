"""``StorageContract``: what every ``opskit.storage.Storage`` backend must do, as pytest tests."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opskit.errors import BlobCorrupted, BlobNotFound, InvalidValue
from opskit.storage.base import CHUNK, BlobInfo, Storage, digest_bytes
from opskit.storage.capabilities import SupportsBlobAge, SupportsUploadCleanup
from opskit.testing._context import Contract, declared

__all__ = ["StorageContract"]

_MISSING = digest_bytes(b"opskit.testing: a blob nobody stored")
# A fixture's fresh backend per test, and one test method run by each subclass, are intended.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.differing_executors]
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=_SUPPRESSED)


class StorageContract(Contract):
    """Contract tests for a ``Storage`` backend: define the ``storage`` fixture (an empty store).

    To check that reads refuse changed content, override ``tamper(storage, digest)``
    to overwrite the stored bytes behind the backend's back, or declare
    ``unsupported = {"tamper": "why"}``.
    """

    features: ClassVar[tuple[str, ...]] = ("tamper",)

    @pytest.fixture
    def storage(self) -> Storage:
        """The backend under test, empty; subclasses override this fixture."""
        pytest.fail(declared(self, "storage"))

    def tamper(self, storage: Storage, digest: str) -> None:
        """Change the stored content of *digest* without going through the backend."""
        raise NotImplementedError(
            f"{type(self).__name__} must override tamper(storage, digest) or declare "
            "unsupported = {'tamper': 'reason'}"
        )

    def _tampered(self, storage: Storage, content: bytes) -> str:
        self.require("tamper")
        digest = storage.put_bytes(content).digest
        self.tamper(storage, digest)
        return digest

    # -- shape ---------------------------------------------------------------------------------------

    def test_implements_the_protocol(self, storage: Storage) -> None:
        """The backend is a ``Storage`` with a string ``name`` and ``location``."""
        assert isinstance(storage, Storage)
        assert isinstance(storage.name, str) and storage.name
        assert isinstance(storage.location, str) and storage.location

    def test_an_empty_store_lists_nothing(self, storage: Storage) -> None:
        """A new store has no digests and ``exists`` is False."""
        assert list(storage.iter_digests()) == []
        assert storage.exists(_MISSING) is False

    # -- writes and reads ----------------------------------------------------------------------------

    @_SETTINGS
    @given(data=st.binary(max_size=4096))
    def test_put_bytes_round_trips(self, storage: Storage, data: bytes) -> None:
        """``put_bytes`` returns the sha256 digest and size; ``get_bytes`` and ``open`` give the bytes back."""
        info = storage.put_bytes(data)
        assert info == BlobInfo(digest_bytes(data), len(data))
        assert storage.exists(info.digest)
        assert storage.get_bytes(info.digest) == data
        with storage.open(info.digest) as stream:
            assert stream.read() == data

    def test_put_file_streams_a_large_file(self, storage: Storage, tmp_path: Path) -> None:
        """``put_file`` stores a file bigger than one chunk; ``get_file`` writes the same bytes and returns the path."""
        data = bytes(range(256)) * (CHUNK // 256 * 2 + 7)
        source = tmp_path / "source.bin"
        source.write_bytes(data)
        info = storage.put_file(source)
        assert info == BlobInfo(digest_bytes(data), len(data))
        dest = tmp_path / "out" / "nested" / "copy.bin"
        assert Path(storage.get_file(info.digest, dest)) == dest
        assert dest.read_bytes() == data
        assert storage.get_bytes(info.digest) == data

    def test_get_file_replaces_an_existing_file(self, storage: Storage, tmp_path: Path) -> None:
        """``get_file`` over an existing file leaves exactly the blob's content there."""
        digest = storage.put_bytes(b"new content").digest
        dest = tmp_path / "copy.bin"
        dest.write_bytes(b"old and longer content that must disappear")
        storage.get_file(digest, dest)
        assert dest.read_bytes() == b"new content"

    def test_identical_content_is_stored_once(self, storage: Storage, tmp_path: Path) -> None:
        """Writing the same content twice (bytes or file) gives the same digest and one stored blob."""
        first = storage.put_bytes(b"same")
        (tmp_path / "same.bin").write_bytes(b"same")
        second = storage.put_file(tmp_path / "same.bin")
        third = storage.put_bytes(b"same")
        assert first == second == third
        assert list(storage.iter_digests()) == [first.digest]

    def test_empty_content_round_trips(self, storage: Storage, tmp_path: Path) -> None:
        """A zero-byte blob is stored and read back like any other."""
        info = storage.put_bytes(b"")
        assert info.size_bytes == 0 and storage.get_bytes(info.digest) == b""
        assert storage.get_file(info.digest, tmp_path / "empty").read_bytes() == b""

    def test_iter_digests_lists_every_stored_blob(self, storage: Storage) -> None:
        """``iter_digests`` yields exactly the stored digests, each once."""
        stored = {storage.put_bytes(f"blob {i}".encode()).digest for i in range(5)}
        listed = list(storage.iter_digests())
        assert sorted(listed) == sorted(stored)

    # -- missing and invalid digests -----------------------------------------------------------------

    def test_reading_a_missing_blob_raises_blob_not_found(
        self, storage: Storage, tmp_path: Path
    ) -> None:
        """``get_bytes``, ``get_file`` and ``open`` of a digest never stored raise ``BlobNotFound``; no file is left."""
        with pytest.raises(BlobNotFound, match=_MISSING.split(":")[1][:12]):
            storage.get_bytes(_MISSING)
        dest = tmp_path / "never.bin"
        with pytest.raises(BlobNotFound):
            storage.get_file(_MISSING, dest)
        assert not dest.exists()
        with pytest.raises(BlobNotFound):
            storage.open(_MISSING)
        assert storage.verify(_MISSING) is False

    @pytest.mark.parametrize(
        "digest", ["", "sha256:xyz", "md5:" + "0" * 32, "sha256:" + "A" * 64, "../../etc/passwd"]
    )
    def test_a_malformed_digest_is_refused(self, storage: Storage, digest: str) -> None:
        """A digest that is not ``sha256:<64 lowercase hex>`` raises ``InvalidValue`` on every read."""
        for read in (storage.get_bytes, storage.exists, storage.open, storage.verify):
            with pytest.raises(InvalidValue):
                read(digest)

    # -- delete --------------------------------------------------------------------------------------

    def test_delete_removes_the_blob_and_is_idempotent(self, storage: Storage) -> None:
        """After ``delete`` the blob is gone from reads and listings; deleting it again (or a missing one) is fine."""
        keep = storage.put_bytes(b"keep").digest
        gone = storage.put_bytes(b"gone").digest
        storage.delete(gone)
        assert not storage.exists(gone)
        assert list(storage.iter_digests()) == [keep]
        with pytest.raises(BlobNotFound):
            storage.get_bytes(gone)
        storage.delete(gone)
        storage.delete(_MISSING)
        assert storage.get_bytes(keep) == b"keep"

    def test_a_deleted_blob_can_be_stored_again(self, storage: Storage) -> None:
        """Content written after its blob was deleted is stored again."""
        digest = storage.put_bytes(b"again").digest
        storage.delete(digest)
        assert storage.put_bytes(b"again").digest == digest
        assert storage.get_bytes(digest) == b"again"

    # -- verification --------------------------------------------------------------------------------

    def test_verify_is_true_for_intact_content(self, storage: Storage) -> None:
        """``verify`` re-hashes a stored blob and returns True when it is intact."""
        assert storage.verify(storage.put_bytes(b"intact").digest) is True

    def test_reads_refuse_tampered_content(self, storage: Storage, tmp_path: Path) -> None:
        """Changed content raises ``BlobCorrupted`` from ``get_bytes`` and ``get_file`` (which leaves no file); ``verify`` is False."""
        digest = self._tampered(storage, b"original content")
        with pytest.raises(BlobCorrupted):
            storage.get_bytes(digest)
        dest = tmp_path / "copy.bin"
        with pytest.raises(BlobCorrupted):
            storage.get_file(digest, dest)
        assert not dest.exists()
        assert storage.verify(digest) is False

    def test_get_file_keeps_the_old_file_when_content_is_tampered(
        self, storage: Storage, tmp_path: Path
    ) -> None:
        """A refused ``get_file`` leaves an existing destination file untouched (the write is atomic)."""
        digest = self._tampered(storage, b"original content")
        out = tmp_path / "destination"
        out.mkdir()
        dest = out / "copy.bin"
        dest.write_bytes(b"what was there")
        with pytest.raises(BlobCorrupted):
            storage.get_file(digest, dest)
        assert dest.read_bytes() == b"what was there"
        assert [p.name for p in out.iterdir()] == ["copy.bin"], (
            "no temp file may be left beside the destination"
        )

    def test_open_streams_without_verifying(self, storage: Storage) -> None:
        """``open`` returns a readable binary stream of the stored bytes (verification is the caller's)."""
        digest = storage.put_bytes(b"stream me").digest
        with storage.open(digest) as stream:
            assert isinstance(stream.read(0), bytes)
            buffer = io.BytesIO(stream.read())
        assert buffer.getvalue() == b"stream me"

    # -- optional capabilities -------------------------------------------------------------------------

    def test_upload_cleanup_when_declared_lists_sorted_string_pairs(self, storage: Storage) -> None:
        """``SupportsUploadCleanup``: declared, it lists sorted (key, upload id) pairs, none before 1970; else neither method."""
        if SupportsUploadCleanup not in type(storage).__mro__:
            methods = {"incomplete_uploads", "abort_upload"}
            present = sorted(methods & set(dir(storage)))
            assert present == [], (
                f"{type(storage).__name__} has {present} without declaring SupportsUploadCleanup: declare it as a base "
                "class (both methods) so mypy and this suite check it, or rename them"
            )
            return
        assert isinstance(storage, SupportsUploadCleanup)
        storage.put_bytes(b"opskit.testing: a completed write")
        found = storage.incomplete_uploads(None)
        assert found == sorted(found)
        assert all(isinstance(key, str) and isinstance(upload, str) for key, upload in found)
        assert storage.incomplete_uploads(0.0) == [], "started_before=0 must leave out every upload"

    def test_blob_age_when_declared_is_a_past_time(self, storage: Storage) -> None:
        """``SupportsBlobAge``: declared, ``stored_at`` is a past epoch time and ``BlobNotFound`` when absent; else no method."""
        if SupportsBlobAge not in type(storage).__mro__:
            assert not isinstance(storage, SupportsBlobAge), (
                f"{type(storage).__name__} has a `stored_at` that `opskit doctor --repair` will trust to delete "
                "orphans: declare SupportsBlobAge as a base class so mypy and this suite check it, or rename it"
            )
            return
        assert isinstance(storage, SupportsBlobAge)
        digest = storage.put_bytes(b"opskit.testing: how old am I").digest
        written = storage.stored_at(digest)
        assert (
            isinstance(written, float) and 0 < written <= time.time() + 300
        )  # clocks of a remote store may drift a little
        with pytest.raises(BlobNotFound):
            storage.stored_at(_MISSING)
