"""Reading one day of a prediction log of 1,000,000 records: time and peak memory.

``python bench/predictions.py [--rows 1000000] [--other-days 2] [--batch 20000]``
prints one JSON object. A fresh store (local storage, embedded tracker) gets a
log written through ``PredictionLog`` exactly as the model server writes it:
requests of 10 rows with 13 numeric inputs and one prediction, flushed in
batches of ``--batch`` rows, spread over one day, plus ``--other-days`` other days
of the same size (so reading a day must not touch the others). Each reading mode
then runs in its own child process, so its peak RSS growth (``ru_maxrss`` after
minus before, imports excluded) is its own:

- ``dataframe``: ``opskit.monitor.predictions(dep, since=day, until=day+1)``;
- ``stream``: ``opskit.monitor.predictions_dataset(...).to_batches()``, counting rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DAY = "2026-11-30"
COLUMNS = tuple(f"x{i}" for i in range(13))


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSKIT_", "MLFLOW_"))}
    env.update(OPSKIT_HOME=str(home), OPSKIT_CAPTURE_ENV="0", OPSKIT_CAPTURE_GIT="0")
    return env


def write(rows: int, other_days: int, batch: int) -> dict[str, Any]:
    """Fill the store of ``$OPSKIT_HOME``; return the write time and batch count."""
    import random

    from opskit.serve.predlog import PredictionLog, _parquet_bytes, _Request, to_table

    warm = to_table("warm", [_Request(0.0, "r", "v", "primary", "v:1", ("a",), [[1.0]], [0])])
    _parquet_bytes(warm)  # imports happen here, not in the timed loop
    rng = random.Random(0)
    log = PredictionLog("bench", max_records=batch * 2)
    start = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    days = [
        start + timedelta(days=d)
        for d in range(-(other_days // 2), other_days - other_days // 2 + 1)
    ]
    t0 = time.perf_counter()
    batches = 0
    per_request = 10
    for day in days:
        base = day.timestamp()
        buffered = 0
        for r in range(rows // per_request):
            values = [[rng.random() * 10 for _ in COLUMNS] for _ in range(per_request)]
            log.record(
                f"{day:%m%d}-{r}",
                "wine@production",
                "primary",
                "wine:1",
                COLUMNS,
                values,
                [rng.randrange(3) for _ in range(per_request)],
                ts=base + 86_000 * r / (rows // per_request),
            )
            buffered += per_request
            if buffered >= batch:
                log.flush()
                batches += 1
                buffered = 0
        if log.flush():
            batches += 1
    return {
        "days": len(days),
        "rows_per_day": rows,
        "batches": batches,
        "write_s": time.perf_counter() - t0,
    }


def read(mode: str) -> dict[str, Any]:
    """Read one day in *mode*; return rows, seconds and peak RSS growth."""
    import pandas  # noqa: F401  (imports are not what is measured)
    import pyarrow.dataset  # noqa: F401

    import opskit

    since = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    until = since + timedelta(days=1)
    opskit.monitor.predictions("bench", since=until + timedelta(days=30))  # warm: tracker, imports

    def once() -> int:
        if mode == "dataframe":
            return len(opskit.monitor.predictions("bench", since=since, until=until))
        n = 0
        dataset = opskit.monitor.predictions_dataset("bench", since=since, until=until)
        for part in dataset.to_batches(batch_size=65_536):
            n += part.num_rows
        return n

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    n = once()  # the first read in a fresh process: lazy imports of the Parquet reader included
    first = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    once()
    return {
        "mode": mode,
        "rows": n,
        "read_s": first,
        "read_again_s": time.perf_counter() - t0,
        "peak_rss_growth_mb": (after - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--other-days", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--child", choices=["write", "dataframe", "stream"])
    args = parser.parse_args()
    if args.child == "write":
        print(json.dumps(write(args.rows, args.other_days, args.batch)))
        return
    if args.child:
        print(json.dumps(read(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="opskit-bench-predlog-") as tmp:
        env = _env(Path(tmp) / ".opskit")

        def child(*extra: str) -> dict[str, Any]:
            done = subprocess.run(
                [sys.executable, __file__, *extra],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=1800,
                check=True,
            )
            result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
            return result

        wrote = child(
            "--child",
            "write",
            "--rows",
            str(args.rows),
            "--other-days",
            str(args.other_days),
            "--batch",
            str(args.batch),
        )
        size = sum(p.stat().st_size for p in (Path(tmp) / ".opskit").rglob("*") if p.is_file())
        results = {
            "written": wrote,
            "store_mb": size / (1 << 20),
            "reads": [child("--child", mode) for mode in ("dataframe", "stream")],
        }
        for r in results["reads"]:
            r["rows_per_s"] = r["rows"] / r["read_s"] if r["read_s"] else None
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
