"""drift() says what is wrong with its inputs: a missing path, an empty folder, a CSV file; current=<deployment> ties the report to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.cli.main import main as cli
from opskit.errors import DataNotFound, DeploymentNotFound, InvalidDataset
from opskit.monitor import alerts
from test_monitor_alerts import Receiver

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def frame(n: int = 300, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """One numeric column (shifted by *shift* σ) and one categorical column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"alcohol": rng.normal(10.0 + shift, 1.0, n), "colour": rng.choice(["red", "white"], n)}
    )


@pytest.mark.trackers("local", "mlflow")
@pytest.mark.parametrize(
    "current",
    ["live_nope/", "live_nope/part-0.parquet", "nope.parquet", "nope.pq", "nope.csv", "a/b"],
)
def test_a_missing_path_is_not_called_a_deployment(current: str, tmp_path: Path) -> None:
    """A string with a separator or a data suffix that does not exist: 'no such file or directory', store untouched."""
    with pytest.raises(DataNotFound, match=f"no such file or directory: {current!r}") as caught:
        opskit.monitor.drift(frame(), current)
    assert not isinstance(caught.value, DeploymentNotFound)
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, InvalidDataset)
    assert not (tmp_path / ".opskit").exists()  # the hint did not create a store


def test_a_missing_path_like_object_and_reference_path_say_so() -> None:
    """A pathlib.Path current that does not exist, and a missing reference path, raise DataNotFound naming them."""
    with pytest.raises(DataNotFound, match="no such file or directory: 'nope'"):
        opskit.monitor.drift(frame(), Path("nope"))
    with pytest.raises(DataNotFound, match=r"'ref_nope/' \(reference data\).*model reference"):
        opskit.monitor.drift("ref_nope/", frame())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    head=st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8),
    tail=st.sampled_from(["/", "/x", "/x.parquet", ".parquet", ".pq", ".csv"]),
)
def test_any_path_shaped_string_that_does_not_exist_is_data_not_found(head: str, tail: str) -> None:
    """Every non-existent string with a separator or a data suffix is DataNotFound, never DeploymentNotFound."""
    current = f"missing-{head}{tail}"
    with pytest.raises(DataNotFound, match="no such file or directory"):
        opskit.monitor.drift(frame(50), current)


def test_an_empty_directory_says_it_holds_no_parquet_files(tmp_path: Path) -> None:
    """An empty folder as current or reference: 'holds no Parquet files', not a missing column."""
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "_SUCCESS").write_text("")
    with pytest.raises(
        InvalidDataset, match="current directory 'empty_dir' holds no Parquet files"
    ):
        opskit.monitor.drift(frame(), "empty_dir")
    with pytest.raises(InvalidDataset, match="reference directory 'empty_dir' holds no Parquet"):
        opskit.monitor.drift("empty_dir", frame())


def test_a_csv_file_in_python_says_to_read_it_with_pandas(tmp_path: Path) -> None:
    """A CSV path (or a folder of CSV files) in Python says the API reads Parquet, use pd.read_csv, the CLI reads CSV."""
    frame().to_csv("live.csv", index=False)
    (tmp_path / "csvs").mkdir()
    frame().to_csv(tmp_path / "csvs" / "day1.csv", index=False)
    for current, what in (("live.csv", "'live.csv' is a CSV file"), ("csvs", "holds 'day1.csv'")):
        with pytest.raises(InvalidDataset) as caught:
            opskit.monitor.drift(frame(), current)
        message = str(caught.value)
        assert what in message and "magic bytes" not in message
        assert "reads Parquet" in message and "pd.read_csv(path)" in message
        assert "command line" in message
    with pytest.raises(InvalidDataset, match=r"pass reference=pd.read_csv\(path\)"):
        opskit.monitor.drift("live.csv", frame())


def test_cli_reference_with_a_separator_is_a_missing_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`monitor drift --reference ref_nope/` says the path does not exist (not a bad model reference), exit 2."""
    frame().to_parquet("live.parquet")
    assert cli(["monitor", "drift", "--reference", "ref_nope/", "--current", "live.parquet"]) == 2
    assert "--reference 'ref_nope/' does not exist" in capsys.readouterr().err


@pytest.fixture
def wine_live(
    receiver: Receiver,
) -> Iterator[tuple[opskit.deployments.DeploymentClient, pd.DataFrame]]:
    """The deployment `wine-live` of wine@production (registered with its reference profile), running."""
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)
    dep = opskit.deploy("wine@production", name="wine-live", workers=1)
    try:
        yield dep, X
    finally:
        opskit.deployments.stop("wine-live")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A real local HTTP receiver configured as the alert webhook."""
    r = Receiver()
    monkeypatch.setenv("OPSKIT_ALERT_WEBHOOK", r.url)
    opskit.reset_defaults()
    try:
        yield r
    finally:
        r.close()


@pytest.mark.trackers("local", "mlflow")
def test_current_deployment_is_the_reports_deployment(
    wine_live: tuple[opskit.deployments.DeploymentClient, pd.DataFrame],
    receiver: Receiver,
) -> None:
    """drift(reference=, current="wine-live") alerts with deployment "wine-live" and stores its /metrics gauges; typos get a hint."""
    dep, X = wine_live
    assert dep.url is not None
    shifted = X.sample(120, replace=True, random_state=1).reset_index(drop=True)
    shifted = shifted * 3 + 5  # every column moves: the dataset drifts
    with httpx.Client() as client:
        for i in range(0, len(shifted), 20):
            part = shifted.iloc[i : i + 20]
            answer = client.post(f"{dep.url}/predict", json=part.to_dict(orient="records"))
            assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 60
    while len(opskit.monitor.predictions("wine-live")) < len(shifted):
        assert time.monotonic() < deadline, "the prediction log never caught up"
        time.sleep(0.2)
    report = opskit.monitor.drift(reference="wine@production", current="wine-live")
    assert report.drifted
    assert [r["json"]["deployment"] for r in receiver.received] == ["wine-live"]
    assert alerts.latest("wine-live")["drift"]["share_drifted"] == report.share_drifted
    metrics = httpx.get(f"{dep.url}/metrics", timeout=30).text
    shares = [
        s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "opskit_monitor_drift_share"
    ]
    assert shares == [pytest.approx(report.share_drifted)]
    # a mistyped path next to it names the deployment
    with pytest.raises(DataNotFound, match="there is a deployment named 'wine-live'"):
        opskit.monitor.drift(reference="wine@production", current="wine-live/")
    with pytest.raises(DataNotFound, match="deployment named 'wine-live'"):
        opskit.monitor.drift(reference="wine@production", current="wine-liv/")
