"""Prometheus metrics of the model server (prometheus_client, multi-process aware).

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by the launcher
before the workers start, so ``/metrics`` on any worker reports all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

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

    def render(self) -> bytes:
        """The text exposition of every worker's metrics."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
