"""The tracker contract, exercised on the embedded SQLite tracker (``tracker = "local"``).

Every test takes the ``tracker`` fixture (or ``open_tracker`` for a second
instance on the same store), so another backend can join by adding itself to
``TRACKERS``. Tests that look inside the SQLite file or start processes that
open it directly are about the embedded store only.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opskit.errors import ModelNotFound, RunNotFound
from opskit.names import ModelRef
from opskit.query import RunQuery
from opskit.records import Artifact, CodeInfo, ColumnSpec, DataInput, EnvInfo, Metric, Run, Schema
from opskit.tracker.base import Tracker
from opskit.tracker.sqlite import SQLiteTracker

TRACKERS: dict[str, Callable[[Path], Tracker]] = {"local": SQLiteTracker}
DIGEST = "sha256:" + "ab" * 32
# One tracker serves every example of a hypothesis test; each example writes a fresh run id.
SHARED_TRACKER = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(params=sorted(TRACKERS))
def open_tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Tracker]]:
    """Opens trackers of one backend on one store (under tmp_path); closes them all afterwards."""
    opened: list[Tracker] = []

    def open_() -> Tracker:
        tracker = TRACKERS[request.param](tmp_path / "opskit.db")
        opened.append(tracker)
        return tracker

    yield open_
    for tracker in opened:
        tracker.close()


@pytest.fixture
def tracker(open_tracker: Callable[[], Tracker]) -> Tracker:
    """A tracker on an empty store."""
    return open_tracker()


def _run(**fields: Any) -> Run:
    fields.setdefault("id", uuid.uuid4().hex)
    fields.setdefault("name", "run")
    fields.setdefault("status", "RUNNING")
    fields.setdefault("experiment", "default")
    fields.setdefault("started_at", time.time())
    fields.setdefault("host", socket.gethostname())
    return Run(**fields)


def _register(tracker: Tracker, name: str, run_id: str | None = None) -> int:
    version = tracker.register_model_version(
        name,
        digest=DIGEST,
        size_bytes=3,
        flavor="pickle",
        run_id=run_id,
        signature=None,
        metadata={},
    )
    return version.version


# -- runs ---------------------------------------------------------------------------------------------


def test_a_run_reads_back_with_everything_recorded(tracker: Tracker) -> None:
    """get_run returns what create_run, log_* and end_run recorded, including the model version."""
    schema = Schema([ColumnSpec("x", "float64"), ColumnSpec("y", "int64")])
    data = DataInput(
        "X_train", "dataframe", DIGEST, shape=(10, 2), schema=schema, size_bytes=160, path="/d.csv"
    )
    code = CodeInfo(
        function="train", module="m", source="def train(): ...", git_commit="abc", git_dirty=True
    )
    env = EnvInfo("3.12.1", "CPython", "Linux", {"numpy": "2.1.0"})
    run = _run(
        user="ann", params={"alpha": 0.5}, tags={"team": "ml"}, code=code, env=env, inputs=[data]
    )
    tracker.create_run(run, pid=os.getpid())
    tracker.log_params(run.id, {"depth": 3})
    tracker.log_metrics(run.id, [Metric("r2", 0.75, 0, 1.0)])
    tracker.set_tags(run.id, {"stage": "dev"})
    tracker.log_artifacts(run.id, [Artifact("report.html", DIGEST, 12)])
    version = tracker.register_model_version(
        "wine",
        digest=DIGEST,
        size_bytes=3,
        flavor="pickle",
        run_id=run.id,
        signature=schema,
        metadata={"lib": "1.0"},
    )
    tracker.end_run(run.id, status="FAILED", ended_at=run.started_at + 2, error="ValueError: boom")
    got = tracker.get_run(run.id)
    assert got == Run(
        id=run.id,
        name="run",
        status="FAILED",
        experiment="default",
        started_at=run.started_at,
        ended_at=run.started_at + 2,
        user="ann",
        host=run.host,
        params={"alpha": 0.5, "depth": 3},
        metrics={"r2": 0.75},
        tags={"team": "ml", "stage": "dev"},
        code=code,
        env=env,
        inputs=(data,),
        artifacts=(Artifact("report.html", DIGEST, 12),),
        model_version=version,
        error="ValueError: boom",
    )
    assert got.model_version is not None and got.model_version.signature == schema
    assert DIGEST in tracker.referenced_digests()


def test_unknown_run_raises_run_not_found(tracker: Tracker) -> None:
    """get_run of an unknown id raises RunNotFound naming the id and how to list runs."""
    with pytest.raises(RunNotFound, match="no-such-run") as info:
        tracker.get_run("no-such-run")
    assert "opskit runs list" in str(info.value)


def test_later_params_and_tags_overwrite_earlier_ones(tracker: Tracker) -> None:
    """Re-logging a param or tag keeps the last value."""
    run = _run(params={"a": 1}, tags={"t": "x"})
    tracker.create_run(run)
    tracker.log_params(run.id, {"a": "two", "b": None})
    tracker.set_tags(run.id, {"t": "y"})
    tracker.log_params(run.id, {"a": [3]})
    got = tracker.get_run(run.id)
    assert (got.params, got.tags) == ({"a": [3], "b": None}, {"t": "y"})


def test_inputs_are_appended_in_order(tracker: Tracker) -> None:
    """log_inputs adds inputs after those given at create_run, in order."""
    first, second, third = (DataInput(n, "ndarray", DIGEST, shape=(3,)) for n in ("a", "b", "c"))
    run = _run(inputs=[first])
    tracker.create_run(run)
    tracker.log_inputs(run.id, [second, third])
    assert tracker.get_run(run.id).inputs == (first, second, third)


def test_identical_code_and_env_are_stored_once(tracker: Tracker, tmp_path: Path) -> None:
    """Runs sharing code and environment read them back equal; the store keeps one copy of each."""
    code, env = (
        CodeInfo(function="f", source="x = 1"),
        EnvInfo("3.12", "CPython", "Linux", {"a": "1"}),
    )
    runs = [_run(code=code, env=env) for _ in range(3)] + [
        _run(code=CodeInfo(function="f", source="x = 1"), env=env)
    ]
    for run in runs:
        tracker.create_run(run)
    assert all(
        tracker.get_run(r.id).code == code and tracker.get_run(r.id).env == env for r in runs
    )
    if isinstance(tracker, SQLiteTracker):
        with sqlite3.connect(tmp_path / "opskit.db") as conn:
            assert conn.execute(
                "SELECT kind, COUNT(*) FROM documents GROUP BY kind ORDER BY kind"
            ).fetchall() == [
                ("code", 1),
                ("env", 1),
            ]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_KEYS = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.\-/ ]{0,15}\Z").filter(lambda k: ".." not in k)


@SHARED_TRACKER
@given(
    at_start=st.dictionaries(_KEYS, _JSON, max_size=6),
    logged=st.dictionaries(_KEYS, _JSON, max_size=6),
)
def test_params_round_trip_with_their_types(
    tracker: Tracker, at_start: dict[str, Any], logged: dict[str, Any]
) -> None:
    """JSON param values read back equal and with the same types (int, float, bool, None, str, list, dict)."""
    run = _run(params=at_start)
    tracker.create_run(run)
    tracker.log_params(run.id, logged)
    params = tracker.get_run(run.id).params
    expected = {**at_start, **logged}
    assert params == expected
    assert json.dumps(params, sort_keys=True) == json.dumps(
        expected, sort_keys=True
    )  # True is not 1


_POINTS = st.lists(
    st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**40), 2**40)),
    min_size=1,
    max_size=8,
)


@SHARED_TRACKER
@given(series=st.dictionaries(_KEYS, _POINTS, max_size=4))
def test_metrics_round_trip(tracker: Tracker, series: dict[str, list[tuple[float, int]]]) -> None:
    """Every point comes back in step order; the run shows the value of the highest step (latest on ties)."""
    run = _run()
    tracker.create_run(run)
    clock = 1_700_000_000.0
    logged: dict[str, list[Metric]] = {}
    for key, points in series.items():
        for value, step in points:
            clock += 0.5
            logged.setdefault(key, []).append(Metric(key, value, step, clock))
            tracker.log_metrics(run.id, [logged[key][-1]])
    tracker.end_run(run.id, status="FINISHED", ended_at=clock)
    got = tracker.get_run(run.id)
    assert got.metrics == {
        k: max(ms, key=lambda m: (m.step, m.timestamp)).value for k, ms in logged.items()
    }
    for key, metrics in logged.items():
        assert tracker.metric_history(run.id, key) == sorted(
            metrics, key=lambda m: (m.step, m.timestamp)
        )


def test_nan_metric_round_trips(tracker: Tracker) -> None:
    """A NaN metric (a diverged loss) is stored and reads back as NaN."""
    run = _run()
    tracker.create_run(run)
    tracker.log_metrics(run.id, [Metric("loss", math.nan, 0, 1.0)])
    assert math.isnan(tracker.get_run(run.id).metrics["loss"])
    assert math.isnan(tracker.metric_history(run.id, "loss")[0].value)


def test_history_orders_by_step_then_time(tracker: Tracker) -> None:
    """metric_history sorts by step, then timestamp, whatever the logging order; other keys are apart."""
    run = _run()
    tracker.create_run(run)
    points = [
        Metric("loss", 3.0, 2, 5.0),
        Metric("loss", 1.0, 0, 9.0),
        Metric("loss", 2.5, 2, 4.0),
        Metric("acc", 0.1, 1, 1.0),
    ]
    tracker.log_metrics(run.id, points)
    assert [(m.step, m.value) for m in tracker.metric_history(run.id, "loss")] == [
        (0, 1.0),
        (2, 2.5),
        (2, 3.0),
    ]
    assert tracker.metric_history(run.id, "missing") == []


def test_buffered_points_reach_another_tracker_after_flush_and_end(
    open_tracker: Callable[[], Tracker],
) -> None:
    """Points logged one by one are visible to a second tracker on the store after flush and after end_run."""
    writer, reader = open_tracker(), open_tracker()
    run = _run()
    writer.create_run(run)
    assert reader.get_run(run.id).status == "RUNNING"  # the run itself is visible at once
    for step in range(300):
        writer.log_metrics(run.id, [Metric("loss", 1.0 / (step + 1), step, 1.0 + step)])
    writer.log_params(run.id, {"late": True})
    writer.flush()
    assert len(reader.metric_history(run.id, "loss")) == 300
    assert reader.get_run(run.id).params == {"late": True}
    for step in range(300, 400):
        writer.log_metrics(run.id, [Metric("loss", 0.0, step, 1.0 + step)])
    writer.set_tags(run.id, {"done": "yes"})
    writer.end_run(run.id, status="FINISHED", ended_at=500.0)
    got = reader.get_run(run.id)
    assert (got.status, got.metrics, got.tags) == ("FINISHED", {"loss": 0.0}, {"done": "yes"})
    assert [m.step for m in reader.metric_history(run.id, "loss")] == list(range(400))


def test_close_writes_what_is_buffered(open_tracker: Callable[[], Tracker]) -> None:
    """Closing a tracker flushes its buffer; re-opening the store keeps runs, metrics and models."""
    first = open_tracker()
    run = _run(params={"a": 1})
    first.create_run(run)
    first.log_metrics(run.id, [Metric("m", 2.0, 0, 1.0)])
    _register(first, "kept")
    first.close()
    again = open_tracker()
    assert again.get_run(run.id).metrics == {"m": 2.0}
    assert again.get_run(run.id).params == {"a": 1}
    assert again.get_model_version(ModelRef("kept")).version == 1


def test_threads_share_one_tracker(tracker: Tracker) -> None:
    """4 threads creating, logging and ending runs on one tracker lose nothing."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(25):
                run = _run(params={"i": i})
                tracker.create_run(run)
                tracker.log_metrics(run.id, [Metric("m", float(i), 0, 1.0)])
                tracker.end_run(run.id, status="FINISHED", ended_at=time.time())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runs = tracker.search_runs(RunQuery(limit=1000))
    assert len(runs) == 100 and all(r.metrics == {"m": float(r.params["i"])} for r in runs)


# -- search ---------------------------------------------------------------------------------------------


@pytest.fixture
def five_runs(tracker: Tracker) -> list[Run]:
    """Five finished runs started one second apart (r0 oldest), with varied params, metrics and tags."""
    specs: list[tuple[dict[str, Any], dict[str, float], dict[str, str]]] = [
        ({"alpha": 0.05, "opt": "adam", "depth": 3}, {"r2": 0.9, "loss": 0.1}, {"team": "ml"}),
        ({"alpha": 0.2, "opt": "sgd", "depth": 10}, {"r2": 0.7}, {"team": "ML-ops"}),
        ({"alpha": 0.4, "opt": "Adam"}, {"r2": 0.5, "loss": 0.3}, {"team": "data"}),
        ({"alpha": 0.8, "opt": "sgd", "depth": 2}, {"loss": 0.9}, {}),
        ({"alpha": "high", "depth": 3}, {"r2": 0.2}, {"team": "ml"}),
    ]
    runs = []
    for i, (params, metrics, tags) in enumerate(specs):
        run = _run(
            name=f"r{i}",
            params=params,
            tags=tags,
            started_at=1_700_000_000.0 + i,
            user="bob" if i % 2 else "ann",
            experiment="other" if i == 4 else "default",
        )
        tracker.create_run(run)
        tracker.log_metrics(run.id, [Metric(k, v, 0, 1.0) for k, v in metrics.items()])
        tracker.end_run(
            run.id, status="FAILED" if i == 2 else "FINISHED", ended_at=run.started_at + 10
        )
        runs.append(run)
    return runs


def _names(
    tracker: Tracker, filter: str = "", order_by: list[str] | None = None, **kw: Any
) -> list[str]:
    return [r.name for r in tracker.search_runs(RunQuery.build(filter, order_by, **kw))]


@pytest.mark.usefixtures("five_runs")
@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("", ["r4", "r3", "r2", "r1", "r0"]),
        ("params.alpha > 0.1", ["r3", "r2", "r1"]),
        ("params.alpha <= 0.2", ["r1", "r0"]),
        ("params.alpha = 0.4", ["r2"]),
        ("params.alpha != 0.4", ["r3", "r1", "r0"]),
        ("params.depth >= 3", ["r4", "r1", "r0"]),
        ("params.depth < 10 and params.alpha < 1", ["r3", "r0"]),
        ("params.depth IN (2, 10)", ["r3", "r1"]),
        ("params.alpha = 'high'", ["r4"]),
        ("params.alpha = '0.4'", ["r2"]),
        ("params.opt = 'sgd'", ["r3", "r1"]),
        ("params.opt LIKE 'a%'", ["r0"]),
        ("params.opt ILIKE 'a%'", ["r2", "r0"]),
        ("params.opt NOT IN ('sgd')", ["r2", "r0"]),
        ("params.missing = 1", []),
        ("metrics.r2 >= 0.5", ["r2", "r1", "r0"]),
        ("metrics.r2 < 0.5", ["r4"]),
        ("metrics.loss > 0.2 and metrics.r2 > 0.1", ["r2"]),
        ("metrics.r2 IN (0.7, 0.2)", ["r4", "r1"]),
        ("metrics.r2 != 0.7", ["r4", "r2", "r0"]),
        ("tags.team = 'ml'", ["r4", "r0"]),
        ("tags.team != 'ml'", ["r2", "r1"]),
        ("tags.team LIKE 'ML%'", ["r1"]),
        ("tags.team ILIKE 'ml%'", ["r4", "r1", "r0"]),
        ("tags.team IN ('data', 'ml')", ["r4", "r2", "r0"]),
        ("status = 'FAILED'", ["r2"]),
        ("attributes.status != 'FAILED'", ["r4", "r3", "r1", "r0"]),
        ("run_name = 'r3'", ["r3"]),
        ("name LIKE 'r%' and user = 'bob'", ["r3", "r1"]),
        ("start_time > 1700000002", ["r4", "r3"]),
        ("ended_at <= 1700000011", ["r1", "r0"]),
        ("experiment = 'other'", ["r4"]),
    ],
)
def test_search_filters(tracker: Tracker, filter: str, expected: list[str]) -> None:
    """Each kind of clause selects the runs it describes; results are newest first by default."""
    assert _names(tracker, filter) == expected


def test_search_by_run_id(tracker: Tracker, five_runs: list[Run]) -> None:
    """run_id = and IN select runs by id."""
    ids = [r.id for r in five_runs]
    assert _names(tracker, f"run_id = '{ids[1]}'") == ["r1"]
    assert _names(tracker, f"attributes.id IN ('{ids[0]}', '{ids[3]}', 'nope')") == ["r3", "r0"]


@pytest.mark.usefixtures("five_runs")
@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.r2 DESC"], ["r0", "r1", "r2", "r4", "r3"]),
        (["metrics.r2"], ["r4", "r2", "r1", "r0", "r3"]),
        (["metrics.loss DESC"], ["r3", "r2", "r0", "r4", "r1"]),
        (["params.depth DESC", "metrics.r2"], ["r1", "r4", "r0", "r3", "r2"]),
        (["tags.team"], ["r1", "r2", "r4", "r0", "r3"]),
        (["start_time ASC"], ["r0", "r1", "r2", "r3", "r4"]),
        (["user DESC"], ["r3", "r1", "r4", "r2", "r0"]),
    ],
)
def test_search_order(tracker: Tracker, order_by: list[str], expected: list[str]) -> None:
    """Runs sort by each order key in turn (runs missing a key last), then newest first."""
    assert _names(tracker, order_by=order_by) == expected


def test_search_limit_and_experiment(tracker: Tracker, five_runs: list[Run]) -> None:
    """limit keeps the first runs of the order; experiment restricts to one experiment."""
    assert _names(tracker, order_by=["metrics.r2 DESC"], limit=2) == ["r0", "r1"]
    assert _names(tracker, experiment="default", limit=3) == ["r3", "r2", "r1"]
    assert _names(tracker, "tags.team = 'ml'", experiment="other") == ["r4"]
    assert [r.params for r in tracker.search_runs(RunQuery(limit=1))] == [five_runs[4].params]


def test_search_returns_complete_runs_in_bulk(tracker: Tracker) -> None:
    """Hundreds of runs come back, each with its own params, metrics, tags and model version."""
    runs = [_run(params={"i": i}, tags={"i": str(i)}, started_at=1_000.0 + i) for i in range(700)]
    for run in runs:
        tracker.create_run(run)
        tracker.log_metrics(run.id, [Metric("i", float(run.params["i"]), 0, 1.0)])
    _register(tracker, "bulk", run_id=runs[3].id)
    found = tracker.search_runs(RunQuery(limit=10_000))
    assert [r.id for r in found] == [r.id for r in reversed(runs)]
    assert all(r.params["i"] == r.metrics["i"] == int(r.tags["i"]) for r in found)
    assert [r.params["i"] for r in found if r.model_version is not None] == [3]


# -- stale runs ------------------------------------------------------------------------------------------


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_runs_of_ended_processes_are_marked_killed(tracker: Tracker) -> None:
    """A RUNNING run whose process has exited becomes KILLED with an explanation; live and remote runs stay."""
    dead_pid = _exited_pid()
    dead, live, remote, done = _run(), _run(), _run(host="elsewhere.example"), _run()
    tracker.create_run(dead, pid=dead_pid)
    tracker.create_run(live, pid=os.getpid())
    tracker.create_run(remote, pid=dead_pid)
    tracker.create_run(done, pid=dead_pid)
    tracker.end_run(done.id, status="FINISHED", ended_at=time.time())
    before = time.time()
    assert tracker.mark_stale_runs() == [dead.id]
    killed = tracker.get_run(dead.id)
    assert killed.status == "KILLED" and killed.ended_at is not None and killed.ended_at >= before
    assert (
        killed.error
        == f"process {dead_pid} on {socket.gethostname()} ended without finishing the run"
    )
    assert [tracker.get_run(r.id).status for r in (live, remote, done)] == [
        "RUNNING",
        "RUNNING",
        "FINISHED",
    ]
    assert tracker.mark_stale_runs() == []


@pytest.mark.skipif(sys.platform != "linux", reason="process start times come from Linux's /proc")
def test_a_reused_pid_does_not_keep_a_run_alive(tmp_path: Path) -> None:
    """A live process with the run's pid but another start time is not the run's process."""
    tracker = SQLiteTracker(tmp_path / "opskit.db")
    run = _run()
    tracker.create_run(run, pid=os.getpid())
    with sqlite3.connect(
        tmp_path / "opskit.db"
    ) as conn:  # as if our pid had belonged to an older process
        conn.execute("UPDATE runs SET pid_start = pid_start - 100 WHERE id = ?", (run.id,))
    assert tracker.mark_stale_runs() == [run.id]
    tracker.close()


# -- many processes --------------------------------------------------------------------------------------


def _log_runs(path: str, worker: int, count: int) -> None:
    tracker = SQLiteTracker(Path(path))
    for i in range(count):
        run = _run(params={"worker": worker, "i": i})
        tracker.create_run(run, pid=os.getpid())
        tracker.log_metrics(
            run.id, [Metric("loss", 1.0 / (s + 1), s, time.time()) for s in range(5)]
        )
        tracker.log_metrics(run.id, [Metric("final", float(i), 0, time.time())])
        tracker.end_run(run.id, status="FINISHED", ended_at=time.time())
    tracker.close()


def _register_versions(path: str, count: int) -> None:
    tracker = SQLiteTracker(Path(path))
    for _ in range(count):
        _register(tracker, "shared")
    tracker.close()


def _in_processes(target: Callable[..., None], args: list[tuple[object, ...]]) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * len(args)


def test_four_processes_write_at_once_and_lose_nothing(tmp_path: Path) -> None:
    """4 processes × 50 runs with metrics into one store: every run and every point is there."""
    path = tmp_path / "opskit.db"
    SQLiteTracker(path).close()
    _in_processes(_log_runs, [(str(path), worker, 50) for worker in range(4)])
    tracker = SQLiteTracker(path)
    runs = tracker.search_runs(RunQuery(limit=1000))
    assert sorted((r.params["worker"], r.params["i"]) for r in runs) == [
        (w, i) for w in range(4) for i in range(50)
    ]
    assert all(
        r.status == "FINISHED" and r.metrics == {"loss": 0.2, "final": float(r.params["i"])}
        for r in runs
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone() == (200 * 6,)
    tracker.close()


def test_concurrent_registration_gives_distinct_versions(tmp_path: Path) -> None:
    """4 processes registering versions of one model at once get 1..N, each number once."""
    path = tmp_path / "opskit.db"
    SQLiteTracker(path).close()
    _in_processes(_register_versions, [(str(path), 10)] * 4)
    tracker = SQLiteTracker(path)
    assert [v.version for v in tracker.get_model("shared").versions] == list(range(1, 41))
    tracker.close()


# -- registry --------------------------------------------------------------------------------------------


def test_versions_are_numbered_per_model(tracker: Tracker) -> None:
    """Each model counts its versions from 1; registering creates the model."""
    assert [_register(tracker, "a"), _register(tracker, "b"), _register(tracker, "a")] == [1, 1, 2]
    assert [m.name for m in tracker.list_models()] == ["a", "b"]
    assert [len(m.versions) for m in tracker.list_models()] == [2, 1]


def test_version_records_what_was_registered(tracker: Tracker) -> None:
    """A version keeps digest, size, flavor, run, signature and metadata; latest, exact and alias refs find it."""
    signature = Schema([ColumnSpec("x", "float64")], kind="tensor", shape=(None, 4))
    before = time.time()
    version = tracker.register_model_version(
        "m",
        digest=DIGEST,
        size_bytes=42,
        flavor="sklearn",
        run_id="r1",
        signature=signature,
        metadata={"sklearn": "1.5", "nested": {"a": [1, 2]}},
    )
    assert (
        version.name,
        version.version,
        version.digest,
        version.size_bytes,
        version.flavor,
        version.run_id,
    ) == (
        "m",
        1,
        DIGEST,
        42,
        "sklearn",
        "r1",
    )
    assert version.signature == signature and version.metadata == {
        "sklearn": "1.5",
        "nested": {"a": [1, 2]},
    }
    assert version.created_at >= before
    tracker.set_alias("m", "prod", 1, user=None)
    for ref in ("m", "m:1", "m@prod"):
        found = tracker.get_model_version(ModelRef.parse(ref))
        assert (found.digest, found.signature, found.metadata, found.aliases) == (
            DIGEST,
            signature,
            version.metadata,
            ("prod",),
        )


def test_references_resolve_to_latest_version_or_alias(tracker: Tracker) -> None:
    """'m' is the latest version, 'm:2' version 2, 'm@staging' what the alias points at."""
    for _ in range(3):
        _register(tracker, "m")
    tracker.set_alias("m", "staging", 2, user="ann")
    assert tracker.get_model_version(ModelRef("m")).version == 3
    assert tracker.get_model_version(ModelRef("m", version=1)).version == 1
    found = tracker.get_model_version(ModelRef("m", alias="staging"))
    assert (found.version, found.aliases) == (2, ("staging",))


def test_aliases_move_and_keep_history(tracker: Tracker) -> None:
    """set_alias and delete_alias record each move with the previous version; get_model shows the current map."""
    for _ in range(3):
        _register(tracker, "m")
    first = tracker.set_alias("m", "production", 1, user="ann")
    tracker.set_alias("m", "staging", 3, user="bob")
    moved = tracker.set_alias("m", "production", 2, user="bob")
    assert (first.version, first.previous_version, moved.version, moved.previous_version) == (
        1,
        None,
        2,
        1,
    )
    model = tracker.get_model("m")
    assert model.aliases == {"production": 2, "staging": 3}
    assert [v.aliases for v in model.versions] == [(), ("production",), ("staging",)]
    removed = tracker.delete_alias("m", "staging", user="ann")
    assert (removed.alias, removed.version, removed.previous_version, removed.user) == (
        "staging",
        None,
        3,
        "ann",
    )
    assert tracker.get_model("m").aliases == {"production": 2}
    history = tracker.alias_history("m")
    assert [(c.alias, c.version, c.previous_version, c.user) for c in history] == [
        ("production", 1, None, "ann"),
        ("staging", 3, None, "bob"),
        ("production", 2, 1, "bob"),
        ("staging", None, 3, "ann"),
    ]
    assert history == sorted(history, key=lambda c: c.changed_at)
    assert [c.version for c in tracker.alias_history("m", "production")] == [1, 2]
    assert [m.aliases for m in tracker.list_models()] == [{"production": 2}]


def test_set_alias_needs_an_existing_version(tracker: Tracker) -> None:
    """Pointing an alias at a missing version or model raises ModelNotFound and changes nothing."""
    _register(tracker, "m")
    with pytest.raises(ModelNotFound, match="no version 5"):
        tracker.set_alias("m", "prod", 5, user=None)
    with pytest.raises(ModelNotFound, match="no model named 'ghost'"):
        tracker.set_alias("ghost", "prod", 1, user=None)
    with pytest.raises(ModelNotFound, match="no alias 'prod'"):
        tracker.delete_alias("m", "prod", user=None)
    assert tracker.get_model("m").aliases == {}
    assert tracker.alias_history("m") == []


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", r"no model named 'nope' \(registered models: alpha, beta\)"),
        ("nope:1", r"no model named 'nope' \(registered models: alpha, beta\)"),
        ("alpha:99", r"model 'alpha' has no version 99 \(versions 1–3\)"),
        ("beta:2", r"model 'beta' has no version 2 \(version 1\)"),
        ("alpha@nope", r"model 'alpha' has no alias 'nope' \(aliases: production, staging\)"),
        ("beta@nope", r"model 'beta' has no alias 'nope' \(aliases: none\)"),
    ],
)
def test_model_not_found_says_what_exists(tracker: Tracker, ref: str, message: str) -> None:
    """Unknown models, versions and aliases raise ModelNotFound listing what does exist."""
    for _ in range(3):
        _register(tracker, "alpha")
    _register(tracker, "beta")
    tracker.set_alias("alpha", "staging", 3, user=None)
    tracker.set_alias("alpha", "production", 2, user=None)
    with pytest.raises(ModelNotFound, match=message):
        tracker.get_model_version(ModelRef.parse(ref))
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        tracker.get_model("nope")


def test_a_failed_end_run_keeps_other_runs_points(tracker: Tracker) -> None:
    """Ending an unknown run raises RunNotFound and loses none of the points buffered for other runs."""
    run = _run()
    tracker.create_run(run)
    tracker.log_metrics(run.id, [Metric("m", 1.0, 0, 1.0)])
    with pytest.raises(RunNotFound):
        tracker.end_run("no-such-run", status="FINISHED", ended_at=2.0)
    assert tracker.metric_history(run.id, "m") == [Metric("m", 1.0, 0, 1.0)]


_digests = st.binary(min_size=1, max_size=8).map(
    lambda b: "sha256:" + __import__("hashlib").sha256(b).hexdigest()
)
_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)


@given(
    st.lists(_digests, max_size=6),
    st.recursive(
        _scalars,
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
        ),
        max_leaves=20,
    ),
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_digest_anywhere_in_a_state_document_is_a_reference(
    digests: list[str], filler: Any
) -> None:
    """digests_in finds each digest wherever it sits in a JSON value (nested lists/dicts), and nothing else."""
    from opskit.tracker.base import digests_in

    document: Any = {"filler": filler}
    for i, digest in enumerate(digests):
        document = [document, {f"k{i}": digest}] if i % 2 else {"inner": document, "blob": [digest]}
    assert digests_in(document) == set(digests) | digests_in(filler)
    assert digests_in(json.loads(json.dumps(document))) == set(digests) | digests_in(filler)
    assert all(d.startswith("sha256:") and len(d) == 71 for d in digests_in(filler))
