"""The cost of ``opskit.monitor.check`` over a prediction log of one batch per second for a day.

``python bench/monitor_check.py [--batches 86400] [--new 300] [--repeat 5]`` prints one JSON
object. A fresh store (local storage, embedded tracker) gets ``--batches`` index entries,
one per second over the last day (written as ``PredictionLog`` writes them: one
``put_state`` per batch; every entry names the same small Parquet blob of 10 rows), and
its days listed. A first plan and commit (``opskit.monitor.checkpoint``) marks them all
checked without reading them; then ``--new`` more batches are indexed (five minutes at one
batch per second) and timed:

- ``plan``: listing the index of the days a check looks at and choosing the new batches
  (median of ``--repeat``; nothing is stored);
- ``check``: one whole ``opskit.monitor.check`` (plan, reading the new batches, commit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run(batches: int, new: int, repeat: int) -> dict[str, Any]:
    import opskit
    from opskit.monitor import checkpoint
    from opskit.runtime import get_storage, get_tracker
    from opskit.serve.predlog import (
        DAYS_KIND,
        _parquet_bytes,
        _Request,
        day_kind,
        to_table,
        utc_day,
    )

    dep = "bench"
    tracker, storage = get_tracker(), get_storage()
    now = time.time()
    rows = [
        _Request(now, f"r{i}", "m@a", "primary", "m:1", ("x",), [[float(i)]], [0])
        for i in range(10)
    ]
    digest = storage.put_bytes(_parquet_bytes(to_table(dep, rows))).digest

    def index(ts: float, seq: int) -> None:
        day = utc_day(ts)
        tracker.put_state(
            day_kind(dep, day),
            f"{ts:017.6f}-1-{seq}",
            {
                "deployment": dep,
                "day": day,
                "digest": digest,
                "format": "parquet",
                "records": 10,
                "first_ts": ts,
                "last_ts": ts,
                "written_at": min(ts + 1.0, time.time()),
            },
        )

    t0 = time.perf_counter()
    start = now - batches
    for i in range(batches):
        index(start + i, i)
    write_s = time.perf_counter() - t0
    for day in {utc_day(start), utc_day(now)}:
        tracker.put_state(DAYS_KIND, f"{dep}/{day}", {"deployment": dep, "day": day})
    t0 = time.perf_counter()
    first = checkpoint.plan(tracker, dep)
    assert checkpoint.commit(tracker, first, {})
    first_s = time.perf_counter() - t0
    later = time.time()
    for i in range(new):
        index(later - new + i + 0.5, batches + i)
    plans = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        chosen = checkpoint.plan(tracker, dep)
        plans.append(time.perf_counter() - t0)
        assert len(chosen.entries) == new, len(chosen.entries)
    t0 = time.perf_counter()
    result = opskit.monitor.check(dep)
    check_s = time.perf_counter() - t0
    assert result.batches == new and result.rows == 10 * new, (result.batches, result.rows)
    stored = tracker.get_state(checkpoint.CHECK_KIND, dep)
    assert stored is not None
    return {
        "batches_indexed": batches,
        "new_batches": new,
        "entries_listed_per_check": chosen.listed,
        "days_listed": len(chosen.days),
        "index_write_s": round(write_s, 2),
        "first_plan_and_commit_s": round(first_s, 3),
        "plan_median_s": round(statistics.median(plans), 3),
        "check_s": round(check_s, 3),
        "recent_keys_stored": len(stored["recent"]),
        "state_document_bytes": len(json.dumps(stored)),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=86_400)
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for var in [v for v in os.environ if v.startswith(("OPSKIT_", "MLFLOW_"))]:
            del os.environ[var]
        os.environ.update(
            OPSKIT_HOME=str(Path(tmp) / ".opskit"), OPSKIT_CAPTURE_ENV="0", OPSKIT_CAPTURE_GIT="0"
        )
        print(json.dumps(run(args.batches, args.new, args.repeat), indent=2))


if __name__ == "__main__":
    main()
