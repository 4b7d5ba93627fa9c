"""Delayed labels and performance over a day of predictions: ``log_labels`` and ``performance`` cost.

``python bench/labels.py [--rows 200000] [--batch 20000]`` prints one JSON object. A fresh
store (local storage, embedded tracker) gets one day of prediction-log records written
through ``PredictionLog`` as the model server writes them (requests of 10 rows, 4 numeric
inputs, a 0/1 ``sex`` column, a class prediction; two variants at 80/20), then:

- ``log_labels_s``: one ``log_labels`` call labelling every row (request ids repeated, rows
  by occurrence), including the check of which ids the log holds;
- ``performance_1h_s``: ``performance(dep, window="1h")`` (default classification metrics,
  24 windows × 2 variants);
- ``fairness_1d_s``: ``fairness(dep, column="sex", window="1d")``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

DAY0 = 1_764_460_800.0  # 2025-11-30T00:00:00Z
COLUMNS = ("x0", "x1", "x2", "x3", "sex")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OPSKIT_HOME"] = str(Path(tmp) / ".opskit")
        os.environ["OPSKIT_CAPTURE_ENV"] = "0"
        print(json.dumps(run(args.rows, args.batch)))


def run(rows: int, batch: int) -> dict[str, Any]:
    import opskit
    from opskit.serve.predlog import PredictionLog

    rng = random.Random(0)
    log = PredictionLog("bench", max_records=batch * 2)
    per_request = 10
    requests = rows // per_request
    ids: list[str] = []
    truth: list[int] = []
    t0 = time.perf_counter()
    for r in range(requests):
        variant = "wine@production" if rng.random() < 0.8 else "wine@challenger"
        values = [
            [rng.random(), rng.random(), rng.random(), rng.random(), rng.randrange(2)]
            for _ in range(per_request)
        ]
        preds = [rng.randrange(3) for _ in range(per_request)]
        log.record(
            f"r{r}",
            variant,
            "primary" if variant.endswith("production") else "canary",
            "wine:1" if variant.endswith("production") else "wine:2",
            COLUMNS,
            values,
            preds,
            ts=DAY0 + 86_000 * r / requests,
        )
        ids += [f"r{r}"] * per_request
        truth += [p if rng.random() < 0.8 else rng.randrange(3) for p in preds]
        if (r + 1) * per_request % batch == 0:
            log.flush()
    log.flush()
    write_s = time.perf_counter() - t0
    opskit.monitor.predictions("bench", since=DAY0 + 30 * 86400)  # warm: tracker, imports
    import fairlearn.metrics  # noqa: F401  (imports are not what is measured)
    import sklearn.metrics  # noqa: F401

    t0 = time.perf_counter()
    done = opskit.monitor.log_labels("bench", ids, truth)
    log_labels_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    perf = opskit.monitor.performance("bench", window="1h")
    performance_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fair = opskit.monitor.fairness("bench", column="sex", window="1d")
    fairness_s = time.perf_counter() - t0
    return {
        "rows": rows,
        "write_s": round(write_s, 2),
        "labels_matched": done.matched,
        "log_labels_s": round(log_labels_s, 2),
        "performance_1h_s": round(performance_s, 2),
        "performance_windows": len(perf.windows),
        "fairness_1d_s": round(fairness_s, 2),
        "fairness_windows": len(fair.windows),
    }


if __name__ == "__main__":
    main()
