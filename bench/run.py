"""Benchmark opskit side by side with MLflow: ``python bench/run.py`` (``nox -s bench``).

Prints a Markdown table of ratios and writes ``bench/results/latest.json``.
Every measurement runs in its own process and temporary directory.

Adding a benchmark: write a module in ``bench/`` with a ``BENCHMARKS`` list of
``harness.Benchmark`` (a function ``Settings -> (rows, details)`` plus goals),
and add the module's name to ``MODULES`` below.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import (
    BENCH_DIR,
    REPO_ROOT,
    Benchmark,
    BenchmarkError,
    Comparison,
    Settings,
    use_bytecode_cache,
)
from report import goals_table, results_table, write_json

#: Modules whose ``BENCHMARKS`` run, in this order.
MODULES: tuple[str, ...] = ("startup", "tracking")
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.json"


def discover(modules: Sequence[str] = MODULES) -> list[Benchmark]:
    found: list[Benchmark] = []
    for name in modules:
        found.extend(importlib.import_module(name).BENCHMARKS)
    return found


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "opskit": _version("opskit"),
        "mlflow": _version("mlflow"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def parse_args(argv: Sequence[str] | None, names: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: a smoke test of the bench itself, not results",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated benchmarks to run (of: {', '.join(names)})"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results"
    )
    args = parser.parse_args(argv)
    unknown = {n for n in args.only.split(",") if n} - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(names)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    benchmarks = discover()
    args = parse_args(argv, [b.name for b in benchmarks])
    if args.only:
        chosen = set(args.only.split(","))
        benchmarks = [b for b in benchmarks if b.name in chosen]
    settings = Settings.quick() if args.quick else Settings()
    info = machine()
    print(
        f"opskit {info['opskit']} vs MLflow {info['mlflow']} — Python {info['python']}, "
        f"{info['usable_cpus']} CPUs, {info['platform']}" + (" — QUICK MODE" if args.quick else ""),
        flush=True,
    )

    rows: list[Comparison] = []
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="opskit-bench-pycache-") as cache:
        use_bytecode_cache(
            Path(cache)
        )  # one byte-code cache for the session, outside venv and sources
        try:
            for bench in benchmarks:
                print(f"… {bench.title}", end="", flush=True)
                t0 = time.perf_counter()
                try:
                    new_rows, details[bench.name] = bench.run(settings)
                except BenchmarkError as exc:
                    errors[bench.name] = str(exc)
                    print(f" FAILED\n{exc}", file=sys.stderr, flush=True)
                    continue
                rows.extend(new_rows)
                print(f" {time.perf_counter() - t0:.1f} s", flush=True)
        finally:
            use_bytecode_cache(None)
    elapsed = time.perf_counter() - started

    by_key = {row.key: row for row in rows}
    goals = [goal for bench in benchmarks for goal in bench.goals]
    warnings = [
        f"{name}/{part}: {value['check']}"
        for name, parts in details.items()
        for part, value in parts.items()
        if isinstance(value, dict) and value.get("check", "ok") != "ok"
    ]
    print()
    print(results_table(rows))
    print()
    if goals:
        print(goals_table(goals, by_key))
    for warning in warnings:
        print(f"\nWARNING (data read back): {warning}")
    print(f"\nTotal bench time {elapsed:.1f} s. Results: {args.output}")

    write_json(
        args.output,
        {
            "machine": info,
            "quick": args.quick,
            "settings": asdict(settings),
            "elapsed_s": elapsed,
            "rows": [row.as_dict() for row in rows],
            "goals": [
                {
                    "description": g.description,
                    "row": g.row,
                    "min_speedup": g.min_speedup,
                    "strict": g.strict,
                    "met": g.met(by_key),
                }
                for g in goals
            ],
            "details": details,
            "warnings": warnings,
            "errors": errors,
        },
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
