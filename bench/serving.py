"""Model serving, side by side: opskit's local server vs ``mlflow models serve --env-manager local``.

Both serve the same scikit-learn model on 127.0.0.1 with the same number of
workers and are driven by the same bounded load client (a small keep-alive
HTTP/1.1 client on asyncio, so the client is not the bottleneck): a fixed
number of single-row requests at fixed concurrency, then a fixed number of
1,000-row batches. Prints one JSON document: req/s, p50/p99 latency, ratios.

    python bench/serving.py [--requests 2000] [--concurrency 8] [--batches 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PHASE_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy after {timeout}s")


async def _connection(
    port: int,
    path: str,
    bodies: list[bytes],
    jobs: Iterator[int],
    total: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
    try:
        while (i := next(jobs)) < total:
            body = bodies[i % len(bodies)]
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status = (await reader.readline()).split(b" ", 2)[1]
            length, chunked = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while (size := int((await reader.readline()).strip(), 16)) > 0:
                    await reader.readexactly(size + 2)
                await reader.readline()
            else:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != b"200":
                errors.append(status.decode())
    finally:
        writer.close()


def load(
    port: int, path: str, bodies: list[bytes], total: int, concurrency: int
) -> dict[str, float]:
    """Send exactly *total* requests over *concurrency* keep-alive connections; time-capped."""
    latencies: list[float] = []
    errors: list[str] = []
    jobs = count()

    async def run() -> float:
        started = time.perf_counter()
        tasks = [
            _connection(port, path, bodies, jobs, total, latencies, errors)
            for _ in range(concurrency)
        ]
        await asyncio.wait_for(asyncio.gather(*tasks), PHASE_TIMEOUT)
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 3),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def payload(frame: Any) -> bytes:
    split = json.loads(frame.to_json(orient="split", index=False))
    return json.dumps(
        {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
    ).encode()


def measure(port: int, X: Any, args: argparse.Namespace) -> dict[str, Any]:
    singles = [payload(X.iloc[[i]]) for i in range(len(X))]
    batches = [payload(X.sample(1000, replace=True, random_state=i)) for i in range(5)]
    load(port, "/invocations", singles, min(200, args.requests), args.concurrency)  # warm-up
    return {
        "single_row": load(port, "/invocations", singles, args.requests, args.concurrency),
        "batch_1000": load(port, "/invocations", batches, args.batches, args.concurrency),
    }


def check(port: int, X: Any, model: Any) -> None:
    frame = X.iloc[:20]
    request = urllib.request.Request(
        f"http://{HOST}:{port}/invocations",
        data=payload(frame),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        got = json.loads(r.read())["predictions"]
    if got != model.predict(frame).tolist():
        raise RuntimeError(f"server on {port} answered {got[:5]}..., not the model's predictions")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    tmp = Path(tempfile.mkdtemp(prefix="opskit-bench-serving-"))
    os.environ["OPSKIT_HOME"] = str(tmp / "opskit")

    import mlflow
    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    import opskit

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X, y)
    result: dict[str, Any] = {
        "model": "RandomForestClassifier(n_estimators=50, max_depth=8) on breast_cancer (30 float columns)",
        "workers": args.workers,
        "load": {
            "single_row_requests": args.requests,
            "batch_requests": args.batches,
            "batch_rows": 1000,
            "concurrency": args.concurrency,
        },
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # opskit: register through the decorator, deploy locally.
        opskit.train(model="bench", alias="production")(lambda X, y: model)(X, y)
        started = time.monotonic()
        dep = opskit.deploy("bench@production", workers=args.workers, log_sample=1.0)
        result["opskit_ready_s"] = round(time.monotonic() - started, 2)
        assert dep.url is not None and dep.pid is not None
        port = int(dep.url.rsplit(":", 1)[1])
        check(port, X, model)
        result["opskit"] = measure(port, X, args)
        opskit.deployments.stop(dep.name)

        # MLflow: the same model in a sqlite registry, served by `mlflow models serve`.
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        experiment = mlflow.create_experiment("bench", artifact_location=(tmp / "mlruns").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="cloudpickle",
                registered_model_name="bench",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                input_example=X.head(2),
            )
        port = free_port()
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        cmd = [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/bench/1",
            "--env-manager",
            "local",
            "-p",
            str(port),
            "-h",
            HOST,
            "-w",
            str(args.workers),
        ]
        log = open(tmp / "mlflow-serve.log", "wb")  # noqa: SIM115 - closed with the process below
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp
        )
        procs.append(proc)
        result["mlflow_ready_s"] = round(wait_healthy(f"http://{HOST}:{port}/ping", proc), 2)
        check(port, X, model)
        result["mlflow"] = measure(port, X, args)
        stop(proc)
        log.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
        with contextlib.suppress(opskit.OpskitError):
            opskit.deployments.stop("bench")
        shutil.rmtree(tmp, ignore_errors=True)
    o, m = result["opskit"], result["mlflow"]
    result["ratios"] = {
        "single_row_throughput_x": round(
            o["single_row"]["req_per_s"] / m["single_row"]["req_per_s"], 2
        ),
        "single_row_p99_opskit_over_mlflow": round(
            o["single_row"]["p99_ms"] / m["single_row"]["p99_ms"], 3
        ),
        "batch_1000_p50_opskit_over_mlflow": round(
            o["batch_1000"]["p50_ms"] / m["batch_1000"]["p50_ms"], 3
        ),
        "batch_1000_p99_opskit_over_mlflow": round(
            o["batch_1000"]["p99_ms"] / m["batch_1000"]["p99_ms"], 3
        ),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
