"""Tracking overhead: per-run cost and metric logging, opskit vs MLflow on its default SQLite backend.

As a script this is the *worker*: ``python bench/tracking.py <case> --n N``
runs one case in the working directory (a fresh temporary directory made by
the parent) and prints its result as JSON. Only the library of the case is
imported. As a module it provides ``BENCHMARKS`` for ``run.py``.

Fairness rules, applied to both libraries alike:

- the store is created and warmed up (first run, schema, caches) before timing;
- the same 10 params (int, float, str, bool) and 5 metrics are logged per run;
- metric timings include building the values and ending the run (opskit
  buffers metric points and writes them when the run ends);
- data is read back after timing to check that everything was stored.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from harness import Benchmark, Comparison, Goal, Settings, run_worker, summarize, worker_main

__all__ = ["BENCHMARKS", "CASES"]

#: The 10 params of the trivial training function (p0 varies per call).
PARAMS: dict[str, Any] = {
    "p0": 0,
    "p1": 0.1,
    "p2": "adam",
    "p3": True,
    "p4": 32,
    "p5": 0.001,
    "p6": "relu",
    "p7": 0.9,
    "p8": "l2",
    "p9": 7,
}


def _five_metrics(i: int) -> dict[str, float]:
    return {
        "loss": 1.0 / (i + 1),
        "acc": 0.5 + i * 1e-4,
        "f1": 0.4,
        "auc": 0.7,
        "rmse": 2.0 - i * 1e-4,
    }


def _mlflow_setup(tmp: Path) -> Any:
    """Import MLflow and point it at a fresh ``sqlite:///<tmp>/mlflow.db`` (its default backend)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    return mlflow


def _opskit_setup(tmp: Path) -> None:
    """Point opskit at a fresh embedded store in *tmp* (also set as ``OPSKIT_HOME`` by the parent)."""
    import opskit

    opskit.configure(home=str(tmp / ".opskit"))


def _check(ok: bool, what: str) -> str:
    return "ok" if ok else f"MISMATCH: {what}"


# -- per-run overhead ---------------------------------------------------------------------------


def opskit_runs(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``@opskit.track`` around a function with 10 params that logs 5 metrics; one run per call."""
    import opskit

    _opskit_setup(tmp)

    @opskit.track
    def trivial(
        p0: int = 0,
        p1: float = 0.1,
        p2: str = "adam",
        p3: bool = True,
        p4: int = 32,
        p5: float = 0.001,
        p6: str = "relu",
        p7: float = 0.9,
        p8: str = "l2",
        p9: int = 7,
    ) -> None:
        opskit.log_metrics(_five_metrics(p0))

    for i in range(args.warmup):
        trivial(p0=i)
    durations = []
    for i in range(args.n):
        start = time.perf_counter()
        trivial(p0=i)
        durations.append(time.perf_counter() - start)

    try:
        last = opskit.last_run()
        stored = len(opskit.search_runs(limit=args.n + args.warmup + 10))
        params, metrics = (len(last.params), len(last.metrics)) if last else (0, 0)
        check = _check(
            stored == args.n + args.warmup and params == 10 and metrics == 5,
            f"{stored} runs stored, last has {params} params, {metrics} metrics",
        )
    except Exception as exc:  # the benchmark still reports its timings
        check = f"ERROR reading back: {type(exc).__name__}: {exc}"
    return {
        "library": "opskit",
        "version": opskit.__version__,
        **summarize(durations),
        "check": check,
    }


def mlflow_runs(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``with mlflow.start_run(): log_params(10); log_metrics(5)``; one run per iteration."""
    mlflow = _mlflow_setup(tmp)

    def one(i: int) -> None:
        with mlflow.start_run():
            mlflow.log_params({**PARAMS, "p0": i})
            mlflow.log_metrics(_five_metrics(i))

    for i in range(args.warmup):
        one(i)
    durations = []
    for i in range(args.n):
        start = time.perf_counter()
        one(i)
        durations.append(time.perf_counter() - start)

    try:
        runs = mlflow.search_runs(
            search_all_experiments=True, output_format="list", max_results=args.n + args.warmup + 10
        )
        last = runs[0]
        check = _check(
            len(runs) == args.n + args.warmup
            and len(last.data.params) == 10
            and len(last.data.metrics) == 5,
            f"{len(runs)} runs stored, last has {len(last.data.params)} params, {len(last.data.metrics)} metrics",
        )
    except Exception as exc:
        check = f"ERROR reading back: {type(exc).__name__}: {exc}"
    return {
        "library": "mlflow",
        "version": mlflow.__version__,
        **summarize(durations),
        "check": check,
    }


# -- metric logging -----------------------------------------------------------------------------


def _timed_loop(start_run: Any, log: Any, n: int) -> tuple[float, float, Any]:
    """Run *n* ``log(i)`` calls inside ``start_run()``; return (loop seconds, total seconds with run end, run)."""
    with start_run() as run:
        start = time.perf_counter()
        for i in range(n):
            log(i)
        loop_end = time.perf_counter()
    end = time.perf_counter()
    return loop_end - start, end - start, run


def _metric_result(
    library: str, version: str, calls: int, loop_s: float, total_s: float, check: str
) -> dict[str, Any]:
    return {
        "library": library,
        "version": version,
        "calls": calls,
        "loop_s": loop_s,
        "end_run_s": total_s - loop_s,
        "total_s": total_s,
        "calls_per_s": calls / total_s,
        "check": check,
    }


def opskit_metrics(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``opskit.log_metric("loss", v, step=i)`` n times in one run, plus the run's end (flush)."""
    import opskit

    _opskit_setup(tmp)
    with opskit.start_run(name="warmup"):
        opskit.log_metric("loss", 1.0, step=0)

    loop_s, total_s, run = _timed_loop(
        lambda: opskit.start_run(name="metrics"),
        lambda i: opskit.log_metric("loss", 1.0 / (i + 1), step=i),
        args.n,
    )
    try:
        history = opskit.get_run(run.id).metric_history("loss")
        check = _check(len(history) == args.n, f"{len(history)} of {args.n} points stored")
    except Exception as exc:
        check = f"ERROR reading back: {type(exc).__name__}: {exc}"
    return _metric_result("opskit", opskit.__version__, args.n, loop_s, total_s, check)


def mlflow_metric_loop(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``mlflow.log_metric("loss", v, step=i)`` n times in one run, plus the run's end."""
    mlflow = _mlflow_setup(tmp)
    with mlflow.start_run():
        mlflow.log_metric("loss", 1.0, step=0)

    loop_s, total_s, run = _timed_loop(
        mlflow.start_run, lambda i: mlflow.log_metric("loss", 1.0 / (i + 1), step=i), args.n
    )
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
    check = _check(len(history) == args.n, f"{len(history)} of {args.n} points stored")
    return _metric_result("mlflow", mlflow.__version__, args.n, loop_s, total_s, check)


def mlflow_log_batch(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """``MlflowClient().log_batch`` with n ``Metric`` objects in chunks of ``--batch``, plus the run's end."""
    mlflow = _mlflow_setup(tmp)
    from mlflow.entities import Metric

    client = mlflow.MlflowClient()
    with mlflow.start_run():
        mlflow.log_metric("loss", 1.0, step=0)

    with mlflow.start_run() as run:
        run_id = run.info.run_id
        start = time.perf_counter()
        now_ms = int(time.time() * 1000)
        points = [Metric("loss", 1.0 / (i + 1), now_ms, i) for i in range(args.n)]
        for offset in range(0, args.n, args.batch):
            client.log_batch(run_id, metrics=points[offset : offset + args.batch])
        loop_end = time.perf_counter()
    end = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    check = _check(len(history) == args.n, f"{len(history)} of {args.n} points stored")
    result = _metric_result(
        "mlflow", mlflow.__version__, args.n, loop_end - start, end - start, check
    )
    return {**result, "batch": args.batch}


CASES = {
    "opskit-runs": opskit_runs,
    "mlflow-runs": mlflow_runs,
    "opskit-metrics": opskit_metrics,
    "mlflow-metric-loop": mlflow_metric_loop,
    "mlflow-log-batch": mlflow_log_batch,
}


# -- benchmarks (run in the parent; each case in its own process) --------------------------------


def _per_run(settings: Settings) -> tuple[list[Comparison], dict[str, Any]]:
    ops = run_worker("tracking", "opskit-runs", n=settings.runs, warmup=settings.run_warmup)
    mlf = run_worker("tracking", "mlflow-runs", n=settings.runs, warmup=settings.run_warmup)
    measure = f"trivial function, 10 params + 5 metrics, N={settings.runs} after {settings.run_warmup} warm-up"
    rows = [
        Comparison(
            "runs.median",
            "Per-run overhead",
            f"{measure}, median",
            "ms/run",
            ops["median_ms"],
            mlf["median_ms"],
        ),
        Comparison(
            "runs.mean",
            "Per-run overhead",
            f"{measure}, mean",
            "ms/run",
            ops["mean_ms"],
            mlf["mean_ms"],
        ),
    ]
    return rows, {"opskit": ops, "mlflow": mlf}


def _metrics(settings: Settings) -> tuple[list[Comparison], dict[str, Any]]:
    ops = run_worker("tracking", "opskit-metrics", n=settings.metric_calls)
    loop = run_worker("tracking", "mlflow-metric-loop", n=settings.mlflow_metric_calls)
    batch = run_worker(
        "tracking", "mlflow-log-batch", n=settings.metric_calls, batch=settings.batch_size
    )
    rows = [
        Comparison(
            "metrics.vs_loop",
            "Metric logging",
            f"`log_metric` loop: opskit {ops['calls']:,} calls vs MLflow {loop['calls']:,} calls, incl. run end",
            "calls/s",
            ops["calls_per_s"],
            loop["calls_per_s"],
            higher_is_better=True,
        ),
        Comparison(
            "metrics.vs_batch",
            "Metric logging",
            f"opskit `log_metric` loop vs MLflow `log_batch` ({batch['calls']:,} metrics, chunks of {batch['batch']:,}), incl. run end",
            "metrics/s",
            ops["calls_per_s"],
            batch["calls_per_s"],
            higher_is_better=True,
        ),
    ]
    return rows, {"opskit": ops, "mlflow_loop": loop, "mlflow_log_batch": batch}


BENCHMARKS = [
    Benchmark(
        name="runs",
        title="Per-run overhead",
        run=_per_run,
        goals=(Goal("runs.median", 10.0, "per-run overhead ≥ 10× lower than MLflow (median)"),),
    ),
    Benchmark(
        name="metrics",
        title="Metric logging",
        run=_metrics,
        goals=(
            Goal("metrics.vs_loop", 100.0, "`log_metric` loop ≥ 100× MLflow's `log_metric` loop"),
            Goal(
                "metrics.vs_batch",
                1.0,
                "`log_metric` loop faster than MLflow's `log_batch`",
                strict=True,
            ),
        ),
    ),
]


if __name__ == "__main__":
    worker_main(CASES)
