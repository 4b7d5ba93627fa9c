"""Shared plumbing for the benchmarks: settings, result rows, goals, isolated worker processes.

Every measurement runs in a fresh Python process with its own temporary
directory, so opskit and MLflow never share imports, caches or stores. A
worker module (for example ``tracking.py``) exposes named *cases*; the parent
runs ``python bench/<module>.py <case> --n ...`` and reads one JSON line
prefixed with ``RESULT_MARKER`` from its standard output.

This module must stay cheap to import: workers import it before they time
anything, and it must never import opskit or MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "REPO_ROOT",
    "RESULT_MARKER",
    "Benchmark",
    "BenchmarkError",
    "Comparison",
    "Goal",
    "Settings",
    "isolated_env",
    "run_python",
    "run_worker",
    "summarize",
    "use_bytecode_cache",
    "worker_main",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULT_MARKER = "@@bench-result "
#: Environment variables removed from every worker, so a developer's own setup never leaks in.
_SCRUBBED_PREFIXES = ("OPSKIT_", "MLFLOW_")
WORKER_TIMEOUT_S = 240.0
#: Where workers read and write byte-code (``PYTHONPYCACHEPREFIX``); set by ``use_bytecode_cache``.
_bytecode_cache: Path | None = None

Case = Callable[[argparse.Namespace, Path], dict[str, Any]]


class BenchmarkError(RuntimeError):
    """A worker failed or printed no result."""


@dataclass(frozen=True)
class Settings:
    """Sizes of the measurements (``--quick`` shrinks them for a smoke test)."""

    import_repeats: int = 5
    runs: int = 200
    run_warmup: int = 5
    metric_calls: int = 10_000
    mlflow_metric_calls: int = 1_000
    batch_size: int = 1_000  # MLflow's limit of metrics per log_batch request

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            import_repeats=2, runs=20, run_warmup=2, metric_calls=2_000, mlflow_metric_calls=100
        )


@dataclass(frozen=True)
class Comparison:
    """One row of the results table: the same quantity measured for opskit and for MLflow.

    ``speedup`` is "how many times faster opskit is": MLflow/opskit for times,
    opskit/MLflow for rates.
    """

    key: str
    benchmark: str
    measure: str
    unit: str
    opskit: float
    mlflow: float
    higher_is_better: bool = False
    note: str = ""

    @property
    def speedup(self) -> float:
        if self.higher_is_better:
            return self.opskit / self.mlflow if self.mlflow else float("inf")
        return self.mlflow / self.opskit if self.opskit else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup": self.speedup}


@dataclass(frozen=True)
class Goal:
    """A target on one row: opskit must be at least ``min_speedup`` times faster (strictly, if ``strict``)."""

    row: str
    min_speedup: float
    description: str
    strict: bool = False

    def met(self, rows: Mapping[str, Comparison]) -> bool | None:
        row = rows.get(self.row)
        if row is None:
            return None
        return row.speedup > self.min_speedup if self.strict else row.speedup >= self.min_speedup


@dataclass(frozen=True)
class Benchmark:
    """A group of rows produced by one function; add new ones to a module's ``BENCHMARKS``."""

    name: str
    title: str
    run: Callable[[Settings], tuple[list[Comparison], dict[str, Any]]]
    goals: Sequence[Goal] = field(default_factory=tuple)


# -- statistics ---------------------------------------------------------------------------------


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """Median/mean/min/p95/max of durations, in milliseconds."""
    ms = sorted(s * 1000.0 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "p95_ms": p95,
        "max_ms": ms[-1],
    }


# -- isolated processes -------------------------------------------------------------------------


def use_bytecode_cache(folder: Path | None) -> None:
    """Make every worker keep its byte-code in *folder* (``PYTHONPYCACHEPREFIX``), whatever the caller's setting.

    Users import from compiled byte-code (pip compiles at install; Python caches
    on first import). A shell with ``PYTHONDONTWRITEBYTECODE=1`` or a venv
    installed without byte-code would make every worker compile all of its
    imports from source, which measures the compiler, not the library. A
    private cache folder gives every worker the normal case without writing
    into the virtualenv or the source tree. ``None`` restores the caller's setting.
    """
    global _bytecode_cache
    _bytecode_cache = folder


def isolated_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: no OPSKIT_*/MLFLOW_* from the caller, telemetry off, store in *tmp*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    if _bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(_bytecode_cache)
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "OPSKIT_HOME": str(tmp / ".opskit"),
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def run_python(
    args: Sequence[str], *, tmp: Path, extra_env: Mapping[str, str] | None = None
) -> tuple[str, float]:
    """Run ``python *args`` in *tmp* (its working directory); return (stdout, wall seconds)."""
    command = [sys.executable, *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=tmp,
            env=isolated_env(tmp, extra_env),
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"{' '.join(args)} took longer than {WORKER_TIMEOUT_S:.0f} s") from exc
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-25:])
        raise BenchmarkError(f"`python {' '.join(args)}` exited with {done.returncode}:\n{tail}")
    return done.stdout, wall


def parse_result(stdout: str) -> dict[str, Any]:
    """The JSON object a worker printed after ``RESULT_MARKER`` (the last one wins)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise BenchmarkError(f"the worker printed no result line; its output was:\n{stdout[-2000:]}")


def run_worker(module: str, case: str, **options: object) -> dict[str, Any]:
    """Run ``bench/<module>.py <case> --opt value ...`` in a fresh temporary directory; return its JSON."""
    script = BENCH_DIR / f"{module}.py"
    args = [str(script), case]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    with tempfile.TemporaryDirectory(prefix=f"opskit-bench-{case}-") as tmp:
        stdout, wall = run_python(args, tmp=Path(tmp))
    result = parse_result(stdout)
    result["process_wall_s"] = wall
    return result


def worker_main(cases: Mapping[str, Case], argv: Sequence[str] | None = None) -> None:
    """Command line of a worker module: ``<case> [--n N] [--warmup W] [--batch B]``; prints one result line.

    The case runs with the working directory as its scratch space (the parent
    made it a fresh temporary directory).
    """
    parser = argparse.ArgumentParser(
        description="Run one benchmark case and print its result as JSON."
    )
    parser.add_argument("case", choices=sorted(cases))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    result = cases[args.case](args, Path.cwd())
    print(RESULT_MARKER + json.dumps(result), flush=True)
