"""The alert webhook against a receiver that answers a byte at a time: each attempt ends at its timeout.

urllib's timeout bounds each socket read, so a receiver trickling its answer could hold
``drift()`` (and the cron job or CI step running it) for as long as it liked.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import opskit
from opskit.monitor.alerts import send_webhook, shown_url

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

#: The head of the answer the receiver trickles, one byte per 0.2 s, then padding forever: the
#: answer never completes and never pauses, so only a bound on the whole attempt ends it.
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "


class Trickler:
    """A TCP server on 127.0.0.1: reads each HTTP request whole, then answers 200 one byte at a time."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.bodies: list[bytes] = []
        self.alert_ids: list[str] = []
        self.release = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(
                line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
            )
            length = int(headers.get("Content-Length", "0"))
            while len(body) < length:
                body += conn.recv(65536)
            self.bodies.append(body)
            self.alert_ids.append(headers.get("X-Opskit-Alert-Id", ""))
            for byte in itertools.chain(ANSWER, itertools.repeat(ord("a"))):
                if self.release.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.release.set()
        self.sock.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler()
    try:
        yield server
    finally:
        server.close()


def test_a_trickling_receiver_fails_each_attempt_at_its_timeout(
    trickler: Trickler, caplog: pytest.LogCaptureFixture
) -> None:
    """send_webhook gives up on an answer that is still arriving at the timeout: False, retried with one id, logged."""
    outcome: list[bool] = []
    with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
        worker = threading.Thread(
            target=lambda: outcome.append(
                send_webhook(trickler.url, {"id": "a1", "event": "e"}, timeout=0.5, retries=1)
            ),
            daemon=True,
        )
        worker.start()
        worker.join(
            120
        )  # a liveness bound: before the fix it never returned (the answer never ends)
    assert outcome == [False]
    assert len(trickler.bodies) == 2 and set(trickler.alert_ids) == {"a1"}
    assert "TimeoutError" in caplog.text and "2 attempt(s)" in caplog.text


def test_drift_returns_its_report_past_a_trickling_webhook(
    trickler: Trickler, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """drift(..., deployment=) with a trickling webhook returns the report (the receiver got it whole); the timeout is logged."""
    monkeypatch.setenv("OPSKIT_ALERT_WEBHOOK", trickler.url)
    opskit.configure(alert_timeout=0.5, alert_retries=0)
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
    cur = pd.DataFrame({"x": rng.normal(1.0, size=2000), "y": rng.normal(1.0, size=2000)})
    with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
        report = opskit.monitor.drift(ref, cur, deployment="wine-prod")
    assert report.drifted
    assert trickler.url in caplog.text and "TimeoutError" in caplog.text
    (body,) = trickler.bodies
    assert json.loads(body)["report"] == json.loads(json.dumps(report.to_dict()))


def test_a_failed_webhook_is_logged_without_its_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """Credentials, the token path and the query of a webhook URL never reach the log; its origin does."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed when the block ends: connection refused
    urls = [
        f"http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/tok3nSECRET?key=qSECRET",
        f"http://alice:pSECRET@127.0.0.1:{port}/hook",
    ]
    for url in urls:
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="opskit.monitor.alerts"):
            assert send_webhook(url, {"id": "s", "event": "e"}, timeout=1.0, retries=0) is False
        assert caplog.records, url
        assert "SECRET" not in caplog.text and "alice" not in caplog.text, caplog.text
        assert f"http://127.0.0.1:{port}/" in caplog.text
    assert shown_url(urls[0]) == f"http://127.0.0.1:{port}/services/…"
    assert shown_url(urls[1]) == f"http://127.0.0.1:{port}/hook"
    assert shown_url("https://[::1]:8443/a") == "https://[::1]:8443/a"
