"""Built-in plugin: the alert webhook. POSTs every ``on_drift_detected`` / ``on_performance_degraded`` as JSON.

The URL comes from ``[tool.opskit.monitor] webhook_url`` / ``$OPSKIT_ALERT_WEBHOOK`` /
``opskit.configure(alert_webhook=...)``; with none configured this plugin does nothing.
Timeout per attempt and retries: ``webhook_timeout`` / ``webhook_retries`` in the same
table (``alert_timeout`` / ``alert_retries`` for ``configure``). A failure is logged
(logger ``opskit.monitor.alerts``), never raised.
"""

from __future__ import annotations

from typing import Any

from opskit.hookspecs import hookimpl


def _send(event: str, report: Any, deployment: str | None) -> None:
    from opskit.runtime import get_config

    config = get_config()
    if not config.alert_webhook:
        return
    from opskit.monitor.alerts import alert_payload, send_webhook

    send_webhook(
        config.alert_webhook,
        alert_payload(event, report, deployment),
        timeout=config.alert_timeout,
        retries=config.alert_retries,
    )


@hookimpl(trylast=True)
def on_drift_detected(report: Any, deployment: str | None) -> None:
    """POST the drift report to the configured webhook (event ``drift_detected``)."""
    _send("drift_detected", report, deployment)


@hookimpl(trylast=True)
def on_performance_degraded(report: Any, deployment: str | None) -> None:
    """POST the performance report to the configured webhook (event ``performance_degraded``)."""
    _send("performance_degraded", report, deployment)
