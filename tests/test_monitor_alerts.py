"""Alerts: the drift/performance hooks fire when they should, and the built-in webhook reaches a real local HTTP receiver."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import opskit
from opskit.errors import ConfigError, InvalidName
from opskit.hookspecs import hookimpl
from opskit.monitor import alerts
from opskit.runtime import get_plugin_manager

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every POST and answers with scripted statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "json": json.loads(body),
                        }
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A local receiver, configured as the alert webhook through $OPSKIT_ALERT_WEBHOOK."""
    r = Receiver()
    monkeypatch.setenv("OPSKIT_ALERT_WEBHOOK", r.url)
    opskit.reset_defaults()
    try:
        yield r
    finally:
        r.close()


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "alcohol": rng.normal(10.4 + shift, 1.1, size=n),
            "acidity": rng.lognormal(2.0 + shift / 5, 0.2, size=n),
            "colour": rng.choice(["red", "white"], size=n, p=[0.6 - shift / 5, 0.4 + shift / 5]),
        }
    )


class Recorder:
    """A plugin recording both alert hooks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str | None]] = []

    @hookimpl
    def on_drift_detected(self, report: Any, deployment: str | None) -> None:
        self.calls.append(("drift", report, deployment))

    @hookimpl
    def on_performance_degraded(self, report: Any, deployment: str | None) -> None:
        self.calls.append(("performance", report, deployment))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    pm = get_plugin_manager()
    pm.register(rec, name="alert-recorder")
    try:
        yield rec
    finally:
        pm.unregister(name="alert-recorder")


def test_drift_tied_to_a_deployment_posts_the_report_to_the_webhook(receiver: Receiver) -> None:
    """A drifted drift(..., deployment=) POSTs event, deployment, a summary line and report.to_dict() to the webhook."""
    report = opskit.monitor.drift(frame(3000, 1), frame(3000, 2, shift=1.0), deployment="wine-prod")
    assert report.drifted
    assert len(receiver.received) == 1
    sent = receiver.received[0]
    body = sent["json"]
    assert sent["path"] == "/hook" and sent["headers"]["Content-Type"] == "application/json"
    assert body["event"] == "drift_detected" and body["deployment"] == "wine-prod"
    assert body["summary"].startswith("Drift: DRIFTED")
    assert body["report"] == json.loads(json.dumps(report.to_dict()))
    assert sent["headers"]["X-Opskit-Alert-Id"] == body["id"]


def test_which_drift_calls_alert(receiver: Receiver, recorder: Recorder) -> None:
    """No drift: no alert; drift not tied to production: no alert unless alert=True; alert=False silences a tied call."""
    ref, same, shifted = frame(3000, 1), frame(3000, 3), frame(3000, 2, shift=1.0)
    assert not opskit.monitor.drift(ref, same, deployment="wine-prod").drifted
    assert opskit.monitor.drift(ref, shifted).drifted  # exploratory: X_train vs X_test
    assert opskit.monitor.drift(ref, shifted, deployment="wine-prod", alert=False).drifted
    assert receiver.received == [] and recorder.calls == []
    report = opskit.monitor.drift(ref, shifted, alert=True)
    assert [c[0] for c in recorder.calls] == ["drift"] and recorder.calls[0][1] is report
    assert recorder.calls[0][2] is None
    assert [r["json"]["deployment"] for r in receiver.received] == [None]


def test_drift_against_a_registered_model_alerts(receiver: Receiver, recorder: Recorder) -> None:
    """reference="name@alias" ties the call to production: a drifted report fires the hook and the webhook."""
    train = frame(3000, 1)
    train["target"] = (train["alcohol"] > 10.4).astype(int)

    @opskit.train(model="wine", alias="production")
    def fit(data: pd.DataFrame) -> LogisticRegression:
        return LogisticRegression().fit(data[["alcohol", "acidity"]], data["target"])

    fit(train)
    report = opskit.monitor.drift("wine@production", frame(3000, 2, shift=1.0))
    assert report.drifted
    assert [(c[0], c[2]) for c in recorder.calls] == [("drift", None)]
    assert [r["json"]["event"] for r in receiver.received] == ["drift_detected"]


def test_performance_degraded_fires_the_hook_and_posts(
    receiver: Receiver, recorder: Recorder
) -> None:
    """performance_degraded(report) passes the report and its deployment to plugins and POSTs report.to_dict()."""

    class Report:
        deployment = "wine-prod"
        degraded = True

        def summary(self) -> str:
            return "Performance: DEGRADED - accuracy 0.61 < 0.80\nmore lines"

        def to_dict(self) -> dict[str, Any]:
            return {"degraded": True, "variants": {"wine@production": {"accuracy": 0.61}}}

    report = Report()
    alerts.performance_degraded(report)
    assert recorder.calls == [("performance", report, "wine-prod")]
    body = receiver.received[0]["json"]
    assert body["event"] == "performance_degraded" and body["deployment"] == "wine-prod"
    assert body["summary"] == "Performance: DEGRADED - accuracy 0.61 < 0.80"
    assert body["report"] == report.to_dict()


def test_webhook_retries_server_errors_with_the_same_alert_id(receiver: Receiver) -> None:
    """503, 500 then 200: three attempts carrying one alert id; delivered."""
    receiver.statuses = [503, 500]
    payload = alerts.alert_payload("drift_detected", {"x": 1}, "wine-prod")
    assert alerts.send_webhook(receiver.url, payload, timeout=5, retries=2, backoff=0.01)
    ids = {r["headers"]["X-Opskit-Alert-Id"] for r in receiver.received}
    assert len(receiver.received) == 3 and ids == {payload["id"]}


def test_webhook_gives_up_after_bounded_retries_and_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Always 503: exactly 1 + retries attempts, False, and an error log naming the URL and status."""
    receiver.statuses = [503] * 10
    with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
        ok = alerts.send_webhook(receiver.url, {"event": "x"}, retries=3, backoff=0.01)
    assert not ok and len(receiver.received) == 4
    assert receiver.url in caplog.text and "HTTP 503" in caplog.text


def test_webhook_does_not_retry_a_client_error(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400 answer is final: one attempt, logged."""
    receiver.statuses = [400, 400]
    with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
        assert not alerts.send_webhook(receiver.url, {"event": "x"}, retries=3, backoff=0.01)
    assert len(receiver.received) == 1 and "HTTP 400" in caplog.text


def test_unreachable_webhook_never_raises_into_drift(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    """A webhook nobody listens on: drift() still returns its report, other plugins still get the alert, the failure is logged."""
    dead = Receiver()
    url = dead.url
    dead.close()  # the port is closed now: connection refused
    monkeypatch.setenv("OPSKIT_ALERT_WEBHOOK", url)
    opskit.configure(alert_timeout=1.0, alert_retries=1)
    with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
        report = opskit.monitor.drift(
            frame(3000, 1), frame(3000, 2, shift=1.0), deployment="wine-prod"
        )
    assert report.drifted and len(recorder.calls) == 1
    assert url in caplog.text and "2 attempt(s)" in caplog.text


def test_a_failing_alert_plugin_is_logged_and_the_rest_still_run(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin raising in on_drift_detected is logged on opskit.plugins; the webhook still posts; drift() returns."""

    class Broken:
        @hookimpl
        def on_drift_detected(self, report: Any) -> None:
            raise RuntimeError("pager down")

    pm = get_plugin_manager()
    pm.register(Broken(), name="broken-alerts")
    try:
        with caplog.at_level(logging.ERROR, logger="opskit.plugins"):
            report = opskit.monitor.drift(
                frame(3000, 1), frame(3000, 2, shift=1.0), deployment="wine-prod"
            )
    finally:
        pm.unregister(name="broken-alerts")
    assert report.drifted and len(receiver.received) == 1
    assert "broken-alerts" in caplog.text and "pager down" in caplog.text


def test_no_webhook_configured_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a webhook URL the built-in plugin does nothing and drift() is unaffected."""
    monkeypatch.delenv("OPSKIT_ALERT_WEBHOOK", raising=False)
    opskit.reset_defaults()
    assert opskit.get_config().alert_webhook is None
    assert opskit.monitor.drift(frame(500, 1), frame(500, 2, shift=1.0), deployment="d").drifted


def test_webhook_settings_from_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[tool.opskit.monitor] webhook_url/timeout/retries set the alert options; the environment wins over the file."""
    monkeypatch.delenv("OPSKIT_ALERT_WEBHOOK", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.opskit.monitor]\nwebhook_url = "https://alerts.example.com/x"\n'
        "webhook_timeout = 2.5\nwebhook_retries = 4\n"
    )
    opskit.reset_defaults()
    config = opskit.get_config()
    assert (config.alert_webhook, config.alert_timeout, config.alert_retries) == (
        "https://alerts.example.com/x",
        2.5,
        4,
    )
    assert "[tool.opskit]" in config.sources["alert_webhook"]
    monkeypatch.setenv("OPSKIT_ALERT_WEBHOOK", "http://127.0.0.1:9/y")
    opskit.reset_defaults()
    assert opskit.get_config().alert_webhook == "http://127.0.0.1:9/y"


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('webhook_url = "ftp://x"', "alert_webhook='ftp://x'"),
        ("webhook_timeout = 0", "alert_timeout=0"),
        ("webhook_retries = -1", "alert_retries=-1"),
        ("webhook_retries = 1.5", "alert_retries=1.5"),
        ('webhook = "http://x"', "unknown key(s) ['webhook']"),
    ],
)
def test_bad_webhook_settings_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, needle: str
) -> None:
    """A bad [tool.opskit.monitor] value or key is a ConfigError naming it."""
    monkeypatch.delenv("OPSKIT_ALERT_WEBHOOK", raising=False)
    (tmp_path / "pyproject.toml").write_text(f"[tool.opskit.monitor]\n{table}\n")
    opskit.reset_defaults()
    with pytest.raises(ConfigError) as info:
        opskit.get_config()
    assert needle in str(info.value)


def test_bad_deployment_name_changes_nothing() -> None:
    """drift(deployment=<bad name>) is InvalidName before anything is computed or stored."""
    with pytest.raises(InvalidName, match="a b"):
        opskit.monitor.drift(frame(100, 1), frame(100, 2), deployment="a b")
    assert alerts.latest("a") == {}
