"""The embedded SQLite tracker below the SDK: migrations, state documents, buffering, stale runs."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.records import Metric, Run
from opskit.tracker.sqlite import SQLiteTracker
from opskit.tracker.sqlite.schema import MIGRATIONS, SCHEMA_VERSION


def _run(run_id: str, **fields: object) -> Run:
    fields.setdefault("host", "h")
    return Run(
        id=run_id, name="r", status="RUNNING", experiment="e", started_at=time.time(), **fields
    )  # type: ignore[arg-type]


def test_future_schema_is_refused(tmp_path: Path) -> None:
    """A store written by a newer opskit raises StoreError telling to upgrade, and is left untouched."""
    path = tmp_path / "opskit.db"
    SQLiteTracker(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    with pytest.raises(opskit.StoreError, match="upgrade opskit"):
        SQLiteTracker(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION + 1)


def old_store(path: Path, version: int) -> None:
    """A store exactly as opskit wrote it at schema *version* (its migrations only)."""
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),)
        )


def test_old_schema_is_migrated_and_data_kept(tmp_path: Path) -> None:
    """A version-1 store (before the state table) is migrated in place, keeping its runs."""
    path = tmp_path / "opskit.db"
    old_store(path, 1)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO runs (id, name, experiment, status, started_at, host) VALUES (?, 'r', 'e', 'RUNNING', ?, 'h')",
            ("a" * 32, time.time()),
        )
        conn.execute("INSERT INTO params (run_id, key, value) VALUES (?, 'x', '1')", ("a" * 32,))
    reopened = SQLiteTracker(path)
    assert reopened.get_run("a" * 32).params == {"x": 1}
    reopened.put_state("deployment", "web", {"port": 8080})
    assert reopened.get_state("deployment", "web") == {"port": 8080}


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
        max_size=5,
    )
)
@settings(max_examples=25, deadline=None)
def test_state_documents_round_trip(
    tmp_path_factory: pytest.TempPathFactory, docs: dict[str, dict[str, object]]
) -> None:
    """put_state/list_state/get_state/delete_state keep JSON documents by kind and key."""
    tracker = SQLiteTracker(tmp_path_factory.mktemp("state") / "opskit.db")
    for key, value in docs.items():
        tracker.put_state("thing", key, value)
    assert tracker.list_state("thing") == dict(sorted(docs.items()))
    assert tracker.list_state("other") == {}
    for key in docs:
        tracker.delete_state("thing", key)
        assert tracker.get_state("thing", key) is None
    tracker.close()


def test_buffered_metrics_are_visible_to_another_tracker_after_flush(tmp_path: Path) -> None:
    """Logged points sit in the buffer until flush; then a second connection sees them all."""
    path = tmp_path / "opskit.db"
    writer, reader = SQLiteTracker(path), SQLiteTracker(path)
    writer.create_run(_run("b" * 32))
    writer.log_metrics(
        "b" * 32, [Metric("loss", 1.0 / (i + 1), i, time.time()) for i in range(100)]
    )
    assert reader.metric_history("b" * 32, "loss") == []
    writer.flush()
    history = reader.metric_history("b" * 32, "loss")
    assert [m.step for m in history] == list(range(100))
    assert reader.get_run("b" * 32).metrics == {"loss": 0.01}


def _register(path: str, n: int) -> None:
    tracker = SQLiteTracker(Path(path))
    for _ in range(n):
        tracker.register_model_version(
            "shared",
            digest="sha256:" + "0" * 64,
            size_bytes=1,
            flavor="x",
            run_id=None,
            signature=None,
            metadata={},
        )


def test_concurrent_registration_never_reuses_a_version(tmp_path: Path) -> None:
    """4 processes registering 25 versions each get 100 distinct consecutive numbers."""
    path = tmp_path / "opskit.db"
    SQLiteTracker(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_register, args=(str(path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 4
    model = SQLiteTracker(path).get_model("shared")
    assert [v.version for v in model.versions] == list(range(1, 101))


def test_live_runs_are_not_marked_stale(tmp_path: Path) -> None:
    """A RUNNING run of a live process stays RUNNING; one of a pid that never existed is KILLED."""
    import os
    import socket

    tracker = SQLiteTracker(tmp_path / "opskit.db")
    host = socket.gethostname()
    tracker.create_run(_run("c" * 32, host=host), pid=os.getpid())
    tracker.create_run(_run("d" * 32, host=host), pid=2**22 + 12345)
    tracker.create_run(_run("e" * 32, host="another-host"), pid=2**22 + 12345)
    assert tracker.mark_stale_runs() == ["d" * 32]
    assert [tracker.get_run(i).status for i in ("c" * 32, "d" * 32, "e" * 32)] == [
        "RUNNING",
        "KILLED",
        "RUNNING",
    ]


def test_params_filter_by_their_json_spelling(tmp_path: Path) -> None:
    """Text filters on non-text params match their JSON spelling: true, 1e-05, null."""
    from opskit.query import RunQuery

    tracker = SQLiteTracker(tmp_path / "opskit.db")
    tracker.create_run(
        _run("f" * 32, params={"flag": True, "lr": 1e-05, "opt": None, "name": "adam"})
    )
    tracker.create_run(
        _run("0" * 32, params={"flag": False, "lr": 0.1, "opt": "sgd", "name": "sgd"})
    )

    def ids(text: str) -> list[str]:
        return [r.id[0] for r in tracker.search_runs(RunQuery.build(text))]

    assert ids("params.flag = 'true'") == ["f"]
    assert ids("params.lr = '1e-05'") == ["f"]
    assert ids("params.lr < 0.01") == ["f"]
    assert ids("params.opt = 'null'") == ["f"]
    assert ids("params.name LIKE 'ad%'") == ["f"]
