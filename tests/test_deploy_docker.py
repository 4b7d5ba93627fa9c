"""The docker target's build context, served by starting its entrypoint with plain Python."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.cli.main import main as cli
from opskit.deployments.local import free_port


def image_command(context: Path) -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD (exec form) and ENV, as the container would run them."""
    command: list[str] = []
    env: dict[str, str] = {}
    for line in (context / "Dockerfile").read_text().splitlines():
        instruction, _, rest = line.partition(" ")
        if instruction == "CMD":
            command = json.loads(rest)
        elif instruction == "ENV":
            env.update(item.split("=", 1) for item in rest.split())
    assert command, "the Dockerfile has no CMD"
    return command, env


def start_like_the_image(context: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the context's CMD in the context folder (the image's WORKDIR) with the image's ENV, on 127.0.0.1."""
    command, image_env = image_command(context)
    assert command[0] == "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSKIT_", "PROMETHEUS_"))}
    env.update(image_env)
    env.update(PORT=str(port), OPSKIT_BIND="127.0.0.1", OPSKIT_HOME=str(context / "store"))
    return subprocess.Popen(
        [sys.executable, *command[1:]],
        cwd=context,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, as `docker stop` does; SIGKILL if it has not exited in 30 s."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        raise AssertionError("the server did not stop on SIGTERM") from None


def test_build_context_serves_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit deploy --target docker` with default options writes a context whose CMD serves predictions."""
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X, y):  # type: ignore[no-untyped-def]
        return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)

    model = fit(X, y)
    context = tmp_path / "ctx"
    assert (
        cli(["deploy", "wine@production", "--target", "docker", "--path", str(context), "--json"])
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert (record["target"], record["state"], record["path"]) == ("docker", "built", str(context))
    assert opskit.deployments.get("wine").status() == "built"

    names = {p.name for p in context.iterdir()}
    assert {
        "Dockerfile",
        "requirements.txt",
        "entrypoint.py",
        "spec.json",
        "models",
        "opskit",
    } <= names
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile.startswith(
        f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    )
    assert 'CMD ["python", "entrypoint.py"]' in dockerfile
    lines = (context / "requirements.txt").read_text().splitlines()
    assert lines[0].startswith("# wine:1: only the distributions imported by the training process")
    requirements = dict(line.split("==") for line in lines if not line.startswith("#"))
    run = opskit.last_run()
    assert run is not None and run.env is not None
    assert requirements["scikit-learn"] == run.env.packages["scikit-learn"]
    pinned = {re.sub(r"[-_.]+", "-", name).lower() for name in requirements}  # PEP 503 names
    assert {"starlette", "uvicorn", "prometheus-client", "pandas", "cloudpickle"} <= pinned
    version = opskit.models.get_version("wine@production")
    blob = context / "models" / "wine-v1.bin"
    from opskit.storage.base import digest_bytes

    assert digest_bytes(blob.read_bytes()) == version.digest
    assert json.loads((context / "models" / "wine-v1.json").read_text())["digest"] == version.digest

    assert (
        json.loads((context / "spec.json").read_text())["workers"] == 2
    )  # the default, as a newcomer gets it
    port = free_port()
    server = start_like_the_image(context, port)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "the entrypoint did not become healthy"
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        frame = X.iloc[:10]
        response = httpx.post(
            f"{url}/invocations",
            json={"dataframe_split": json.loads(frame.to_json(orient="split", index=False))},
        )
        assert response.json() == {"predictions": model.predict(frame).tolist()}
        meta = httpx.get(f"{url}/metadata").json()
        assert (meta["version"], meta["digest"]) == ("wine:1", version.digest)
    finally:
        stop(server)
    output = server.stdout.read().decode() if server.stdout else ""
    assert "Traceback" not in output, output
