"""The MLflow tracker's Python re-check of filters means exactly what the local tracker's SQL means."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opskit.query import Clause, RunQuery, parse_filter
from opskit.records import Run
from opskit.tracker.sqlite import SQLiteTracker

search = pytest.importorskip(
    "opskit_mlflow.search", reason="the opskit-mlflow plugin is not installed"
)

numbers = st.integers(-5, 5) | st.sampled_from([0.5, -2.25, 3.0, 1.5])
# Values that once broke the local tracker's SQL (NaN, infinities: invalid JSON for SQLite) or
# that differ by spelling: very long and non-ASCII text, lists and dicts.
odd_numbers = st.sampled_from([math.nan, math.inf, -math.inf])
texts = st.sampled_from(
    ["a", "b", "tree", "Tree", "linear", "1", "0.5", "3", "NaN", "Infinity", "[1,2]", "[1, 2]"]
)
odd_texts = st.text(max_size=8) | st.sampled_from(["é" * 6000, "x" * 5999 + "é", "日本語", "ß%_"])
lists = st.lists(numbers | odd_numbers | texts, max_size=3) | st.dictionaries(
    st.sampled_from(["b", "a"]), numbers, max_size=2
)
param_values = numbers | odd_numbers | texts | odd_texts | lists | st.booleans() | st.none()
comparisons = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
filter_texts = (
    texts
    | odd_texts
    | st.sampled_from(
        ["[1, 2]", "[ 1,2 ]", "[NaN]", '{"a": 1, "b": 2}', '{"b":2,"a":1}', "[]", "{}"]
    )
)
clauses = (
    st.builds(
        lambda op, v: Clause("params", "p", op, v),
        comparisons,
        numbers | odd_numbers.filter(lambda v: v == v) | filter_texts,
    )
    | st.builds(
        lambda op, v: Clause("params", "p", op, v),
        st.sampled_from(["LIKE", "ILIKE"]),
        st.sampled_from(["t%", "%e%", "_", "TREE", "1%", "[%", "%é%", "N_N"]),
    )
    | st.builds(
        lambda op, v: Clause("params", "p", op, tuple(v)),
        st.sampled_from(["IN", "NOT IN"]),
        st.lists(numbers | filter_texts, min_size=1, max_size=3),
    )
)


@given(st.lists(param_values, min_size=1, max_size=6), clauses)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_python_filter_agrees_with_the_local_tracker(
    tmp_path_factory: pytest.TempPathFactory, values: list[object], clause: Clause
) -> None:
    """For any params and any param clause, the Python check selects the runs the SQLite search selects."""
    tracker = SQLiteTracker(Path(tmp_path_factory.mktemp("query")) / "opskit.db")
    runs = [
        Run(
            id=f"r{i}",
            name=f"r{i}",
            status="FINISHED",
            experiment="e",
            started_at=1000.0 + i,
            params={"p": value},
        )
        for i, value in enumerate(values)
    ]
    for run in runs:
        tracker.create_run(run)
    expected = [r.id for r in tracker.search_runs(RunQuery(clauses=(clause,)))]
    assert [
        r.id for r in search.order_runs([r for r in runs if search.matches(r, clause)], RunQuery())
    ] == expected
    tracker.close()


@given(st.lists(param_values, min_size=1, max_size=6), st.booleans())
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_python_order_agrees_with_the_local_tracker(
    tmp_path_factory: pytest.TempPathFactory, values: list[object], descending: bool
) -> None:
    """Ordering by a param of mixed types (missing values last, newest first on ties) matches the SQLite order."""
    from opskit.query import OrderKey

    tracker = SQLiteTracker(Path(tmp_path_factory.mktemp("order")) / "opskit.db")
    runs = [
        Run(
            id=f"r{i}",
            name=f"r{i}",
            status="FINISHED",
            experiment="e",
            started_at=1000.0 + i,
            params={"p": value},
        )
        for i, value in enumerate(values)
    ]
    for run in runs:
        tracker.create_run(run)
    query = RunQuery(order=(OrderKey("params", "p", descending),))
    assert [r.id for r in search.order_runs(runs, query)] == [
        r.id for r in tracker.search_runs(query)
    ]
    tracker.close()


@given(
    st.lists(param_values, min_size=1, max_size=6),
    st.sampled_from(["=", "!=", "IN", "NOT IN"]),
    filter_texts,
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_parsed_filters_with_json_spellings_agree(
    tmp_path_factory: pytest.TempPathFactory, values: list[object], op: str, text: str
) -> None:
    """Filters as users write them (a list spelled with spaces, a dict in another key order) select the same runs on both."""
    tracker = SQLiteTracker(Path(tmp_path_factory.mktemp("spell")) / "opskit.db")
    runs = [
        Run(
            id=f"r{i}",
            name=f"r{i}",
            status="FINISHED",
            experiment="e",
            started_at=1000.0 + i,
            params={"p": value},
        )
        for i, value in enumerate(values)
    ]
    for run in runs:
        tracker.create_run(run)
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    (clause,) = parse_filter(
        f"params.p {op} ({quoted})" if "IN" in op else f"params.p {op} {quoted}"
    )
    expected = [r.id for r in tracker.search_runs(RunQuery(clauses=(clause,)))]
    assert [
        r.id for r in search.order_runs([r for r in runs if search.matches(r, clause)], RunQuery())
    ] == expected
    tracker.close()


metric_values = st.floats(-3, 3) | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0])
metric_clauses = st.builds(
    lambda op, v: Clause("metrics", "m", op, v),
    comparisons,
    st.floats(-3, 3) | st.sampled_from([0, 1, math.inf, -math.inf]),
)


@given(st.lists(metric_values | st.none(), min_size=1, max_size=6), metric_clauses, st.booleans())
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_metric_filters_and_order_agree_with_nan_and_infinities(
    tmp_path_factory: pytest.TempPathFactory,
    values: list[float | None],
    clause: Clause,
    descending: bool,
) -> None:
    """NaN metrics match no comparison and sort with the missing ones; infinities are numbers: in SQL and in Python."""
    from opskit.query import OrderKey

    tracker = SQLiteTracker(Path(tmp_path_factory.mktemp("metrics")) / "opskit.db")
    runs = [
        Run(
            id=f"r{i}",
            name=f"r{i}",
            status="FINISHED",
            experiment="e",
            started_at=1000.0 + i,
            metrics={} if value is None else {"m": value},
        )
        for i, value in enumerate(values)
    ]
    for run in runs:
        tracker.create_run(run)
    from opskit.records import Metric

    for run, value in zip(runs, values, strict=True):
        if value is not None:
            tracker.log_metrics(run.id, [Metric("m", value, 0, 1.0)])
    expected = [r.id for r in tracker.search_runs(RunQuery(clauses=(clause,)))]
    assert [
        r.id for r in search.order_runs([r for r in runs if search.matches(r, clause)], RunQuery())
    ] == expected
    query = RunQuery(order=(OrderKey("metrics", "m", descending),))
    assert [r.id for r in search.order_runs(runs, query)] == [
        r.id for r in tracker.search_runs(query)
    ]
    tracker.close()
