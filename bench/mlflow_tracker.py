"""Per-run cost of an opskit-tracked function on the MLflow tracker vs the same logging written with MLflow.

Both sides talk to one real ``mlflow server`` (sqlite backend store) on
127.0.0.1. Each run logs the same params and ``STEPS`` steps of two metrics;
the "model" case also logs and registers a scikit-learn model. Prints one JSON
dict: median seconds per run for each side and ``ratio`` = opskit / MLflow
(below 1.0 means opskit is faster; the goal is below 1.10). MLflow is measured
as usually written (``log_metrics`` per step) and, for the tracking case, also
with every point sent in one ``log_batch`` (``ratio_vs_batched``), the best
hand-written MLflow can do. opskit also captures code, environment and data
fingerprints and uploads the code snapshot, which the MLflow side does not.

    python bench/mlflow_tracker.py [--runs 15] [--steps 100]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"mlflow server did not start; see {folder / 'server.log'}")


def _median(fn: Callable[[int], Any], runs: int) -> float:
    fn(-1)  # warm up: imports, experiment creation, connection pool
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    folder = Path(tempfile.mkdtemp(prefix="opskit-bench-mlflow."))
    process, url = _start_server(folder)
    try:
        os.environ["MLFLOW_TRACKING_URI"] = url
        os.environ["OPSKIT_TRACKER"] = "mlflow"
        os.environ["OPSKIT_HOME"] = str(folder / "opskit")
        import mlflow
        import mlflow.sklearn
        from sklearn.datasets import load_wine
        from sklearn.linear_model import LogisticRegression

        import opskit

        X, y = load_wine(return_X_y=True, as_frame=True)
        fitted = LogisticRegression(max_iter=200).fit(X, y)
        requirements = [
            f"scikit-learn=={__import__('sklearn').__version__}",
            f"mlflow=={mlflow.__version__}",
        ]
        steps = args.steps

        def by_hand(i: int, *, model: bool) -> None:
            mlflow.set_experiment("bench-mlflow-model" if model else "bench-mlflow")
            with mlflow.start_run():
                mlflow.log_params({"alpha": 0.5, "l1_ratio": 0.1, "seed": i})
                for step in range(steps):
                    mlflow.log_metrics({"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)
                if model:
                    mlflow.sklearn.log_model(
                        fitted,
                        name="model",
                        registered_model_name="bench-mlflow",
                        pip_requirements=requirements,
                        serialization_format="cloudpickle",
                    )

        def by_hand_batched(i: int) -> None:
            # The best hand-written MLflow can do: every point in one log_batch at the end.
            from mlflow.entities import Metric

            mlflow.set_experiment("bench-mlflow-batched")
            with mlflow.start_run() as run:
                now = int(time.time() * 1000)
                points = [
                    Metric(k, v, now, step)
                    for step in range(steps)
                    for k, v in (("loss", 1.0 / (step + 1)), ("acc", step / steps))
                ]
                mlflow.log_params({"alpha": 0.5, "l1_ratio": 0.1, "seed": i})
                client = mlflow.MlflowClient()
                for start in range(0, len(points), 1000):
                    client.log_batch(run.info.run_id, metrics=points[start : start + 1000])

        @opskit.track(experiment="bench-opskit")
        def tracked(alpha: float = 0.5, l1_ratio: float = 0.1, seed: int = 0) -> None:
            for step in range(steps):
                opskit.log_metrics({"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)

        @opskit.train(model="bench-opskit")
        def trained(alpha: float = 0.5, l1_ratio: float = 0.1, seed: int = 0) -> object:
            for step in range(steps):
                opskit.log_metrics({"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)
            return fitted

        result: dict[str, Any] = {
            "runs": args.runs,
            "steps": steps,
            "backend": "mlflow server, sqlite store",
        }
        for case, opskit_fn, model in (("track", tracked, False), ("model", trained, True)):
            mlflow_s = _median(lambda i, model=model: by_hand(i, model=model), args.runs)  # type: ignore[misc]
            opskit_s = _median(lambda i, fn=opskit_fn: fn(seed=i), args.runs)  # type: ignore[misc]
            result[case] = {
                "mlflow_s": round(mlflow_s, 4),
                "opskit_s": round(opskit_s, 4),
                "ratio": round(opskit_s / mlflow_s, 3),
            }
        batched_s = _median(by_hand_batched, args.runs)
        result["track"]["mlflow_batched_s"] = round(batched_s, 4)
        result["track"]["ratio_vs_batched"] = round(result["track"]["opskit_s"] / batched_s, 3)
        print(json.dumps(result))
        return result
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
