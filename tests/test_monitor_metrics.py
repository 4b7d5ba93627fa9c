"""A deployment's /metrics exports its latest drift and metric values, read from the store on each scrape, on both trackers."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.monitor import alerts

pytestmark = [
    pytest.mark.trackers("local", "mlflow"),
    pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning"),
]


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of GET /metrics, by name and sorted labels."""
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def monitor_samples(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> set[str]:
    return {name for name, _ in samples if name.startswith("opskit_monitor_")}


def test_metrics_export_the_latest_drift_and_metric_values(tracker: str) -> None:
    """After drift(deployment=) and record_metrics(), the running server's /metrics shows them; a newer check replaces them."""
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)
    dep = opskit.deploy("wine@production", name="wine-prod", workers=1)
    try:
        assert dep.url is not None
        assert monitor_samples(scrape(dep.url)) == set()  # nothing checked yet: no monitor gauges

        rng = np.random.default_rng(0)
        live = X.sample(3000, replace=True, random_state=1).reset_index(drop=True)
        live["alcohol"] = live["alcohol"] + 2.0
        live["proline"] = live["proline"] * 1.8 + rng.normal(0, 5, size=len(live))
        report = opskit.monitor.drift(X, live, deployment="wine-prod", alert=False)
        alerts.record_metrics(
            "wine-prod",
            {"wine@production": {"accuracy": 0.75, "f1_macro": 0.7, "bad": float("nan")}},
            degraded={"wine@production": True},
        )
        samples = scrape(dep.url)
        assert samples[("opskit_monitor_drift_share", ())] == pytest.approx(report.share_drifted)
        assert samples[("opskit_monitor_drifted", ())] == float(report.drifted)
        for name, col in report.columns.items():
            key = (
                "opskit_monitor_column_drift_statistic",
                (("column", name), ("method", col.method)),
            )
            assert samples[key] == pytest.approx(col.statistic)
            assert samples[("opskit_monitor_column_drifted", (("column", name),))] == float(
                col.drifted
            )
        assert samples[("opskit_monitor_column_drifted", (("column", "alcohol"),))] == 1.0
        metric = "opskit_monitor_metric"
        assert samples[(metric, (("metric", "accuracy"), ("variant", "wine@production")))] == 0.75
        assert samples[(metric, (("metric", "f1_macro"), ("variant", "wine@production")))] == 0.7
        assert (metric, (("metric", "bad"), ("variant", "wine@production"))) not in samples
        assert samples[("opskit_monitor_degraded", (("variant", "wine@production"),))] == 1.0

        # A later check on undrifted data replaces the drift values; the metrics stay.
        calm = opskit.monitor.drift(X, X.sample(150, random_state=2), deployment="wine-prod")
        samples = scrape(dep.url)
        assert not calm.drifted
        assert samples[("opskit_monitor_drift_share", ())] == pytest.approx(calm.share_drifted)
        assert samples[("opskit_monitor_column_drifted", (("column", "alcohol"),))] == 0.0
        assert samples[(metric, (("metric", "accuracy"), ("variant", "wine@production")))] == 0.75
        # The ordinary server metrics are still there.
        assert any(name == "opskit_prediction_log_rows_total" for name, _ in samples)
    finally:
        opskit.deployments.stop("wine-prod")


def test_latest_values_round_trip_in_the_store(tracker: str) -> None:
    """record_drift/record_metrics keep one document per deployment with both sections; others are untouched."""
    assert alerts.latest("a") == {}
    alerts.record_metrics("a", {"v1": {"rmse": 1.5}})
    report = opskit.monitor.drift(
        pd.DataFrame({"x": np.arange(500.0)}),
        pd.DataFrame({"x": np.arange(500.0) + 400}),
        deployment="a",
        alert=False,
    )
    doc = alerts.latest("a")
    assert doc["metrics"]["variants"] == {"v1": {"rmse": 1.5}}
    assert doc["drift"]["share_drifted"] == report.share_drifted == 1.0
    assert doc["drift"]["columns"]["x"]["method"] == report.columns["x"].method
    assert alerts.latest("b") == {}
