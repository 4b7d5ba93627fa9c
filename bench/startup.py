"""Start-up cost: cold ``import``, and import + first tracked run, each in a fresh interpreter.

The timed code runs inside the child between two ``time.perf_counter`` calls
(nothing but the built-in ``sys`` and ``time`` is imported first); the parent
also times the whole child process (interpreter start-up + work + exit). Runs
alternate between the libraries so drift on the machine affects both alike.
One untimed import of each library comes first, so the byte-code cache is
written before timing (see ``harness.use_bytecode_cache``).

Extra rows:

- import with no byte-code cache at all (an empty ``PYTHONPYCACHEPREFIX`` and
  ``PYTHONDONTWRITEBYTECODE=1``): what a container or CI job that never
  compiles byte-code pays on every start;
- import + first run into a fresh store: ``import opskit`` is lazy, so its
  first run pays for what the import deferred (and both libraries create
  their database). This is the "time to first tracked run" of a new script.
"""

from __future__ import annotations

import statistics
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import RESULT_MARKER, Benchmark, Comparison, Settings, parse_result, run_python

__all__ = ["BENCHMARKS", "FIRST_RUN", "time_snippet"]

_TIMER = """\
import sys, time
_before = len(sys.modules)
_t0 = time.perf_counter()
{body}
_elapsed = time.perf_counter() - _t0
print({marker!r} + '{{"seconds": %r, "modules": %d}}' % (_elapsed, len(sys.modules) - _before))
"""

#: The timed body of "import + first run" per library: 10 params, 5 metrics, store in the working directory.
FIRST_RUN: dict[str, str] = {
    "opskit": """
        import opskit
        @opskit.track
        def trivial(p0=0, p1=0.1, p2="adam", p3=True, p4=32, p5=0.001, p6="relu", p7=0.9, p8="l2", p9=7):
            opskit.log_metrics({"loss": 1.0, "acc": 0.5, "f1": 0.4, "auc": 0.7, "rmse": 2.0})
        trivial()
    """,
    "mlflow": """
        import mlflow
        mlflow.set_tracking_uri("sqlite:///mlflow.db")
        with mlflow.start_run():
            mlflow.log_params({"p0": 0, "p1": 0.1, "p2": "adam", "p3": True, "p4": 32,
                               "p5": 0.001, "p6": "relu", "p7": 0.9, "p8": "l2", "p9": 7})
            mlflow.log_metrics({"loss": 1.0, "acc": 0.5, "f1": 0.4, "auc": 0.7, "rmse": 2.0})
    """,
}

LIBRARIES = ("opskit", "mlflow")
Samples = dict[str, list[dict[str, float]]]


def time_snippet(body: str, *, bytecode: bool = True) -> dict[str, float]:
    """Run *body* in a fresh interpreter in a fresh temporary directory: in-process and wall seconds.

    With ``bytecode=False`` the child neither reads nor writes byte-code: every module is compiled.
    """
    code = _TIMER.format(body=textwrap.dedent(body).strip(), marker=RESULT_MARKER)
    with tempfile.TemporaryDirectory(prefix="opskit-bench-startup-") as tmp:
        extra = (
            None
            if bytecode
            else {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(Path(tmp) / "none")}
        )
        stdout, wall = run_python(["-c", code], tmp=Path(tmp), extra_env=extra)
    result = parse_result(stdout)
    return {
        "seconds": float(result["seconds"]),
        "wall_s": wall,
        "modules": float(result["modules"]),
    }


def _alternating(repeats: int, sample: Callable[[str], dict[str, float]]) -> Samples:
    samples: Samples = {lib: [] for lib in LIBRARIES}
    for _ in range(repeats):
        for lib in LIBRARIES:
            samples[lib].append(sample(lib))
    return samples


def _median_ms(samples: Samples, lib: str, what: str = "seconds") -> float:
    return statistics.median(s[what] for s in samples[lib]) * 1000.0


def _cold_import(settings: Settings) -> tuple[list[Comparison], dict[str, Any]]:
    for lib in LIBRARIES:  # write the byte-code cache; not timed
        time_snippet(f"import {lib}")
    n = settings.import_repeats
    bare = [time_snippet("pass")["wall_s"] for _ in range(n)]
    cached = _alternating(n, lambda lib: time_snippet(f"import {lib}"))
    compiled = _alternating(n, lambda lib: time_snippet(f"import {lib}", bytecode=False))
    rows = [
        Comparison(
            "import.in_process",
            "Cold import",
            f"`import` inside a fresh interpreter, median of {n}",
            "ms",
            _median_ms(cached, "opskit"),
            _median_ms(cached, "mlflow"),
        ),
        Comparison(
            "import.wall",
            "Cold import",
            f'`python -c "import …"` wall time, median of {n}',
            "ms",
            _median_ms(cached, "opskit", "wall_s"),
            _median_ms(cached, "mlflow", "wall_s"),
            note=f"bare interpreter: {statistics.median(bare) * 1000.0:.0f} ms",
        ),
        Comparison(
            "import.no_bytecode",
            "Cold import",
            f"`import` with no byte-code cache (every module compiled), median of {n}",
            "ms",
            _median_ms(compiled, "opskit"),
            _median_ms(compiled, "mlflow"),
        ),
    ]
    details = {
        "samples": cached,
        "samples_no_bytecode": compiled,
        "bare_interpreter_wall_ms": [b * 1000.0 for b in bare],
        "modules_imported": {lib: cached[lib][0]["modules"] for lib in LIBRARIES},
    }
    return rows, details


def _first_run(settings: Settings) -> tuple[list[Comparison], dict[str, Any]]:
    for lib in LIBRARIES:  # byte-code for everything the first run imports lazily; not timed
        time_snippet(FIRST_RUN[lib])
    n = settings.import_repeats
    samples = _alternating(n, lambda lib: time_snippet(FIRST_RUN[lib]))
    rows = [
        Comparison(
            "first_run.in_process",
            "Time to first run",
            f"import + first run (10 params, 5 metrics) into a fresh store, median of {n}",
            "ms",
            _median_ms(samples, "opskit"),
            _median_ms(samples, "mlflow"),
        ),
    ]
    details = {
        "samples": samples,
        "modules_imported": {lib: samples[lib][0]["modules"] for lib in LIBRARIES},
    }
    return rows, details


BENCHMARKS = [
    Benchmark(name="imports", title="Cold import", run=_cold_import),
    Benchmark(name="first-run", title="Import + first run", run=_first_run),
]
