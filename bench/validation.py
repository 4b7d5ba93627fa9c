"""The cost of validation on a run, next to the training it guards and next to pandera alone.

``python bench/validation.py [--rows 100000] [--cols 20] [--repeat 3] [--trees 20]`` prints one
JSON object and a table of ratios. The data: ``--rows`` × ``--cols`` float columns (one with
a few missing values would fail ``not_null``: all are complete here, so every check passes and
runs to the end) plus a binary target; a held-out split a quarter of that size. Timed, in one
process, on the same frames (the best of ``--repeat``):

* ``fit_logreg`` / ``fit_forest``: ``LogisticRegression`` / ``RandomForestClassifier(--trees, timed once)``
  fitted on the training frame, without opskit: the training time validation guards;
* ``checks``: the data checks of a run, measured as ``@opskit.track(checks=[...])`` on a body
  that does nothing minus the same run without ``checks=`` (so fingerprinting the data and
  storing the run, which both pay, cancel out). The checks: ``not_null()``,
  ``between(col, lo, hi)`` on every column, ``row_count(min=...)``, and
  ``matches_schema("bench@production")`` (the stored signature of the incumbent);
* ``gates``: evaluation and gates of a ``@opskit.train`` run (``accuracy`` and ``roc_auc`` of the
  challenger *and* of the incumbent ``bench@production``, loaded from the store and re-scored
  on the same held-out data; ``at_least`` and ``beats``), measured as that run minus the same
  run without ``evaluate=`` / ``gates=`` (the logistic regression fit is in both);
* ``pandera``: the same column checks with pandera alone (``DataFrameSchema`` of
  ``Column(float, Check.in_range(lo, hi), nullable=False)`` per column, ``validate(lazy=True)``):
  what a user would otherwise write;
* ``python_rows``: the same range and null checks as a Python loop over the rows (what "row by
  row" costs; opskit's checks must be vectorised on column buffers).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

LO, HI = -50.0, 50.0


def make_data(rows: int, cols: int) -> tuple[Any, Any, Any, Any]:
    """A training and a held-out frame of float columns and a binary target a linear model can learn."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2026)
    test_rows = max(rows // 4, 100)
    n = rows + test_rows
    X = pd.DataFrame({f"x{i}": rng.normal(0.0, 1.0 + i / 10, size=n) for i in range(cols)})
    weights = rng.normal(size=cols)
    y = pd.Series(((X.to_numpy() @ weights) + rng.normal(scale=2.0, size=n) > 0).astype("int64"))
    return (
        X.iloc[:rows].reset_index(drop=True),
        y.iloc[:rows].reset_index(drop=True),
        X.iloc[rows:].reset_index(drop=True),
        y.iloc[rows:].reset_index(drop=True),
    )


def best(fn: Callable[[], Any], repeat: int, *, warmup: bool = True) -> float:
    """The best of *repeat* timed calls, after one untimed call (imports and caches warmed)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def python_rows(X: Any) -> bool:
    """The range and null checks, one row at a time (the baseline vectorised checks must beat)."""
    ok = True
    for row in X.itertuples(index=False):
        for value in row:
            if value != value or not LO <= value <= HI:  # NaN != NaN
                ok = False
    return ok


def pandera_schema(columns: list[str]) -> Any:
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {c: pa.Column(float, pa.Check.in_range(LO, HI), nullable=False) for c in columns}
    )


def measure(rows: int, cols: int, repeat: int, trees: int, folder: Path) -> dict[str, Any]:
    import os

    os.environ.setdefault("OPSKIT_HOME", str(folder / ".opskit"))
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import opskit
    from opskit import checks, gates

    X_train, y_train, X_test, y_test = make_data(rows, cols)
    columns = list(X_train.columns)

    def fit_logreg(X: Any = X_train, y: Any = y_train) -> Any:
        return LogisticRegression(max_iter=200).fit(X, y)

    # The incumbent: registered once, so `beats` and `matches_schema` have a version to read.
    @opskit.train(model="bench", alias="production")
    def incumbent(X_train: Any, y_train: Any) -> Any:
        return fit_logreg(X_train, y_train)

    incumbent(X_train, y_train)

    declared_checks = [
        checks.not_null(),
        *(checks.between(c, LO, HI) for c in columns),
        checks.row_count(min=1000),
        checks.matches_schema("bench@production"),
    ]

    @opskit.track(checks=declared_checks)
    def with_checks(X_train: Any) -> None:
        return None

    @opskit.track
    def without_checks(X_train: Any) -> None:
        return None

    @opskit.train(
        model="bench",
        alias="staging",
        evaluate=("X_test", "y_test"),
        metrics=["accuracy", "roc_auc"],
        gates=[gates.at_least("accuracy", 0.5), gates.beats("production", "roc_auc")],
    )
    def with_gates(X_train: Any, y_train: Any, X_test: Any, y_test: Any) -> Any:
        return fit_logreg(X_train, y_train)

    @opskit.train(model="bench", alias="staging")
    def without_gates(X_train: Any, y_train: Any, X_test: Any, y_test: Any) -> Any:
        return fit_logreg(X_train, y_train)

    schema = pandera_schema(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = {
            "fit_logreg": best(fit_logreg, repeat),
            "fit_forest": best(
                lambda: RandomForestClassifier(n_estimators=trees, random_state=0).fit(
                    X_train, y_train
                ),
                1,  # tens of seconds: once is enough to set the scale
                warmup=False,
            ),
            "run_with_checks": best(lambda: with_checks(X_train), repeat),
            "run_without_checks": best(lambda: without_checks(X_train), repeat),
            "run_with_gates": best(lambda: with_gates(X_train, y_train, X_test, y_test), repeat),
            "run_without_gates": best(
                lambda: without_gates(X_train, y_train, X_test, y_test), repeat
            ),
            "pandera": best(lambda: schema.validate(X_train, lazy=True), repeat),
            "python_rows": best(lambda: python_rows(X_train), 1),
        }
    with_gates(X_train, y_train, X_test, y_test)
    last = opskit.last_run()
    report = last.validation if last is not None else None
    times["checks"] = max(times["run_with_checks"] - times["run_without_checks"], 0.0)
    times["gates"] = max(times["run_with_gates"] - times["run_without_gates"], 0.0)
    times["validation"] = times["checks"] + times["gates"]
    return {
        "rows": rows,
        "test_rows": len(X_test),
        "cols": cols,
        "repeat": repeat,
        "trees": trees,
        "seconds": times,
        "report_status": report.status if report is not None else None,
        "report_results": len(report.results) if report is not None else None,
        "checks_declared": len(declared_checks),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def table(result: dict[str, Any]) -> str:
    s = result["seconds"]
    rows = [
        ("data checks (opskit, in a run)", s["checks"], None),
        ("same checks, pandera alone", s["pandera"], ratio(s["pandera"], s["checks"])),
        ("same checks, Python row loop", s["python_rows"], ratio(s["python_rows"], s["checks"])),
        ("evaluation + 2 gates (incumbent re-scored)", s["gates"], None),
        ("validation total (checks + gates)", s["validation"], None),
        ("LogisticRegression fit", s["fit_logreg"], ratio(s["validation"], s["fit_logreg"])),
        (
            f"RandomForest({result['trees']}) fit",
            s["fit_forest"],
            ratio(s["validation"], s["fit_forest"]),
        ),
    ]
    out = [
        f"validation on {result['rows']:,} × {result['cols']} (held-out {result['test_rows']:,} rows)",
        "| measure | seconds | ratio |",
        "|---|---:|---:|",
    ]
    notes = {
        1: "× opskit's checks",
        2: "× opskit's checks",
        5: "validation / fit",
        6: "validation / fit",
    }
    for i, (name, seconds, r) in enumerate(rows):
        cell = f"{r:.2f} ({notes[i]})" if r is not None else ""
        out.append(f"| {name} | {seconds:.4f} | {cell} |")
    return "\n".join(out)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opskit-bench-validation-") as tmp:
        result = measure(args.rows, args.cols, args.repeat, args.trees, Path(tmp))
    print(table(result))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
