"""The MLflow tracker against real MLflow servers: what MLflow's own client sees, PostgreSQL, outages."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier

import opskit
from conftest import ROOT, run_python
from opskit.tracker.base import digests_in_text
from servers import MLflowServer


class Scaled:
    """A model that is not scikit-learn: MLflow gets it through the pyfunc wrapper."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(X.sum(axis=1) * self.factor)


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y


def _mlflow_name(name: str) -> str:
    return f"{os.environ['OPSKIT_MLFLOW_NAMESPACE']}.{name}"


def test_the_plugin_is_found_through_its_entry_point_and_imports_mlflow_only_when_selected() -> (
    None
):
    """The tracker comes from the opskit-mlflow entry point; runs on the local tracker never import mlflow."""
    out = run_python(
        "import sys, opskit\nfrom opskit.plugins import get_registry\n"
        "print(get_registry().get('tracker', 'mlflow').plugin)\n"
        "@opskit.track\ndef f(x=1):\n    return x\nf()\nprint('mlflow' in sys.modules)"
    )
    plugin, imported = out.stdout.split()
    assert "mlflow" in plugin and imported == "False"


@pytest.mark.parametrize("tracker", ["mlflow", "mlflow-pg"], indirect=True)
def test_mlflow_sees_the_run_and_serves_the_same_model(
    tracker: str, wine: tuple[pd.DataFrame, pd.Series]
) -> None:
    """MLflow's client finds params, metrics, opskit tags, artifacts and a model that predicts like opskit's."""
    X, y = wine

    @opskit.train(model="wine", alias="staging")
    def train(X, y, *, n_estimators=10):  # type: ignore[no-untyped-def]
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=0).fit(X, y)
        for step in range(3):
            opskit.log_metric("loss", 1.0 / (step + 1))
        opskit.log_metric("acc", model.score(X, y))
        return model

    train(X, y, n_estimators=12)
    run = opskit.last_run()
    assert run is not None and run.model_version is not None
    client = MlflowClient()
    found = mlflow.search_runs(experiment_names=[_mlflow_name("wine")], output_format="list")
    assert len(found) == 1
    seen = found[0]
    assert seen.data.params["n_estimators"] == "12"
    assert seen.data.metrics["loss"] == pytest.approx(1 / 3)
    assert [m.value for m in client.get_metric_history(seen.info.run_id, "loss")] == [
        1.0,
        0.5,
        pytest.approx(1 / 3),
    ]
    tags = seen.data.tags
    assert tags["opskit.run_id"] == run.id and tags["opskit.user"] == run.user
    assert (
        tags["opskit.data.X"] == run.inputs[0].digest
        and tags["opskit.code_digest"] == run.code.file_digest
    )  # type: ignore[union-attr]
    files = {a.path for a in client.list_artifacts(seen.info.run_id, "opskit")}
    assert {"opskit/code.py", "opskit/environment.json", "opskit/inputs.json"} <= files
    native = mlflow.pyfunc.load_model(f"models:/{_mlflow_name('wine')}@staging")
    ours = opskit.load_model("wine@staging")
    assert (native.predict(X) == ours.predict(X)).all()
    version = client.get_model_version_by_alias(_mlflow_name("wine"), "staging")
    assert version.tags["opskit.digest"] == run.model_version.digest
    assert opskit.models.get("wine").aliases == {"staging": 1}


@pytest.mark.parametrize("tracker", ["mlflow"], indirect=True)
def test_any_model_is_served_through_the_pyfunc_wrapper(
    tracker: str, wine: tuple[pd.DataFrame, pd.Series]
) -> None:
    """A model that is not scikit-learn is logged as a pyfunc and predicts the same in MLflow."""
    X, _ = wine

    @opskit.train(model="scaled", alias="staging")
    def train(factor: float = 2.0) -> Scaled:
        return Scaled(factor)

    train(factor=0.5)
    native = mlflow.pyfunc.load_model(f"models:/{_mlflow_name('scaled')}@staging")
    assert np.allclose(native.predict(X), opskit.load_model("scaled@staging").predict(X))
    assert opskit.models.get_version("scaled").flavor == "cloudpickle"


@pytest.mark.trackers("local", "mlflow")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.alpha > 0.1", ["b", "c"]),
        ("params.alpha = 0.5", ["c"]),
        ("params.kind = 'tree'", ["a", "c"]),
        ("params.kind LIKE 'tr%' and metrics.r2 >= 0.5", ["a"]),
        ("params.kind ILIKE 'LIN%'", ["b"]),
        ("params.kind IN ('tree', 'linear')", ["a", "b", "c"]),
        ("metrics.r2 < 0.5", ["b", "c"]),
        ("tags.team = 'ml' and attributes.status = 'FINISHED'", ["a", "b"]),
        ("attributes.run_name != 'b'", ["a", "c"]),
    ],
)
def test_filters_mean_the_same_on_every_tracker(
    tracker: str, text: str, expected: list[str]
) -> None:
    """Numeric params compare as numbers, strings as text, on the local and the MLflow tracker alike."""
    rows = [
        ("a", 0.05, "tree", 0.9, "ml"),
        ("b", 0.2, "linear", 0.4, "ml"),
        ("c", 0.5, "tree", 0.1, "ops"),
    ]
    for name, alpha, kind, r2, team in rows:
        with opskit.start_run(
            name=name, params={"alpha": alpha, "kind": kind}, tags={"team": team}
        ):
            opskit.log_metric("r2", r2)
    found = opskit.search_runs(text, order_by=["attributes.run_name"])
    assert [r.name for r in found] == expected


@pytest.mark.parametrize("tracker", ["mlflow", "mlflow-pg"], indirect=True)
def test_state_documents_and_referenced_digests(tracker: str) -> None:
    """State documents round-trip, replace, list and delete; digests of models and of every kind of state document are reported."""
    from opskit._backends import get_tracker

    store = get_tracker()
    big = {"text": "x" * 9000, "nested": {"a": [1, 2.5, None, True]}}
    store.put_state("deployment", "one", big)
    store.put_state("deployment", "two", {"v": 1})
    store.put_state("deployment", "two", {"v": 2})
    assert store.get_state("deployment", "one") == big
    assert store.list_state("deployment") == {"one": big, "two": {"v": 2}}
    store.delete_state("deployment", "one")
    assert store.get_state("deployment", "one") is None
    assert store.list_state("other") == {}

    @opskit.train(model="digests")
    def train() -> dict[str, int]:
        return {"w": 1}

    train()
    from opskit._backends import get_storage

    logged = get_storage().put_bytes(b"a prediction-log batch")
    store.put_state(
        "predictions", "dep/1", {"deployment": "dep", "digest": logged.digest, "records": 1}
    )
    store.put_state(
        "any-plugin-kind", "k", {"nested": [{"blob": get_storage().put_bytes(b"kept").digest}]}
    )
    referenced = store.referenced_digests()
    assert {opskit.models.get_version("digests").digest, logged.digest} <= referenced
    # the run's function stored by value (opskit reproduce) is kept alive too
    function_blobs = {a.digest for a in opskit.search_runs()[0].artifacts}
    assert len(function_blobs) == 2 and function_blobs <= referenced
    # the model, the prediction-log batch, the plugin's blob and the function's two blobs
    assert len(referenced) == 5
    assert opskit.search_runs()[0].name == "train"  # state runs never show up as runs
    from opskit.doctor import run_doctor

    report = run_doctor(repair=False, verify=True)
    assert report.ok, [f for f in report.findings if not f.ok]


@pytest.mark.parametrize("tracker", ["mlflow"], indirect=True)
def test_quickstart_runs_unchanged_against_the_server(tracker: str) -> None:
    """examples/quickstart.py, unmodified, trains, registers and reloads through the MLflow server."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "predictions identical to the trained model: True" in done.stdout
    assert MlflowClient().get_registered_model(_mlflow_name("wine")).aliases == {"staging": "1"}


def test_a_run_survives_a_server_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    """Runs written while the server is down wait in the outbox; the next run or `opskit sync` delivers them."""
    server = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)
    server.start()
    try:
        monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        opskit.reset_defaults()

        def interrupted(name: str) -> str:
            with opskit.start_run(name=name, params={"lr": 0.1}) as run:
                opskit.log_metric("loss", 3.0)
                assert opskit.get_run(run.id).metrics == {
                    "loss": 3.0
                }  # a read flushes: this point is on the server
                server.stop()
                for value in (2.0, 1.0):
                    opskit.log_metric("loss", value)
                opskit.set_tag("phase", "outage")
            return run.id

        with pytest.warns(opskit.OpskitWarning, match="unreachable"):
            first = interrupted("first")
        assert len(list((store / "mlflow-outbox").glob("*.jsonl"))) == 1
        server.start()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with opskit.start_run(name="next"):
                pass
        assert not list((store / "mlflow-outbox").glob("*.jsonl"))

        with pytest.warns(opskit.OpskitWarning, match="unreachable"):
            second = interrupted("second")
        server.start()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "opskit"), "sync"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and "delivered 1 run" in done.stdout, done.stdout + done.stderr
        for run_id, name in ((first, "first"), (second, "second")):
            run = opskit.get_run(run_id)
            assert (run.name, run.status, run.params, run.tags) == (
                name,
                "FINISHED",
                {"lr": 0.1},
                {"phase": "outage"},
            )
            assert [p.value for p in run.metric_history("loss")] == [3.0, 2.0, 1.0]
        assert [r.name for r in opskit.search_runs(order_by=["started_at"])] == [
            "first",
            "next",
            "second",
        ]
    finally:
        server.stop()


def test_runs_started_while_the_server_is_down_arrive_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    """With no server at all, runs and a registration go to the outbox whole; training returns its model; sync delivers all."""
    server = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)  # not started yet
    monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    opskit.reset_defaults()

    @opskit.track
    def offline(seed: int = 1) -> int:
        opskit.log_metric("score", 0.5)
        return seed

    @opskit.train(model="offline-model", alias="staging")
    def train() -> dict[str, int]:
        opskit.log_metric("acc", 0.9)
        return {"w": 1}

    with pytest.warns(opskit.OpskitWarning, match="unreachable"):
        assert offline(seed=7) == 7
    with pytest.warns(opskit.errors.RegistrationQueued, match="opskit sync"):
        assert train() == {"w": 1}
    assert len(list((store / "mlflow-outbox").glob("*.jsonl"))) == 2
    server.start()
    try:
        from opskit._backends import get_tracker

        tracker = get_tracker()
        queued = opskit.search_runs()  # nothing delivered yet
        assert queued == []
        waiting = set().union(
            *(digests_in_text(p.read_text()) for p in (store / "mlflow-outbox").glob("*.jsonl"))
        )
        assert (
            waiting and waiting <= tracker.referenced_digests()
        )  # doctor --repair keeps the queued model blob
        assert tracker.sync() == 2  # type: ignore[attr-defined]
        first, second = opskit.search_runs(order_by=["started_at"])
        assert (first.name, first.status, first.params, first.metrics) == (
            "offline",
            "FINISHED",
            {"seed": 7},
            {"score": 0.5},
        )
        assert (second.name, second.status, second.metrics, second.error) == (
            "train",
            "FINISHED",
            {"acc": 0.9},
            None,
        )
        version = opskit.models.get_version("offline-model@staging")
        assert (version.version, version.run_id, version.digest in waiting) == (1, second.id, True)
        assert opskit.load_model("offline-model@staging") == {"w": 1}
        assert opskit.get_run(second.id).model_version is not None
        assert not list((store / "mlflow-outbox").glob("*"))
    finally:
        server.stop()


def test_training_is_not_lost_when_the_server_goes_down_before_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Path
) -> None:
    """Server stops during training: the model is returned with a warning, blob stored; `opskit sync` registers it and moves the alias after the run."""
    server = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)
    server.start()
    try:
        monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        opskit.reset_defaults()

        @opskit.train(model="outage", alias="production")
        def train(alpha: float = 0.5) -> dict[str, float]:
            opskit.log_metric("r2", 1 - alpha)
            if alpha < 0.5:
                server.stop()  # the server goes away while this run trains
            return {"alpha": alpha}

        assert train(alpha=0.75) == {"alpha": 0.75}  # version 1, online
        with pytest.warns(
            opskit.errors.RegistrationQueued, match="registering model 'outage'.*alias 'production'"
        ):
            assert train(alpha=0.25) == {"alpha": 0.25}
        server.start()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "opskit"), "sync"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=300,
            check=False,
        )
        assert done.returncode == 0 and "delivered 1 run" in done.stdout, done.stdout + done.stderr
        second = opskit.search_runs(order_by=["started_at"])[-1]
        assert (second.status, second.params, second.metrics) == (
            "FINISHED",
            {"alpha": 0.25},
            {"r2": 0.75},
        )
        version = opskit.models.get_version("outage@production")
        assert (version.version, version.run_id) == (2, second.id)
        assert opskit.load_model("outage@production") == {"alpha": 0.25}
        history = opskit.models.history("outage", "production")
        assert [(c.version, c.previous_version) for c in history] == [(1, None), (2, 1)]
        client = MlflowClient(
            tracking_uri=server.url
        )  # what MLflow itself sees: version 2 belongs to the run
        assert (
            client.get_run(client.get_model_version("outage", "2").run_id).data.tags[
                "opskit.run_id"
            ]
            == second.id
        )
        assert not list((store / "mlflow-outbox").glob("*"))
    finally:
        server.stop()


@pytest.mark.parametrize("tracker", ["mlflow"], indirect=True)
def test_nothing_is_lost_at_exit_or_from_forked_workers(tracker: str) -> None:
    """With the MLflow tracker too: an unended run is written and FAILED after sys.exit(3); 4 fork-pool workers' points all arrive."""
    done = run_python(
        "import sys, opskit\n"
        "run = opskit.start_run(name='eda', params={'lr': 0.1})\n"
        "opskit.log_metric('loss', 0.5)\n"
        "opskit.set_tag('phase', 'eda')\n"
        "print(run.id, flush=True)\n"
        "sys.exit(3)\n",
        check=False,
    )
    assert done.returncode == 3, done.stderr
    run = opskit.get_run(done.stdout.split()[0])
    assert (run.status, run.params, run.metrics, run.tags) == (
        "FAILED",
        {"lr": 0.1},
        {"loss": 0.5},
        {"phase": "eda"},
    )
    assert "sys.exit(3)" in (run.error or "")
    done = run_python(
        "import multiprocessing, opskit\n"
        "run = opskit.start_run(name='cv')\n"
        "def fold(k):\n"
        "    run.log_metric('fold_auc', 0.5 + k / 10, step=k)\n"
        "    return k\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('fork').Pool(4) as pool:\n"
        "        assert sorted(pool.map(fold, range(4))) == [0, 1, 2, 3]\n"
        "    run.end()\n"
        "    print(run.id, flush=True)\n"
    )
    run = opskit.get_run(done.stdout.split()[0])
    assert run.status == "FINISHED"
    assert sorted((p.step, p.value) for p in run.metric_history("fold_auc")) == [
        (k, pytest.approx(0.5 + k / 10)) for k in range(4)
    ]


@given(st.text(max_size=20_000), st.text(max_size=20_000))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_json_documents_split_over_tags_round_trip(first: str, second: str) -> None:
    """A JSON document of any size survives being split over tags, also after a shorter rewrite."""
    from opskit_mlflow.encode import CHUNK, json_tags, read_json

    tags = json_tags("opskit.json.doc", {"text": first})
    assert all(len(v) <= CHUNK + 8 for v in tags.values())
    assert read_json(tags, "opskit.json.doc") == {"text": first}
    tags.update(json_tags("opskit.json.doc", [second]))  # stale parts of a longer value stay behind
    assert read_json(tags, "opskit.json.doc") == [second]


@pytest.mark.parametrize("tracker", ["mlflow-pg"], indirect=True)
def test_nan_params_and_metrics_search_the_same_on_postgresql(tracker: str) -> None:
    """On a PostgreSQL store (where NaN sorts above every number) NaN still matches no comparison and sorts as locally."""
    for value in (math.nan, 1.0, math.inf, -1.0):
        with opskit.start_run(name=str(value), params={"alpha": value}):
            opskit.log_metric("m", value)

    def names(*args: object, **kwargs: object) -> list[str]:
        return [r.name for r in opskit.search_runs(*args, **kwargs)]  # type: ignore[arg-type]

    assert names("metrics.m > 0") == names("params.alpha > 0") == ["inf", "1.0"]
    assert names("metrics.m != 1") == names("params.alpha != 1") == ["-1.0", "inf"]
    assert names("metrics.m >= -1", limit=2) == ["-1.0", "inf"]
    assert names(order_by=["metrics.m DESC"]) == ["inf", "1.0", "-1.0", "nan"]
    assert names(order_by=["params.alpha"]) == ["-1.0", "1.0", "inf", "nan"]
