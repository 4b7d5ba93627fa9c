"""Shared fixtures: every test gets its own empty store and a fresh configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import opskit
from opskit.plugins import reset_plugins

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty embedded store under tmp_path, selected through OPSKIT_HOME; cwd is tmp_path."""
    home = tmp_path / ".opskit"
    for var in ("OPSKIT_TRACKER", "OPSKIT_STORAGE", "OPSKIT_EXPERIMENT", "OPSKIT_LOAD_PLUGINS", "OPSKIT_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPSKIT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    opskit.reset_defaults()
    yield home
    opskit.reset_defaults()
    reset_plugins()


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter of this environment (the store comes from OPSKIT_HOME)."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


from s3server import s3_bucket, s3_server  # noqa: E402, F401  (fixtures shared by the S3 tests)
