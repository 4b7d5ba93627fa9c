"""The fsspec storage without a server (memory://, fsspec+file://), retries, migration and its CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from conftest import run_python
from opskit._backends import get_storage
from opskit.cli.main import main
from opskit.storage import migrate
from opskit.storage.base import digest_bytes
from opskit.storage.fsspec import FsspecStorage
from opskit.storage.local import LocalStorage
from opskit.storage.retry import RetryPolicy, is_transient, with_retries


def _memory_url() -> str:
    return f"memory://opskit-{uuid.uuid4().hex}/blobs"


@given(st.binary(max_size=4096))
@settings(max_examples=50, deadline=None)
def test_memory_round_trip_property(data: bytes) -> None:
    """Any bytes round-trip through memory:// under their sha256 digest, as bytes and as a file."""
    storage = FsspecStorage(_memory_url(), chunk_size=1024)
    blob = storage.put_bytes(data)
    assert blob == opskit.storage.BlobInfo(digest_bytes(data), len(data))
    assert storage.get_bytes(blob.digest) == data
    assert storage.verify(blob.digest)
    assert list(storage.iter_digests()) == [blob.digest]


def test_file_url_through_fsspec_streams_and_dedups(tmp_path: Path) -> None:
    """fsspec+file:// writes via tmp/ + move, in the local layout, and stores identical content once."""
    opskit.configure(storage=f"fsspec+file://{tmp_path / 'remote'}")
    storage = get_storage()
    assert storage.name == "fsspec"
    source = tmp_path / "data.bin"
    source.write_bytes(bytes(range(256)) * 5000)
    a = storage.put_file(source)
    b = storage.put_bytes(source.read_bytes())
    assert a == b
    files = sorted(
        p.relative_to(tmp_path / "remote").as_posix()
        for p in (tmp_path / "remote").rglob("*")
        if p.is_file()
    )
    assert files == [f"sha256/{a.digest[7:9]}/{a.digest[9:]}"]
    assert LocalStorage(tmp_path / "remote").get_bytes(a.digest) == source.read_bytes()


def test_failed_upload_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that changes while it is uploaded is refused and leaves no blob and no temp object."""
    storage = FsspecStorage(_memory_url(), chunk_size=1024)
    source = tmp_path / "moving.bin"
    source.write_bytes(b"a" * 10_000)
    real = storage._stream_into

    def change_then_stream(out, path, digest, size):  # type: ignore[no-untyped-def]
        path.write_bytes(b"b" * 10_000)
        real(out, path, digest, size)

    monkeypatch.setattr(storage, "_stream_into", change_then_stream)
    with pytest.raises(opskit.BlobCorrupted, match="changed while it was being stored"):
        storage.put_file(source)
    assert storage.fs.find(storage.root) == []


def test_corrupted_blob_is_refused(tmp_path: Path) -> None:
    """Bytes changed behind the storage's back raise BlobCorrupted from get_bytes and get_file."""
    storage = FsspecStorage(_memory_url())
    blob = storage.put_bytes(b"original")
    storage.fs.pipe_file(storage._key(blob.digest), b"tampered")
    with pytest.raises(opskit.BlobCorrupted, match="does not match its digest"):
        storage.get_bytes(blob.digest)
    with pytest.raises(opskit.BlobCorrupted):
        storage.get_file(blob.digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert not storage.verify(blob.digest)


def test_transient_errors_are_retried_then_give_up() -> None:
    """Connection errors and 5xx/throttling are retried with backoff; permission errors are not."""
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("connection reset by peer")
        return "ok"

    assert with_retries(flaky, RetryPolicy(attempts=5, base=0.1), sleep=slept.append) == "ok"
    assert len(calls) == 3 and len(slept) == 2 and all(0 <= s <= 0.2 for s in slept)
    assert is_transient(OSError("An error occurred (SlowDown) when calling PutObject: 503"))
    assert is_transient(OSError("Service returned HTTP 502 Bad Gateway"))
    assert not is_transient(OSError("bad key sha256/ab/c500d: invalid"))
    assert not is_transient(PermissionError("Forbidden"))
    assert not is_transient(FileNotFoundError("NoSuchKey"))
    denied: list[int] = []

    def refuse() -> None:
        denied.append(1)
        raise PermissionError("InvalidAccessKeyId")

    with pytest.raises(PermissionError):
        with_retries(refuse, RetryPolicy(attempts=5), sleep=slept.append)
    assert denied == [1]
    with pytest.raises(ConnectionResetError):
        with_retries(
            lambda: (_ for _ in ()).throw(ConnectionResetError("down")),
            RetryPolicy(attempts=3),
            sleep=slept.append,
        )


def test_import_opskit_loads_no_storage_library() -> None:
    """import opskit (and selecting the local storage) imports none of fsspec, s3fs, botocore, rich."""
    out = run_python(
        "import sys, json, opskit\nfrom opskit._backends import get_storage\nget_storage()\n"
        "print(json.dumps([m for m in ('fsspec', 's3fs', 'botocore', 'rich') if m in sys.modules]))"
    )
    assert json.loads(out.stdout) == []


def test_missing_s3fs_says_what_to_install() -> None:
    """Selecting s3:// without s3fs raises UnknownBackend naming opskit-ml[s3]."""
    out = run_python(
        "import sys\nsys.modules['s3fs'] = None\nimport opskit\nfrom opskit._backends import get_storage\n"
        "opskit.configure(storage='s3://bucket/p')\n"
        "try:\n    get_storage()\nexcept opskit.UnknownBackend as exc:\n    print(exc)\n"
    )
    assert "pip install 'opskit-ml[s3]'" in out.stdout


def test_fsspec_backend_by_name_needs_a_url() -> None:
    """OPSKIT_STORAGE=fsspec without a URL is a ConfigError that shows URL examples."""
    opskit.configure(storage="fsspec")
    with pytest.raises(opskit.ConfigError, match="s3://bucket/prefix"):
        get_storage()


def _train_two_models() -> None:
    @opskit.train(model="a")
    def train_a() -> list[int]:
        return [1]

    @opskit.train(model="b")
    def train_b() -> list[int]:
        return [2]

    train_a()
    train_b()


def test_migrate_copies_verifies_resumes_and_is_idempotent(tmp_path: Path) -> None:
    """migrate copies every blob, resumes after a partial copy, replaces a damaged one, then copies nothing."""
    _train_two_models()
    source = get_storage()
    digests = sorted(source.iter_digests())
    assert len(digests) == 6  # two models, and each function stored by value (pickle + note)
    dest_url = _memory_url()
    dest = FsspecStorage(dest_url)
    dest.put_bytes(source.get_bytes(digests[0]))  # an interrupted earlier migration got this far
    first = migrate(dest_url)
    assert sorted(first.copied) == digests[1:] and first.skipped == (digests[0],)
    dest.fs.pipe_file(dest._key(digests[1]), b"damaged at the destination")
    second = migrate(dest_url)
    assert second.replaced == (digests[1],) and second.copied == (digests[1],)
    third = migrate(dest_url)
    assert third.copied == () and sorted(third.skipped) == digests
    opskit.configure(storage=dest_url)
    assert opskit.load_model("a") == [1] and opskit.load_model("b") == [2]


def test_storage_migrate_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit storage migrate --to PATH --json` copies to a local folder and reports it."""
    _train_two_models()
    assert main(["storage", "migrate", "--to", str(tmp_path / "elsewhere"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["copied"]) == 6 and report["skipped"] == []  # 2 models, 2 functions x 2
    assert main(["storage", "migrate", "--to", str(tmp_path / "elsewhere")]) == 0
    out = capsys.readouterr().out
    assert "0 blob(s) copied" in out and "6 already present and verified" in out
    assert sorted(LocalStorage(tmp_path / "elsewhere").iter_digests()) == sorted(
        get_storage().iter_digests()
    )


def test_progress_bar_only_for_slow_transfers_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No bar (and no rich import) off a terminal or before the threshold; a bar on a terminal after it."""
    import io
    import os
    import pty
    import sys

    from opskit.storage import progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    with progress.Progress("upload", 100) as quiet:
        quiet.advance(50)
        assert quiet._bar is None  # not a terminal
    master, slave = pty.openpty()
    try:
        terminal = os.fdopen(slave, "w")
        monkeypatch.setattr(sys, "stderr", terminal)
        monkeypatch.setattr(progress, "SHOW_AFTER", 3600.0)
        with progress.Progress("upload", 100) as fast:
            fast.advance(50)
            assert fast._bar is None  # a terminal, but the transfer is not slow yet
        monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
        with progress.Progress("upload", 100) as slow:
            slow.advance(50)
            assert slow._bar is not None and slow.done == 50
        assert slow._bar is None  # stopped on exit
        monkeypatch.setenv("OPSKIT_PROGRESS", "0")
        with progress.Progress("upload", 100) as off:
            off.advance(50)
            assert off._bar is None
        terminal.close()
    finally:
        os.close(master)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_is_retried_then_names_the_endpoint_setting() -> None:
    """Nothing listening at the endpoint: bounded retries, then BackendUnavailable naming AWS_ENDPOINT_URL."""
    options = {
        "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
        "key": "k",
        "secret": "s",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    storage = FsspecStorage(
        "s3://bucket/p", storage_options=options, retry=RetryPolicy(attempts=2, base=0.01)
    )
    with pytest.raises(opskit.BackendUnavailable, match="after 2 attempts") as info:
        storage.put_bytes(b"x")
    assert "AWS_ENDPOINT_URL" in str(info.value)


def test_rejected_storage_option_is_a_config_error() -> None:
    """A storage option the filesystem does not know raises ConfigError naming storage_options."""
    opskit.configure(
        storage="s3://bucket/p",
        storage_options={"no_such_option": 1, "endpoint_url": "http://127.0.0.1:9"},
    )
    with pytest.raises(opskit.ConfigError, match="storage_options"):
        get_storage().put_bytes(b"x")
