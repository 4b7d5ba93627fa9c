"""The cost of capturing the function by value (issue 11, ``opskit reproduce``), per run and once.

``python bench/reproduce.py [--runs 200] [--warmup 5] [--functions 50]`` prints one JSON object.
Every case runs in its own fresh process and temporary store (``harness.run_worker``):

* ``runs-capture``: the spine benchmark of ``tracking.py`` (``@opskit.track`` around a trivial
  function with 10 params and 5 metrics), as shipped: the function is captured once per
  process, each run only links the two cached artifacts;
* ``runs-no-capture``: the same with the capture switched off (``capture_function`` replaced
  by a no-op in the worker): the baseline the per-run cost is measured against;
* ``first-capture``: the one-time cost for a new function (cloudpickle by value + two blob
  writes), over ``--functions`` distinct functions;
* ``reproduce``: ``opskit.reproduce`` of a trivial run, in-process (load the pickle, re-run,
  compare), median over ``--functions`` reproductions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from harness import run_worker, summarize, worker_main


def runs_capture(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from tracking import opskit_runs

    return opskit_runs(args, tmp)


def runs_no_capture(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from tracking import opskit_runs

    import opskit.capture.function as capture

    capture.capture_function = lambda fn, definition, source_file: None  # type: ignore[assignment,misc,return-value]
    return opskit_runs(args, tmp)


def _make(i: int) -> Any:
    import opskit

    @opskit.track(name=f"f{i}")
    def step(*, x: int = 1, lr: float = 0.1) -> float:
        value = x * lr + i
        opskit.log_metric("value", value)
        return value

    return step


def first_capture(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import opskit
    from opskit.capture.function import capture_function

    opskit.configure(home=str(tmp / ".opskit"))
    _make(-1)(x=1)  # warm: store, imports, cloudpickle
    durations = []
    for i in range(args.n):
        fn = _make(i)
        definition = fn.__opskit_definition__
        start = time.perf_counter()
        capture_function(definition.fn, definition, None)
        durations.append(time.perf_counter() - start)
    return {"case": "first-capture", **summarize(durations)}


def reproduce(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import opskit

    opskit.configure(home=str(tmp / ".opskit"))
    step = _make(0)
    step(x=3)
    run_id = opskit.last_run().id  # type: ignore[union-attr]
    opskit.reproduce(run_id)  # warm
    durations = []
    matched = True
    for _ in range(args.n):
        start = time.perf_counter()
        result = opskit.reproduce(run_id)
        durations.append(time.perf_counter() - start)
        matched = matched and result.matched
    return {"case": "reproduce", **summarize(durations), "check": "ok" if matched else "MISMATCH"}


CASES = {
    "runs-capture": runs_capture,
    "runs-no-capture": runs_no_capture,
    "first-capture": first_capture,
    "reproduce": reproduce,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--functions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="per-run cases: best median of N")
    opts = parser.parse_args()
    with_capture = [
        run_worker("reproduce", "runs-capture", n=opts.runs, warmup=opts.warmup)
        for _ in range(opts.repeat)
    ]
    without = [
        run_worker("reproduce", "runs-no-capture", n=opts.runs, warmup=opts.warmup)
        for _ in range(opts.repeat)
    ]
    first = run_worker("reproduce", "first-capture", n=opts.functions)
    again = run_worker("reproduce", "reproduce", n=opts.functions)
    best_with = min(r["median_ms"] for r in with_capture)
    best_without = min(r["median_ms"] for r in without)
    print(
        json.dumps(
            {
                "per_run_median_ms_with_capture": best_with,
                "per_run_median_ms_without_capture": best_without,
                "per_run_capture_cost_ms": best_with - best_without,
                "first_capture_median_ms": first["median_ms"],
                "reproduce_median_ms": again["median_ms"],
                "details": {
                    "with": with_capture,
                    "without": without,
                    "first": first,
                    "reproduce": again,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in CASES:
        worker_main(CASES)
    else:
        main()
