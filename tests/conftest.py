"""Shared fixtures: every test gets its own empty store and a fresh configuration.

A module marked ``pytest.mark.trackers("local", "mlflow", ...)`` runs each of
its tests once per tracker: ``mlflow`` against the session's MLflow server with
a sqlite backend store, ``mlflow-pg`` against the one on PostgreSQL (see
``servers.py``). Each test gets its own MLflow namespace, so one server
serves the whole session and no test sees another's runs or models.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import opskit
from opskit.plugins import reset_plugins

pytest_plugins = ["servers", "fake_targets"]

# Tests assert behaviour, never timing: hypothesis' default deadline (200 ms per example) is a
# timing assertion that fails a correct test on a loaded machine, so no example has one. Timings
# belong in bench/ and docs/benchmarks.md.
settings.register_profile("opskit", deadline=None)
settings.load_profile("opskit")

ROOT = Path(__file__).resolve().parents[1]
SERVERS = {"mlflow": "mlflow_server", "mlflow-pg": "mlflow_server_pg"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "trackers(*names): run each test of the module once per tracker"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("trackers")
    if marker is not None and "tracker" in metafunc.fixturenames:
        metafunc.parametrize("tracker", marker.args, indirect=True)


@pytest.fixture
def tracker(request: pytest.FixtureRequest) -> str:
    """The tracker this test runs against: ``local`` unless the module is marked with ``trackers``."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(autouse=True)
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracker: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """An empty store under tmp_path, selected through OPSKIT_HOME; cwd is tmp_path.

    With an MLflow tracker, runs and models go to the session's server under a fresh namespace;
    blobs stay in the local storage under OPSKIT_HOME.
    """
    home = tmp_path / ".opskit"
    for var in (
        "OPSKIT_TRACKER",
        "OPSKIT_STORAGE",
        "OPSKIT_EXPERIMENT",
        "OPSKIT_LOAD_PLUGINS",
        "OPSKIT_DISABLE_PLUGINS",
        "OPSKIT_MLFLOW_NAMESPACE",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(var, raising=False)
    if tracker in SERVERS:
        server = request.getfixturevalue(SERVERS[tracker])
        monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        monkeypatch.setenv("OPSKIT_MLFLOW_NAMESPACE", f"t{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("OPSKIT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    opskit.reset_defaults()
    yield home
    opskit.reset_defaults()
    reset_plugins()


def run_python(
    code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter of this environment (the store comes from OPSKIT_HOME)."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


from s3server import s3_bucket, s3_server  # noqa: E402, F401  (fixtures shared by the S3 tests)
