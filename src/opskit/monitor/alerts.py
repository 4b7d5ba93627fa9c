"""Alerts: the ``on_drift_detected`` / ``on_performance_degraded`` hooks, the built-in webhook, and
the latest monitoring values a deployment's ``/metrics`` exports.

* :func:`drift_detected` fires ``on_drift_detected(report, deployment)``; ``opskit.monitor.drift``
  calls it when a report drifted and the call is *tied to production*: ``deployment=`` was
  given, or ``reference=`` is a model reference (``"wine@production"``). ``alert=True`` /
  ``alert=False`` overrides that rule (a notebook comparing ``X_train`` with ``X_test`` does
  not page anyone).
* :func:`performance_degraded` fires ``on_performance_degraded(report, deployment)``;
  ``opskit.monitor.performance`` / ``check`` call it when a threshold is breached.
* :func:`record_drift` / :func:`record_metrics` store the latest drift share, per-column
  statistics and metric values of a deployment in tracker state documents
  (kinds ``monitor-latest/drift`` and ``monitor-latest/metrics``, key = deployment name); the model server reads it on every
  scrape of ``/metrics`` (see ``opskit.serve.metrics``).
* The built-in webhook (plugin ``opskit.builtins.alerts``) POSTs every alert as JSON to
  ``[tool.opskit.monitor] webhook_url`` / ``$OPSKIT_ALERT_WEBHOOK``: a timeout per attempt,
  bounded retries (connection errors, timeouts, 429 and 5xx; a 4xx is final), and a failure
  is logged (logger ``opskit.monitor.alerts``), never raised into the caller.

A hook implementation that raises is logged (logger ``opskit.plugins``) and the others
still run: an alert never breaks the code that detected the problem.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opskit.monitor.records import DriftReport

__all__ = [
    "STATE_KIND",
    "alert_payload",
    "drift_detected",
    "latest",
    "performance_degraded",
    "record_drift",
    "record_metrics",
    "send_webhook",
]

#: Tracker state-document kind prefix: ``monitor-latest/drift`` and ``monitor-latest/metrics``
#: hold each deployment's latest drift and metric values (key: the deployment name). Two
#: documents, so a drift check and a performance check running at once never overwrite
#: each other's values.
STATE_KIND = "monitor-latest"
SECTIONS = ("drift", "metrics")

logger = logging.getLogger("opskit.monitor.alerts")


def _summary(report: object) -> str:
    summary = getattr(report, "summary", None)
    if callable(summary):
        text = str(summary())
        return text.splitlines()[0] if text else ""
    return str(report)


def _plain(report: object) -> Any:
    to_dict = getattr(report, "to_dict", None)
    return to_dict() if callable(to_dict) else repr(report)


def _version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("opskit-ml")
    except metadata.PackageNotFoundError:
        return None


def alert_payload(event: str, report: object, deployment: str | None) -> dict[str, Any]:
    """The JSON document the webhook POSTs: event, deployment, a one-line summary and ``report.to_dict()``."""
    return {
        "id": uuid.uuid4().hex,
        "event": event,
        "deployment": deployment,
        "summary": _summary(report),
        "report": _plain(report),
        "sent_at": time.time(),
        "opskit_version": _version(),
    }


def drift_detected(report: DriftReport, *, deployment: str | None = None) -> None:
    """Fire ``on_drift_detected(report, deployment)`` on every plugin (a failing one is logged, never raised)."""
    from opskit._hooks import hooks

    hooks.on_drift_detected(report=report, deployment=deployment)


def performance_degraded(report: object, *, deployment: str | None = None) -> None:
    """Fire ``on_performance_degraded(report, deployment)`` on every plugin (a failing one is logged, never raised).

    *deployment* defaults to ``report.deployment`` when the report has one.
    """
    from opskit._hooks import hooks

    if deployment is None:
        found = getattr(report, "deployment", None)
        deployment = found if isinstance(found, str) else None
    hooks.on_performance_degraded(report=report, deployment=deployment)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _update(deployment: str, section: str, value: dict[str, Any]) -> None:
    from opskit.deployments.api import _check_name
    from opskit.runtime import get_tracker

    _check_name(deployment)
    get_tracker().put_state(f"{STATE_KIND}/{section}", deployment, value)


def record_drift(deployment: str, report: DriftReport) -> None:
    """Store *report*'s drift share, verdict and per-column statistics as *deployment*'s latest drift.

    The deployment's ``/metrics`` exports them (``opskit_monitor_drift_share``,
    ``opskit_monitor_column_drift_statistic``, ...) from its next scrape on.
    """
    columns: dict[str, Any] = {}
    for name, col in report.columns.items():
        columns[name] = {
            "method": col.method,
            "statistic": _finite(col.statistic),
            "p_value": _finite(col.p_value),
            "drifted": bool(col.drifted),
        }
    _update(
        deployment,
        "drift",
        {
            "at": time.time(),
            "drifted": bool(report.drifted),
            "share_drifted": float(report.share_drifted),
            "n_current": int(report.n_current),
            "columns": columns,
        },
    )


def record_metrics(
    deployment: str,
    values: Mapping[str, Mapping[str, float]],
    *,
    degraded: Mapping[str, bool] | None = None,
) -> None:
    """Store the latest metric values of *deployment*: ``{variant: {metric: value}}`` (non-finite values are left out).

    *degraded* optionally says per variant whether a threshold was breached. The
    deployment's ``/metrics`` exports them as ``opskit_monitor_metric{variant, metric}``.
    """
    variants: dict[str, dict[str, float]] = {}
    for variant, metrics in values.items():
        kept = {str(m): v for m, raw in metrics.items() if (v := _finite(raw)) is not None}
        variants[str(variant)] = kept
    _update(
        deployment,
        "metrics",
        {
            "at": time.time(),
            "variants": variants,
            "degraded": {str(k): bool(v) for k, v in (degraded or {}).items()},
        },
    )


def latest(deployment: str) -> dict[str, Any]:
    """The latest monitoring values stored for *deployment* (``{}`` when none): ``drift`` and ``metrics`` sections."""
    from opskit.runtime import get_tracker

    tracker = get_tracker()
    found = {
        section: tracker.get_state(f"{STATE_KIND}/{section}", deployment) for section in SECTIONS
    }
    return {section: doc for section, doc in found.items() if doc is not None}


#: Statuses worth another attempt; any other non-2xx answer is final.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def shown_url(url: str) -> str:
    """*url* as safe to log: no user:password, query or fragment, and only the first path segment.

    Chat webhooks carry their secret in the URL (``https://hooks.slack.com/services/T…/B…/<token>``):
    ``https://hooks.slack.com/services/…`` is enough to tell which receiver failed.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<malformed URL>"
    if ":" in host:
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    segments = [s for s in parts.path.split("/") if s]
    shown = origin + (f"/{segments[0]}" if segments else "")
    if len(segments) > 1 or parts.query or parts.fragment:
        shown += "/…"
    return shown


def _without_secrets(text: str, url: str) -> str:
    """*text* (an error message) with the parts of *url* that :func:`shown_url` leaves out replaced by ``…``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    hidden = [parts.query, parts.fragment, *[s for s in parts.path.split("/") if s][1:]]
    if "@" in parts.netloc:
        hidden.append(parts.netloc.rsplit("@", 1)[0])
        hidden += parts.netloc.rsplit("@", 1)[0].split(":")
    for secret in sorted({h for h in hidden if h}, key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


def _attempt(request: Any, timeout: float) -> int:
    """One POST; its status, within *timeout* seconds in all (``TimeoutError`` past that).

    urllib's timeout bounds each socket operation, not the request: a receiver that
    trickles its answer a byte at a time would hold the caller for as long as it likes.
    The request runs in a daemon thread and the caller stops waiting at the deadline (the
    abandoned attempt ends with its socket; a late delivery is a repeat the receiver can
    drop by its ``X-Opskit-Alert-Id``).
    """
    import threading
    import urllib.request

    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                outcome["status"] = int(response.status)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    worker = threading.Thread(target=post, name="opskit-alert-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["status"])


def send_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float = 5.0,
    retries: int = 2,
    backoff: float = 0.5,
) -> bool:
    """POST *payload* as JSON to *url*; True when a 2xx answer came back.

    Each attempt waits at most *timeout* seconds in all (a receiver answering slowly byte
    by byte included); connection errors, timeouts, 408/425/429
    and 5xx answers are retried up to *retries* times (waiting ``backoff · 2^attempt``
    seconds between attempts); another answer is final. Never raises: a failure is logged
    on logger ``opskit.monitor.alerts`` with the URL (:func:`shown_url`: no credentials,
    query or path beyond its first segment) and the reason. The same ``X-Opskit-Alert-Id``
    header (the payload's ``id``) is sent with every attempt, so a receiver can drop repeats.
    """
    import urllib.error
    import urllib.request

    try:
        body = json.dumps(payload, allow_nan=False, default=str).encode("utf-8")
    except (TypeError, ValueError) as exc:
        logger.error(
            "alert webhook %s: the payload is not JSON (%s); not sent", shown_url(url), exc
        )
        return False
    headers = {"Content-Type": "application/json", "User-Agent": "opskit-alerts"}
    if isinstance(payload.get("id"), str):
        headers["X-Opskit-Alert-Id"] = payload["id"]
    reason = "no attempt"
    for attempt in range(max(0, retries) + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            status = _attempt(request, timeout)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused, a malformed URL
            reason = _without_secrets(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", url)
            if isinstance(exc, ValueError):
                break  # a malformed URL does not get better
            continue
        if 200 <= status < 300:
            return True
        reason = f"HTTP {status}"
        if status not in _RETRY_STATUS:
            break
    logger.error(
        "alert webhook %s failed after %d attempt(s): %s (event %s; not raised: fix the URL in "
        "[tool.opskit.monitor] webhook_url / $OPSKIT_ALERT_WEBHOOK or the receiver)",
        shown_url(url),
        attempt + 1,
        reason,
        payload.get("event"),
    )
    return False
