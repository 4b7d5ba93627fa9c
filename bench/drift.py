"""Data drift, 1,000,000 rows × 20 numeric columns: opskit vs Evidently vs plain scipy/numpy loops.

``python bench/drift.py [--rows 1000000] [--cols 20] [--repeat 3] [--no-evidently]``
prints one JSON object. Reference and current data (half the columns shifted) are written
once to Parquet; every contender reads the same files. Timed, side by side in one run:

* ``scipy_ks``: ``scipy.stats.ks_2samp`` on every column (the KS test alone);
* ``scipy_wasserstein``: ``scipy.stats.wasserstein_distance`` on every column;
* ``numpy_psi``: PSI on reference-decile bins with ``np.quantile`` + ``np.histogram``;
* ``opskit``: ``opskit.monitor.drift(ref_df, cur_df)`` — every default statistic (KS and its
  p-value, normalised Wasserstein, PSI, missing share) for every column, and the verdicts;
* ``opskit_profile``: the same from a stored ``ReferenceProfile`` (profile built beforehand);
* ``opskit_parquet``: from the profile, the current data streamed from its Parquet file;
* ``evidently``: ``Report([DataDriftPreset()]).run(cur, ref)`` in its own virtual environment
  (Evidently needs pandas < 3), created on first use under ``~/.cache/opskit-bench``; it times
  itself inside the subprocess (data loading excluded, as for the others).

Times exclude loading the data into memory. Each in-process contender runs ``--repeat`` times;
the best time is reported. Evidently runs once (it takes a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("OPSKIT_BENCH_CACHE", Path.home() / ".cache" / "opskit-bench"))
EVIDENTLY_VENV = CACHE / "evidently-venv"

EVIDENTLY_SCRIPT = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
import evidently
try:  # Evidently >= 0.7
    from evidently import Report
    from evidently.presets import DataDriftPreset
    t0 = time.perf_counter()
    result = Report([DataDriftPreset()]).run(cur, ref)
    seconds = time.perf_counter() - t0
    drifted = None
    for metric in result.dict()["metrics"]:
        if "DriftedColumnsCount" in str(metric.get("metric_name", "")):
            drifted = metric["value"]["count"]
except ImportError:  # the legacy API
    from evidently.report import Report
    from evidently.metric_preset import DataDriftPreset
    t0 = time.perf_counter()
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur)
    report.as_dict()
    seconds = time.perf_counter() - t0
    drifted = None
print(json.dumps({"seconds": seconds, "version": evidently.__version__, "pandas": pd.__version__, "drifted": drifted}))
"""


def make_data(rows: int, cols: int, folder: Path) -> tuple[Path, Path]:
    """Reference and current Parquet files; columns 0, 2, 4, … of the current data are shifted by 0.25σ."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref_path, cur_path = (
        folder / f"ref-{rows}x{cols}.parquet",
        folder / f"cur-{rows}x{cols}.parquet",
    )
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    rng = np.random.default_rng(2026)
    ref = {f"x{i}": rng.normal(0.0, 1.0 + i / 10, size=rows) for i in range(cols)}
    cur = {
        f"x{i}": rng.normal(0.25 * (1.0 + i / 10) * (i % 2 == 0), 1.0 + i / 10, size=rows)
        for i in range(cols)
    }
    pq.write_table(pa.table(ref), ref_path)
    pq.write_table(pa.table(cur), cur_path)
    return ref_path, cur_path


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def numpy_psi(ref: Any, cur: Any) -> float:
    import numpy as np

    edges = np.quantile(ref, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(ref, edges)[0] / ref.size
    c = np.histogram(cur, edges)[0] / cur.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def evidently(ref_path: Path, cur_path: Path) -> dict[str, Any]:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        EVIDENTLY_VENV.parent.mkdir(parents=True, exist_ok=True)
        uv = shutil.which("uv")
        try:
            if uv:
                subprocess.run([uv, "venv", "-q", str(EVIDENTLY_VENV)], check=True)
                subprocess.run(
                    [
                        uv,
                        "pip",
                        "install",
                        "-q",
                        "--python",
                        str(python),
                        "evidently",
                        "pandas<3",
                        "pyarrow",
                    ],
                    check=True,
                )
            else:
                subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
                subprocess.run(
                    [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
                    check=True,
                )
        except (subprocess.CalledProcessError, OSError) as exc:
            shutil.rmtree(EVIDENTLY_VENV, ignore_errors=True)
            return {"error": f"could not install Evidently into {EVIDENTLY_VENV}: {exc}"}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(EVIDENTLY_SCRIPT)
    try:
        out = subprocess.run(
            [str(python), script.name, str(ref_path), str(cur_path)],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script.name)
    if out.returncode != 0:
        return {"error": f"Evidently failed (exit {out.returncode}): {out.stderr.strip()[-800:]}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from scipy import stats

    import opskit

    CACHE.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = make_data(args.rows, args.cols, CACHE)
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    names = list(ref.columns)
    ref_np = {c: ref[c].to_numpy() for c in names}
    cur_np = {c: cur[c].to_numpy() for c in names}

    results: dict[str, Any] = {
        "rows": args.rows,
        "columns": args.cols,
        "cpus": os.cpu_count(),
        "seconds": {},
    }
    secs = results["seconds"]
    opskit.monitor.drift(ref.iloc[:1000], cur.iloc[:1000])  # imports and plugin loading, not timed

    prof = opskit.monitor.profile(ref)
    contenders: dict[str, Callable[[], Any]] = {
        "scipy_ks": lambda: [stats.ks_2samp(ref_np[c], cur_np[c]) for c in names],
        "opskit": lambda: opskit.monitor.drift(ref, cur),
        "opskit_1_thread": lambda: opskit.monitor.drift(ref, cur, workers=1),
        "scipy_wasserstein": lambda: [
            stats.wasserstein_distance(ref_np[c], cur_np[c]) for c in names
        ],
        "numpy_psi": lambda: [numpy_psi(ref_np[c], cur_np[c]) for c in names],
        "opskit_build_profile": lambda: opskit.monitor.profile(ref),
        "opskit_profile": lambda: opskit.monitor.drift(prof, cur),
        "opskit_parquet": lambda: opskit.monitor.drift(prof, cur_path),
    }
    # Interleaved rounds, best of each: the machine is shared, so load drifts over a run.
    out: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in contenders.items():
            seconds, out[name] = best(fn, 1)
            secs[name] = min(secs.get(name, seconds), seconds)
    ks, report, from_profile, streamed = (
        out["scipy_ks"],
        out["opskit"],
        out["opskit_profile"],
        out["opskit_parquet"],
    )

    assert np.allclose(
        [report.columns[c].statistics["ks"] for c in names], [r.statistic for r in ks], atol=1e-12
    )
    results["drifted"] = {
        "opskit": len(report.drifted_columns),
        "opskit_profile": len(from_profile.drifted_columns),
        "opskit_parquet": len(streamed.drifted_columns),
    }
    results["profile_json_bytes"] = len(prof.to_json())
    if args.no_evidently:
        results["evidently"] = {"error": "skipped (--no-evidently)"}
    else:
        ev = evidently(ref_path, cur_path)
        results["evidently"] = ev
        if "seconds" in ev:
            secs["evidently"] = ev["seconds"]
            results["drifted"]["evidently"] = ev.get("drifted")
    ratios: dict[str, float] = {}
    for base in ("evidently", "scipy_ks"):
        if base in secs:
            for name in ("opskit", "opskit_profile", "opskit_parquet"):
                ratios[f"{base} / {name}"] = round(secs[base] / secs[name], 2)
    results["ratios"] = ratios
    results["seconds"] = {k: round(v, 3) for k, v in secs.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
