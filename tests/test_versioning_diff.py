"""``opskit.diff`` / ``opskit runs diff``: params, metrics, code, data and environment, on both trackers."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main
from opskit.data.diff import changed_values, diff_packages, diff_runs
from opskit.errors import InvalidValue, RunNotFound
from opskit.records import CodeInfo, ColumnSpec, DataInput, EnvInfo, Metric, Run, Schema
from opskit.runtime import get_tracker

pytestmark = pytest.mark.trackers("local", "mlflow")

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("OPSKIT_UPDATE_GOLDEN") == "1"

SOURCE_A = """def train(df, *, alpha=0.1, layers=2):
    model = fit(df, alpha=alpha)
    return model
"""
SOURCE_B = """def train(df, *, alpha=0.1, layers=2, seed=0):
    model = fit(df, alpha=alpha, seed=seed)
    opskit.log_metric("f1", score(model))
    return model
"""


def _schema(*columns: tuple[str, str]) -> Schema:
    return Schema([ColumnSpec(name, kind) for name, kind in columns])


def _digest(char: str) -> str:
    return "xxh3_128:" + char * 32


def _make_run(
    *,
    name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    code: CodeInfo,
    env: EnvInfo,
    inputs: list[DataInput],
    started_at: float,
) -> str:
    """Write a run through the active tracker as a run of another process or machine would arrive."""
    tracker = get_tracker()
    run_id = uuid.uuid4().hex
    tracker.create_run(
        Run(
            id=run_id,
            name=name,
            status="RUNNING",
            experiment="golden",
            started_at=started_at,
            params=params,
            code=code,
            env=env,
            inputs=inputs,
        )
    )
    tracker.log_metrics(run_id, [Metric(k, v, 0, started_at) for k, v in metrics.items()])
    tracker.end_run(run_id, status="FINISHED", ended_at=started_at + 5)
    return run_id


def _snapshot(name: str, frame: pd.DataFrame) -> DataInput:
    """A data input linked to a dataset version, as ``data="snapshot"`` records it."""
    version = opskit.log_data(name, frame)
    return DataInput(
        name,
        version.kind,
        version.digest,
        shape=version.shape,
        schema=version.schema,
        size_bytes=version.size_bytes,
        dataset=version.ref,
    )


CUSTOMERS_A = pd.DataFrame(
    {
        "age": [31, 45, 27, 60],
        "plan": ["basic", "pro", "basic", "pro"],
        "spend": [10.0, 25.5, 8.0, 40.0],
    }
)
CUSTOMERS_B = pd.DataFrame(
    {
        "age": [31.0, 46.0, 27.0, 60.0],
        "plan": ["basic", "pro", "pro", "pro"],
        "spend": [10.0, 25.5, 8.0, 41.0],
        "region": pd.Categorical(["n", "s", "n", "e"]),
    }
)


def _two_runs() -> tuple[str, str]:
    """Two runs that differ in every section: params, metrics, code, data, environment."""
    now = time.time()
    customers_a = _snapshot("customers", CUSTOMERS_A)
    customers_b = _snapshot("customers", CUSTOMERS_B)
    a = _make_run(
        name="baseline",
        params={"alpha": 0.1, "layers": 2, "optimizer": "adam"},
        metrics={"accuracy": 0.81, "loss": 0.52, "auc": 0.9},
        code=CodeInfo(
            function="train",
            module="pipeline",
            source=SOURCE_A,
            source_file="/project/pipeline.py",
            file_digest="sha256:" + "1" * 64,
            git_commit="1111111111111111111111111111111111111111",
            git_dirty=False,
        ),
        env=EnvInfo(
            "3.11.7",
            "cpython",
            "Linux-6.1-x86_64",
            {"numpy": "1.26.4", "pandas": "2.2.1", "scikit-learn": "1.4.0", "tqdm": "4.66.0"},
        ),
        inputs=[
            customers_a,
            DataInput(
                "events",
                "dataframe",
                _digest("a"),
                shape=(1000, 4),
                schema=_schema(
                    ("age", "int64"), ("plan", "object"), ("spend", "float64"), ("churned", "bool")
                ),
            ),
            DataInput("labels", "ndarray", _digest("b"), shape=(1000,)),
            DataInput("holdout", "dataframe", _digest("c"), shape=(200, 4)),
        ],
        started_at=now,
    )
    b = _make_run(
        name="candidate",
        params={"alpha": 0.5, "layers": 2, "seed": 7},
        metrics={"accuracy": 0.84, "loss": 0.52, "f1": 0.77},
        code=CodeInfo(
            function="train",
            module="pipeline",
            source=SOURCE_B,
            source_file="/project/pipeline.py",
            file_digest="sha256:" + "2" * 64,
            git_commit="2222222222222222222222222222222222222222",
            git_dirty=True,
            git_diff="diff --git a/pipeline.py b/pipeline.py\n+seed\n",
        ),
        env=EnvInfo(
            "3.12.2",
            "cpython",
            "Linux-6.5-x86_64",
            {"numpy": "2.0.0", "pandas": "2.2.1", "scikit-learn": "1.3.2", "pyarrow": "15.0.0"},
        ),
        inputs=[
            customers_b,
            DataInput(
                "events",
                "dataframe",
                _digest("d"),
                shape=(1200, 4),
                schema=_schema(
                    ("spend", "float64"),
                    ("age", "float64"),
                    ("churned", "bool"),
                    ("region", "category"),
                ),
            ),
            DataInput("labels", "ndarray", _digest("b"), shape=(1000,)),
            DataInput("extra", "series", _digest("e"), shape=(50,)),
        ],
        started_at=now + 10,
    )
    return a, b


def _normalise(text: str, a: str, b: str) -> str:
    """Run ids become <RUN_A>/<RUN_B>: everything else in the runs is fixed by the test."""
    return text.replace(a, "<RUN_A>").replace(b, "<RUN_B>")


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with OPSKIT_UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8")


def test_runs_diff_golden_text(tracker: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit runs diff A B` prints exactly the checked-in report for two runs differing in every section."""
    a, b = _two_runs()
    assert main(["runs", "diff", a, b]) == 0
    _check_golden("runs_diff.txt", _normalise(capsys.readouterr().out, a, b))


def test_runs_diff_golden_json(tracker: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit runs diff A B --json` prints exactly the checked-in JSON (stable keys and order)."""
    a, b = _two_runs()
    assert main(["runs", "diff", a[:10], b[:10], "--json"]) == 0
    out = _normalise(capsys.readouterr().out, a, b)
    json.loads(out)
    _check_golden("runs_diff.json", out)


def test_diff_sections_of_two_runs(tracker: str) -> None:
    """Each section says what changed: added/removed/changed params, deltas, sources, data, packages."""
    a, b = _two_runs()
    d = opskit.diff(a, b)
    assert dict(d.params_added) == {"seed": 7}
    assert dict(d.params_removed) == {"optimizer": "adam"}
    assert [(c.key, c.before, c.after) for c in d.params_changed] == [("alpha", 0.1, 0.5)]
    metrics = {m.key: m for m in d.metrics}
    assert metrics["accuracy"].delta == pytest.approx(0.03)
    assert not metrics["loss"].changed and metrics["f1"].before is None
    assert metrics["auc"].after is None
    assert d.code is not None and d.code.changed
    assert '+    opskit.log_metric("f1", score(model))' in d.code.source_diff
    assert (d.code.dirty_before, d.code.dirty_after) == (False, True)
    data = {x.name: x for x in d.data}
    assert {k: v.status for k, v in data.items()} == {
        "customers": "changed",
        "events": "changed",
        "labels": "same",
        "holdout": "removed",
        "extra": "added",
    }
    events = data["events"]
    assert (events.rows_before, events.rows_after) == (1000, 1200)
    assert events.columns_added == ("region",) and events.columns_removed == ("plan",)
    assert [(c.name, c.before, c.after) for c in events.columns_retyped] == [
        ("age", "int64", "float64")
    ]
    assert events.columns_reordered and events.changed_values is None
    customers = data["customers"]
    assert (customers.dataset_before, customers.dataset_after) == ("customers:1", "customers:2")
    assert customers.columns_added == ("region",) and not customers.columns_removed
    assert [c.name for c in customers.columns_retyped] == ["age"]
    assert dict(customers.changed_values or {}) == {"age": 1, "plan": 1, "spend": 1}
    assert d.env is not None
    kinds = {p.name: p.kind for p in d.env.packages}
    assert kinds == {
        "numpy": "upgraded",
        "scikit-learn": "downgraded",
        "tqdm": "removed",
        "pyarrow": "added",
    }
    assert (d.env.python_before, d.env.python_after) == ("3.11.7", "3.12.2")
    assert not d.identical


def test_a_run_diffed_with_itself_is_identical(tracker: str) -> None:
    """Diffing a run with itself reports no difference in any section."""
    a, _ = _two_runs()
    d = opskit.diff(a, a)
    assert d.identical
    assert "(no differences)" in str(d) and "source:   same" in str(d)


def test_diff_of_real_decorated_runs(tracker: str) -> None:
    """Two calls of a decorated function differ in the param, the metric and the data they were given."""

    @opskit.track
    def fit(df: pd.DataFrame, *, alpha: float = 0.1) -> None:
        opskit.log_metric("rows", float(len(df)))

    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]})
    fit(df, alpha=0.1)
    first = opskit.last_run()
    fit(df.assign(z="a"), alpha=0.2)
    second = opskit.last_run()
    assert first is not None and second is not None
    d = opskit.diff(first, second)
    assert [(c.key, c.before, c.after) for c in d.params_changed] == [("alpha", 0.1, 0.2)]
    (data,) = d.data
    assert data.status == "changed" and data.columns_added == ("z",)
    assert d.code is not None and not d.code.source_diff and d.env is not None
    assert not d.env.packages  # the same process: the same environment
    again = opskit.diff(first.id, first.id)
    assert again.identical


def test_diff_of_snapshot_runs_counts_changed_values(tracker: str) -> None:
    """Two runs with data="snapshot": the diff loads both dataset versions and counts changed cells per column."""

    @opskit.track(data="snapshot")
    def fit(df: pd.DataFrame, *, alpha: float = 0.1) -> None:
        pass

    fit(CUSTOMERS_A)
    first = opskit.last_run()
    fit(CUSTOMERS_A.assign(spend=[10.0, 25.5, 9.0, 41.0]))
    second = opskit.last_run()
    assert first is not None and second is not None
    (data,) = opskit.diff(first, second).data
    assert data.status == "changed" and data.dataset_before and data.dataset_after
    assert dict(data.changed_values or {}) == {"age": 0, "plan": 0, "spend": 2}
    assert "changed values:  spend=2" in str(opskit.diff(first, second))


def test_diff_refuses_unknown_runs_and_non_runs(tracker: str) -> None:
    """An unknown run id raises RunNotFound; something that is not a run raises InvalidValue."""
    a, _ = _two_runs()
    with pytest.raises(RunNotFound):
        opskit.diff(a, uuid.uuid4().hex)
    with pytest.raises(InvalidValue, match="two runs"):
        opskit.diff(a, 42)  # type: ignore[arg-type]


def test_cli_diff_of_an_unknown_run_is_a_clear_error(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit runs diff` with a prefix that matches no run exits 2 naming the prefix."""
    a, _ = _two_runs()
    assert main(["runs", "diff", a, "ffffffffff"]) == 2
    assert "'ffffffffff'" in capsys.readouterr().err


# -- pieces without a tracker --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("1.0", "1.1", "upgraded"),
        ("2.0.0", "1.9.9", "downgraded"),
        ("1.0rc1", "1.0", "upgraded"),
        ("1.0", "1.0.post1", "upgraded"),
        ("weird", "other", "changed"),
    ],
)
def test_package_changes_follow_version_order(before: str, after: str, kind: str) -> None:
    """Versions compare by PEP 440 order (rc < final < post); unreadable ones are just 'changed'."""
    (change,) = diff_packages({"Pkg_Name": before}, {"pkg-name": after})
    assert change.kind == kind and change.name == "pkg-name"


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(["1.0", "1.1", "2.0"])),
    st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(["1.0", "1.1", "2.0"])),
)
def test_package_diff_accounts_for_every_name(
    before: dict[str, str], after: dict[str, str]
) -> None:
    """Every package whose presence or version differs appears once, with the right kind; equal ones never."""
    changes = {p.name: p for p in diff_packages(before, after)}
    expected = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert set(changes) == expected
    for name, change in changes.items():
        assert (change.before, change.after) == (before.get(name), after.get(name))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=1, max_size=30),
    st.data(),
)
def test_changed_values_counts_each_differing_cell(
    values: list[int | None], data: st.DataObject
) -> None:
    """Per column, the count of positions whose value differs (missing equals missing), for every dtype family."""
    other = [data.draw(st.one_of(st.none(), st.integers(-3, 3))) for _ in values]
    expected = sum(1 for x, y in zip(values, other, strict=True) if x != y)
    frames = []
    for column in (values, other):
        frames.append(
            pd.DataFrame(
                {
                    "nullable": pd.array(column, dtype="Int64"),
                    "text": pd.array(
                        [None if v is None else f"s{v}" for v in column], dtype="string"
                    ),
                    "cat": pd.Categorical([None if v is None else f"c{v}" for v in column]),
                    "when": pd.to_datetime(
                        [None if v is None else 1_700_000_000 + v for v in column],
                        unit="s",
                        utc=True,
                    ),
                    "float": [float("nan") if v is None else v / 2 for v in column],
                }
            )
        )
    counts = changed_values(frames[0], frames[1])
    assert counts == dict.fromkeys(("nullable", "text", "cat", "when", "float"), expected)


def test_changed_values_needs_two_tables_of_equal_length() -> None:
    """Row counts that differ (or a non-table) give None rather than a guess."""
    a = pd.DataFrame({"x": [1, 2]})
    assert changed_values(a, pd.DataFrame({"x": [1, 2, 3]})) is None
    assert changed_values(a, [1, 2]) is None


def test_diff_of_records_reports_missing_capture() -> None:
    """A run without captured source or environment is said so, not shown as 'same'."""
    base = Run("a" * 32, "a", "FINISHED", "e", 0.0, code=CodeInfo(function="f", source="x = 1\n"))
    other = Run(
        "b" * 32,
        "b",
        "FINISHED",
        "e",
        0.0,
        code=CodeInfo(function="f"),
        env=EnvInfo("3.12", "cpython", "Linux"),
    )
    d = diff_runs(base, other)
    assert (
        d.code is not None
        and d.code.note is not None
        and "run b has no captured source" in d.code.note
    )
    assert d.env is not None and d.env.note == "run a has no captured environment"
    assert not d.identical


def test_changed_values_of_series_and_arrays() -> None:
    """Series compare as one column; arrays of one shape element by element (NaN equals NaN); others give None."""
    import numpy as np

    a = pd.Series([1.0, float("nan"), 3.0], name="score")
    assert changed_values(a, pd.Series([1.0, float("nan"), 4.0], name="score")) == {"score": 1}
    x = np.array([[1.0, np.nan], [3.0, 4.0]])
    assert changed_values(x, np.array([[1.0, np.nan], [0.0, 0.0]])) == {"values": 2}
    assert changed_values(x, np.zeros(3)) is None
    duplicated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    assert changed_values(duplicated, duplicated) is None
