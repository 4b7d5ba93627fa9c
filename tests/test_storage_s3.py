"""The fsspec storage against a real S3 API server (SeaweedFS on loopback), checked with boto3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import opskit
from conftest import ROOT, run_python
from opskit._backends import get_storage
from opskit.storage.base import digest_bytes
from opskit.storage.fsspec import FsspecStorage
from s3server import S3Server

MB = 1 << 20


def _write_random(path: Path, size: int, *, seed: int = 0) -> None:
    """Write *size* pseudo-random bytes in 4 MiB chunks (never the whole file in memory)."""
    import random

    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 4 * MB)
            out.write(rng.randbytes(n))
            left -= n


def _keys(server: S3Server, bucket: str) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_blobs_land_under_the_prefix_in_the_local_layout(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """put_bytes/put_file store sha256/ab/cdef… keys under the prefix, once per content, readable back."""
    opskit.configure(storage=f"s3://{s3_bucket}/team/blobs")
    storage = get_storage()
    assert storage.name == "fsspec" and storage.location == f"s3://{s3_bucket}/team/blobs"
    blob = storage.put_bytes(b"model bytes")
    source = tmp_path / "same.bin"
    source.write_bytes(b"model bytes")
    assert storage.put_file(source) == blob
    hexdigest = blob.digest.split(":")[1]
    assert _keys(s3_server, s3_bucket) == [f"team/blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"]
    assert storage.get_bytes(blob.digest) == b"model bytes"
    assert storage.get_file(blob.digest, tmp_path / "out" / "copy").read_bytes() == b"model bytes"
    assert list(storage.iter_digests()) == [blob.digest]
    assert storage.verify(blob.digest)
    storage.delete(blob.digest)
    assert not storage.exists(blob.digest)
    with pytest.raises(opskit.BlobNotFound, match="opskit doctor"):
        storage.get_bytes(blob.digest)


def test_multipart_upload_round_trip(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    """A file larger than one part goes up as a multipart upload and comes back byte for byte."""
    source = tmp_path / "big.bin"
    _write_random(source, 20 * MB + 123)
    storage = FsspecStorage(f"s3://{s3_bucket}/mp")
    blob = storage.put_file(source)
    head = s3_server.client().head_object(
        Bucket=s3_bucket, Key=f"mp/sha256/{blob.digest[7:9]}/{blob.digest[9:]}"
    )
    assert head["ContentLength"] == source.stat().st_size
    assert "-" in head["ETag"]  # a multipart ETag: <md5 of part md5s>-<parts>
    out = storage.get_file(blob.digest, tmp_path / "back.bin")
    assert out.read_bytes() == source.read_bytes()


def test_quickstart_on_s3_keeps_no_blob_on_local_disk(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """The unchanged quickstart runs with OPSKIT_STORAGE=s3://… and the standard AWS variables only."""
    home = tmp_path / "home"
    env = {
        **s3_server.env(),
        "OPSKIT_STORAGE": f"s3://{s3_bucket}/quickstart",
        "OPSKIT_HOME": str(home),
    }
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "predictions identical to the trained model: True" in out.stdout
    keys = _keys(s3_server, s3_bucket)
    assert keys and all(k.startswith("quickstart/sha256/") for k in keys)
    assert not (home / "blobs").exists()
    # Only the tracker's database, the head of its audit chain (kept outside the database on
    # purpose, docs/governance.md) and the store's own .gitignore live locally: no blob.
    local = sorted(
        p.name
        for p in home.iterdir()
        if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm")
    )
    assert local == [".gitignore", "opskit.db.audit-head"]


def test_corrupted_object_is_refused_on_load(s3_server: S3Server, s3_bucket: str) -> None:
    """An object overwritten behind opskit's back raises BlobCorrupted; nothing is unpickled."""
    opskit.configure(storage=f"s3://{s3_bucket}/models")

    @opskit.train(model="tiny")
    def train(k: int = 3) -> dict[str, int]:
        return {"k": k}

    train()
    version = opskit.models.get_version("tiny")
    key = f"models/sha256/{version.digest[7:9]}/{version.digest[9:]}"
    s3_server.client().put_object(Bucket=s3_bucket, Key=key, Body=b"not the model")
    with pytest.raises(opskit.BlobCorrupted, match="does not match its digest"):
        opskit.load_model("tiny")
    assert not get_storage().verify(version.digest)


def test_wrong_secret_names_the_settings_to_fix(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong secret gives StorageAccessDenied naming the AWS variables, storage_options and the bucket."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong")
    opskit.configure(storage=f"s3://{s3_bucket}/x")
    with pytest.raises(opskit.StorageAccessDenied) as info:
        get_storage().put_bytes(b"data")
    message = str(info.value)
    for needle in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "storage_options",
        s3_bucket,
    ):
        assert needle in message
    assert isinstance(info.value, opskit.OpskitError)
    assert _keys(s3_server, s3_bucket) == []


def test_missing_bucket_is_named(s3_server: S3Server, s3_bucket: str) -> None:
    """Reading from a bucket that does not exist names the bucket and what to do."""
    storage = FsspecStorage("s3://no-such-bucket-here/p")
    with pytest.raises(opskit.StorageAccessDenied, match="no-such-bucket-here"):
        storage.get_bytes(digest_bytes(b"anything"))


def test_storage_options_carry_credentials(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """configure(storage_options=...) passes key/secret/endpoint_url to s3fs when the environment has none."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var)
    options = {
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "endpoint_url": s3_server.endpoint,
    }
    opskit.configure(storage=f"s3://{s3_bucket}/opts", storage_options=options)
    blob = get_storage().put_bytes(b"via options")
    assert get_storage().get_bytes(blob.digest) == b"via options"


UPLOADER = """
import sys
from pathlib import Path
from opskit.storage.fsspec import FsspecStorage
storage = FsspecStorage(sys.argv[1])
source = Path(sys.argv[2])
original = storage._stream_into

def announce(out, path, digest, size):
    # Tell the parent once the first part is on its way, then keep uploading.
    class Spy:
        written = 0
        def write(self, chunk):
            out.write(chunk)
            Spy.written += len(chunk)
            if Spy.written >= 3 * storage.chunk_size:
                print("UPLOADING", flush=True)
    original(Spy(), path, digest, size)

storage._stream_into = announce
storage.put_file(source)
print("DONE", flush=True)
"""


def test_killed_upload_leaves_no_visible_object(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """SIGKILL during a multipart upload leaves nothing under the final key (only an unfinished upload)."""
    source = tmp_path / "big.bin"
    _write_random(source, 120 * MB, seed=1)
    digest = opskit.storage.base.digest_file(source)[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, f"s3://{s3_bucket}/killed", str(source)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **s3_server.env()},
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert line.strip() == "UPLOADING"
    client = s3_server.client()
    key = f"killed/sha256/{digest[7:9]}/{digest[9:]}"
    assert _keys(s3_server, s3_bucket) == []
    with pytest.raises(client.exceptions.ClientError):
        client.head_object(Bucket=s3_bucket, Key=key)
    assert not FsspecStorage(f"s3://{s3_bucket}/killed").exists(digest)
    uploads = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads] == [key]  # the killed upload, never completed


def test_doctor_repair_aborts_unfinished_uploads(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doctor reports a multipart upload that never completed; --repair aborts it."""
    client = s3_server.client()
    key = "repair/sha256/00/" + "1" * 62
    client.create_multipart_upload(Bucket=s3_bucket, Key=key)
    opskit.configure(storage=f"s3://{s3_bucket}/repair")
    from opskit import doctor

    monkeypatch.setattr(doctor, "GRACE_SECONDS", -3600.0)  # treat uploads started just now as stale
    finding = next(f for f in doctor.run_doctor().findings if f.check == "unfinished uploads")
    assert "1 multipart upload(s)" in finding.detail and not finding.repaired
    repaired = next(
        f for f in doctor.run_doctor(repair=True).findings if f.check == "unfinished uploads"
    )
    assert repaired.repaired
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


MEMORY_PROBE = """
import json, resource, sys
from pathlib import Path
import opskit
from opskit.storage.fsspec import FsspecStorage
storage = FsspecStorage(sys.argv[1])
storage.put_bytes(b"warm up")                       # imports, connection pool, event loop
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
blob = storage.put_file(Path(sys.argv[2]))
back = storage.get_file(blob.digest, Path(sys.argv[3]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": after - before, "digest": blob.digest, "size": blob.size_bytes}))
"""


def test_200mb_round_trip_memory_stays_far_below_the_artifact(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """A 200 MB artifact goes up and comes back with peak RSS growth under 64 MB (measured in a child)."""
    size = 200 * MB
    source = tmp_path / "artifact.bin"
    _write_random(source, size, seed=2)
    back = tmp_path / "back.bin"
    out = run_python(MEMORY_PROBE.replace("sys.argv[1]", repr(f"s3://{s3_bucket}/big"))
                     .replace("sys.argv[2]", repr(str(source))).replace("sys.argv[3]", repr(str(back))),
                     env=s3_server.env())  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["size"] == size
    assert back.stat().st_size == size
    assert opskit.storage.base.digest_file(back)[0] == result["digest"]
    assert result["growth_kb"] * 1024 < 64 * MB, (
        f"peak RSS grew by {result['growth_kb'] / 1024:.0f} MB"
    )


def test_doctor_checks_s3_blobs(s3_server: S3Server, s3_bucket: str) -> None:
    """opskit doctor lists and verifies blobs on S3 like local ones."""
    opskit.configure(storage=f"s3://{s3_bucket}/doc")

    @opskit.train(model="doc")
    def train() -> list[int]:
        return [1, 2]

    train()
    from opskit.doctor import run_doctor

    report = run_doctor()
    assert report.ok, report.findings
    assert any(
        # the model, and the training function stored by value (pickle + note)
        f.check == "blob digests" and "3 blob(s) verified" in f.detail
        for f in report.findings
    )


def test_migrate_local_store_to_s3(
    s3_server: S3Server, s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit storage migrate --to s3://…` copies every local blob; the models then load from S3."""
    from opskit.cli.main import main

    @opskit.train(model="moved")
    def train(k: int = 1) -> dict[str, int]:
        return {"k": k}

    train(k=1)
    train(k=2)
    local = sorted(get_storage().iter_digests())
    url = f"s3://{s3_bucket}/moved"
    assert main(["storage", "migrate", "--to", url, "--json"]) == 0
    # two models; the function stored once per process (pickle + note)
    assert len(json.loads(capsys.readouterr().out)["copied"]) == 4
    assert main(["storage", "migrate", "--to", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == []
    assert _keys(s3_server, s3_bucket) == sorted(f"moved/sha256/{d[7:9]}/{d[9:]}" for d in local)
    opskit.configure(storage=url)
    assert opskit.load_model("moved:1") == {"k": 1} and opskit.load_model("moved:2") == {"k": 2}
