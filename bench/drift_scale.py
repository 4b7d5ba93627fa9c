"""Drift over data that is not in memory: ``python bench/drift_scale.py [--rows N]``.

The same current data (N rows × 20 numeric columns, 16 Parquet files) compared with a
stored-style reference profile three ways: in memory (pandas), streamed from the Parquet
directory (one pass, record batches), and as a dask DataFrame read from the same files on a
``dask.distributed.LocalCluster`` (2 worker processes, 1 thread each, 127.0.0.1). Prints
wall time and the client process's peak RSS growth for each as JSON, and checks that the
streamed and dask reports agree exactly on KS. One run; numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import opskit


def frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame({f"c{i}": rng.normal(shift * (i % 2), 1.0, n) for i in range(20)})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    prof = opskit.monitor.profile(frame(rng, 200_000, 0.0))
    out: dict[str, Any] = {"rows": args.rows, "columns": 20}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "live"
        folder.mkdir()
        per_file = args.rows // 16
        for i in range(16):
            part = frame(rng, per_file, 0.05)
            pq.write_table(
                pa.Table.from_pandas(part, preserve_index=False), folder / f"p{i:02d}.parquet"
            )
        del part
        base = peak_mb()
        seconds, streamed = timed(lambda: opskit.monitor.drift(prof, folder))
        out["parquet_streamed"] = {
            "seconds": round(seconds, 2),
            "peak_rss_growth_mb": round(peak_mb() - base, 1),
        }

        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
        ):
            ddf = dd.read_parquet(str(folder))
            base = peak_mb()
            seconds, distributed = timed(lambda: opskit.monitor.drift(prof, ddf))
            out["dask_local_cluster"] = {
                "seconds": round(seconds, 2),
                "peak_rss_growth_mb": round(peak_mb() - base, 1),
                "partitions": ddf.npartitions,
            }
        assert all(
            distributed.columns[c].statistics["ks"] == streamed.columns[c].statistics["ks"]
            for c in streamed.columns
        )
        base = peak_mb()
        seconds, in_memory = timed(lambda: opskit.monitor.drift(prof, pd.read_parquet(folder)))
        out["in_memory_incl_read"] = {
            "seconds": round(seconds, 2),
            "peak_rss_growth_mb": round(peak_mb() - base, 1),
        }
        out["verdicts_equal"] = (
            distributed.drifted_columns == streamed.drifted_columns == in_memory.drifted_columns
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
