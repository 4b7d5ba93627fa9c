"""A registration queued while the MLflow server is down keeps its reference profile (its own server, stopped mid-way)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import opskit
from opskit.monitor.stored import PROFILE_KEY
from opskit.runtime import get_tracker
from servers import MLflowServer
from test_monitor_registry import wine

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def test_a_registration_queued_during_an_outage_keeps_its_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow down at registration: the queued registration carries the profile digest (kept by doctor); after sync drift uses it."""
    server = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)
    server.start()
    try:
        monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        opskit.reset_defaults()
        frame = wine(20_000, 9)

        @opskit.train(model="outage", alias="production")
        def fit(data: pd.DataFrame) -> LinearRegression:
            model = LinearRegression().fit(data[["alcohol", "acidity"]], data["target"])
            server.stop()  # the server goes away while this run trains
            return model

        with pytest.warns(opskit.errors.RegistrationQueued):
            fit(frame)
        server.start()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "opskit"), "sync"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        entry = opskit.models.get_version("outage@production").metadata[PROFILE_KEY]
        assert entry["rows"] == 20_000 and entry["digest"] in get_tracker().referenced_digests()
        live = wine(5_000, 10, shift=1.0)
        report = opskit.monitor.drift(reference="outage@production", current=live)
        assert report.drifted_columns == ["alcohol"]
    finally:
        server.stop()
