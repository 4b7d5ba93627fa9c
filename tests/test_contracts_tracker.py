"""The tracker contract suite (opskit.testing.TrackerContract) run against the local tracker and the MLflow one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.testing import TrackerContract, fresh_store
from opskit.tracker.base import Tracker
from opskit.tracker.sqlite import SQLiteTracker
from servers import MLflowServer


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Replaces conftest's store (which reads a `tracker` fixture name the suite uses for the backend)."""
    monkeypatch.chdir(tmp_path)
    with fresh_store(tmp_path / ".opskit") as home:
        yield home


class TestSQLiteTracker(TrackerContract):
    """The built-in local (SQLite) tracker."""

    @pytest.fixture
    def tracker(self, tmp_path: Path) -> Iterator[Tracker]:
        tracker = SQLiteTracker(tmp_path / "opskit.db")
        yield tracker
        tracker.close()

    @pytest.fixture
    def reader(self, tmp_path: Path) -> Iterator[Tracker]:
        reader = SQLiteTracker(tmp_path / "opskit.db")
        yield reader
        reader.close()


class TestMLflowTracker(TrackerContract):
    """plugins/opskit-mlflow against the session's real `mlflow server`, in a namespace of its own per test."""

    @pytest.fixture
    def namespace(self) -> str:
        return f"c{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def tracker(
        self, mlflow_server: MLflowServer, namespace: str, tmp_path: Path
    ) -> Iterator[Tracker]:
        from opskit_mlflow.tracker import MLflowTracker

        tracker = MLflowTracker(mlflow_server.url, namespace=namespace, outbox=tmp_path / "outbox")
        yield tracker
        tracker.close()

    @pytest.fixture
    def reader(
        self, mlflow_server: MLflowServer, namespace: str, tmp_path: Path
    ) -> Iterator[Tracker]:
        from opskit_mlflow.tracker import MLflowTracker

        reader = MLflowTracker(
            mlflow_server.url, namespace=namespace, outbox=tmp_path / "reader-outbox"
        )
        yield reader
        reader.close()
