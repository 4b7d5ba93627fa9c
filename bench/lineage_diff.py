"""Costs of issue 11's lineage, diff and requirements pieces: ``python bench/lineage_diff.py [--runs N]``.

Measured in one fresh process with a temporary local store:

- the per-run capture ``@opskit.track`` now does for ``opskit models requirements``
  (the imported top-level modules, as the ``opskit.imports`` tag): cached call,
  and a recomputation after something new was imported;
- ``opskit.lineage(data=DIGEST)`` over a store of N runs, a tenth of which used the
  data (the ``inputs.digest`` search), and ``opskit.lineage("model:1")``;
- ``opskit.diff(a, b)`` of two runs with a 1,000-package environment each;
- ``opskit.models.requirements(REF)`` (reads ``packages_distributions()`` once).

Prints a Markdown table; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OPSKIT_HOME"] = str(Path(tmp) / ".opskit")
        os.chdir(tmp)
        import numpy as np
        import pandas as pd

        import opskit
        import opskit.capture.requirements as req
        from opskit.records import EnvInfo, Run

        rows: list[tuple[str, str, float]] = []
        req.imports_tag()
        n = 100_000
        start = time.perf_counter()
        for _ in range(n):
            req.imports_tag()
        rows.append(
            ("imports tag, nothing new imported", "µs/run", (time.perf_counter() - start) / n * 1e6)
        )

        def recompute() -> None:
            req._last = None
            req.imports_tag()

        rows.append(
            (
                f"imports tag after a new import ({len(sys.modules)} modules)",
                "µs/run",
                _median_ms(recompute, 200) * 1000,
            )
        )

        shared = pd.DataFrame({"x": np.arange(1000.0), "y": np.arange(1000) % 2})
        other = shared.assign(x=shared.x + 1)

        @opskit.train(model="bench")
        def fit(df: pd.DataFrame, *, k: int = 0) -> dict[str, int]:
            return {"k": k}

        @opskit.track
        def use(df: pd.DataFrame, *, k: int = 0) -> None:
            pass

        start = time.perf_counter()
        fit(shared, k=0)
        for i in range(1, args.runs):
            use(shared if i % 10 == 0 else other, k=i)
        fill = time.perf_counter() - start
        run = opskit.last_run()
        assert run is not None
        digest = opskit.models.get_version("bench:1")
        shared_digest = opskit.get_run(digest.run_id or "").inputs[0].digest
        found = opskit.lineage(data=shared_digest, limit=args.runs)
        assert len(found.nodes("run")) == args.runs // 10, len(found.nodes("run"))
        rows.append(
            (
                f"lineage(data=digest): {args.runs} runs, {args.runs // 10} used it",
                "ms",
                _median_ms(lambda: opskit.lineage(data=shared_digest, limit=args.runs), 5),
            )
        )
        rows.append(("lineage('bench:1')", "ms", _median_ms(lambda: opskit.lineage("bench:1"), 20)))

        packages_a = {f"pkg{i}": f"1.{i % 7}.0" for i in range(1000)}
        packages_b = {f"pkg{i}": f"1.{(i * 3) % 7}.0" for i in range(50, 1050)}
        tracker = opskit.runtime.get_tracker()
        ids = []
        for packages in (packages_a, packages_b):
            run_id = os.urandom(16).hex()
            tracker.create_run(
                Run(
                    run_id,
                    "env",
                    "RUNNING",
                    "bench",
                    time.time(),
                    env=EnvInfo("3.12", "cpython", "Linux", packages),
                )
            )
            tracker.end_run(run_id, status="FINISHED", ended_at=time.time())
            ids.append(run_id)
        rows.append(
            (
                "diff of two runs, 1,000 packages each",
                "ms",
                _median_ms(lambda: opskit.diff(ids[0], ids[1]), 20),
            )
        )
        start = time.perf_counter()
        opskit.models.requirements("bench:1")
        rows.append(
            (
                "models.requirements, first call (packages_distributions)",
                "ms",
                (time.perf_counter() - start) * 1000,
            )
        )
        rows.append(
            (
                "models.requirements, later calls",
                "ms",
                _median_ms(lambda: opskit.models.requirements("bench:1"), 20),
            )
        )
        print(f"filled {args.runs} runs in {fill:.1f} s\n")
        print("| measure | unit | value |\n|---|---|--:|")
        for name, unit, value in rows:
            print(f"| {name} | {unit} | {value:,.3g} |")


if __name__ == "__main__":
    main()
