"""Prometheus metrics of the model server (prometheus_client, multi-process aware).

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by the launcher
before the workers start, so ``/metrics`` on any worker reports all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MonitorCollector", "monitor_metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Requests, errors, latency and per-variant prediction counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "opskit_requests",
            "Scoring requests by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "opskit_request_errors",
            "Rejected or failed requests by endpoint and reason.",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "opskit_request_latency_seconds",
            "Time from request to response.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.variant_requests = Counter(
            "opskit_variant_requests",
            "Requests answered per variant (role: primary or shadow) and outcome.",
            ["variant", "role", "outcome"],
            registry=self.registry,
        )
        self.variant_rows = Counter(
            "opskit_variant_rows",
            "Rows predicted per variant and role.",
            ["variant", "role"],
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "opskit_batch_rows",
            "Rows per model predict call (micro-batches).",
            ["variant"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096),
            registry=self.registry,
        )
        self.model_switches = Counter(
            "opskit_model_switches",
            "Times a variant switched to a new model version.",
            ["variant"],
            registry=self.registry,
        )

        self.log_rows = Counter(
            "opskit_prediction_log_rows",
            "Rows written to the prediction log.",
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "opskit_prediction_log_dropped_rows",
            "Rows the prediction log could not keep (reason: buffer_full or store_error).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("buffer_full", "store_error"):  # exported as 0 from the start
            self.log_dropped.labels(reason)

    def render(self, monitor: Mapping[str, Any] | None = None) -> bytes:
        """The text exposition of every worker's metrics, then the deployment's latest monitoring values.

        *monitor* is the deployment's latest monitoring document (``opskit.monitor.alerts.latest``);
        the same for every worker, so it is rendered once, not per process.
        """
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            text = generate_latest(registry)
        else:
            text = generate_latest(self.registry)
        if monitor:
            text += monitor_metrics(monitor)
        return text


def monitor_metrics(document: Mapping[str, Any]) -> bytes:
    """The Prometheus text of a latest-monitoring document (see :class:`MonitorCollector`)."""
    registry = CollectorRegistry()
    registry.register(MonitorCollector(document))
    return generate_latest(registry)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


class MonitorCollector:
    """Gauges from the latest drift and metric values stored for the deployment.

    ``opskit_monitor_drift_share`` (share of drifted columns), ``opskit_monitor_drifted``
    (1/0), ``opskit_monitor_drift_timestamp_seconds``, per column
    ``opskit_monitor_column_drift_statistic{column, method}`` and
    ``opskit_monitor_column_drifted{column}``; per variant and metric
    ``opskit_monitor_metric{variant, metric}``, ``opskit_monitor_degraded{variant}`` and
    ``opskit_monitor_metrics_timestamp_seconds``.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        drift = self.document.get("drift")
        if isinstance(drift, Mapping):
            for name, key, doc in (
                (
                    "opskit_monitor_drift_share",
                    "share_drifted",
                    "Share of drifted columns in the latest drift check.",
                ),
                (
                    "opskit_monitor_drifted",
                    "drifted",
                    "1 when the latest drift check found dataset drift.",
                ),
                (
                    "opskit_monitor_drift_timestamp_seconds",
                    "at",
                    "When the latest drift check ran (Unix time).",
                ),
            ):
                value = _number(drift.get(key))
                if value is not None:
                    yield GaugeMetricFamily(name, doc, value=value)
            stat = GaugeMetricFamily(
                "opskit_monitor_column_drift_statistic",
                "Per column, the deciding drift statistic of the latest drift check.",
                labels=["column", "method"],
            )
            flagged = GaugeMetricFamily(
                "opskit_monitor_column_drifted",
                "Per column, 1 when the latest drift check flagged it.",
                labels=["column"],
            )
            columns = drift.get("columns")
            for column, info in columns.items() if isinstance(columns, Mapping) else ():
                if not isinstance(info, Mapping):
                    continue
                value = _number(info.get("statistic"))
                if value is not None:
                    stat.add_metric([str(column), str(info.get("method", ""))], value)
                flagged.add_metric([str(column)], 1.0 if info.get("drifted") else 0.0)
            yield stat
            yield flagged
        metrics = self.document.get("metrics")
        if isinstance(metrics, Mapping):
            values = GaugeMetricFamily(
                "opskit_monitor_metric",
                "Latest value of each performance metric, per variant.",
                labels=["variant", "metric"],
            )
            variants = metrics.get("variants")
            for variant, named in variants.items() if isinstance(variants, Mapping) else ():
                for metric, raw in named.items() if isinstance(named, Mapping) else ():
                    value = _number(raw)
                    if value is not None:
                        values.add_metric([str(variant), str(metric)], value)
            yield values
            degraded = GaugeMetricFamily(
                "opskit_monitor_degraded",
                "1 when the latest performance check breached a threshold, per variant.",
                labels=["variant"],
            )
            flags = metrics.get("degraded")
            for variant, flag in flags.items() if isinstance(flags, Mapping) else ():
                degraded.add_metric([str(variant)], 1.0 if flag else 0.0)
            yield degraded
            at = _number(metrics.get("at"))
            if at is not None:
                yield GaugeMetricFamily(
                    "opskit_monitor_metrics_timestamp_seconds",
                    "When the latest performance check ran (Unix time).",
                    value=at,
                )
