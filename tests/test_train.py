"""@opskit.train end to end on the embedded store: capture, registration, reload."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import opskit

pytestmark = pytest.mark.trackers("local", "mlflow")


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y


def test_train_captures_everything_and_registers(wine: tuple[pd.DataFrame, pd.Series]) -> None:
    """The issue's example: the return value is unchanged, the run holds params, data, code, env, model."""
    X, y = wine

    @opskit.train(model="wine", alias="staging")
    def train(X, y, *, n_estimators=100, max_depth=None):  # type: ignore[no-untyped-def]
        model = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=0
        ).fit(X, y)
        opskit.log_metric("train_acc", model.score(X, y))
        return model

    model = train(X, y, n_estimators=20)
    assert isinstance(model, RandomForestClassifier)
    run = opskit.last_run()
    assert run is not None
    assert run.status == "FINISHED"
    assert run.params == {"n_estimators": 20, "max_depth": None}
    assert run.metrics["train_acc"] == pytest.approx(model.score(X, y))
    assert [(i.name, i.kind, i.shape) for i in run.inputs] == [
        ("X", "dataframe", (178, 13)),
        ("y", "series", (178,)),
    ]
    assert run.inputs[0].schema is not None and run.inputs[0].schema.names[:2] == [
        "alcohol",
        "malic_acid",
    ]
    assert run.code is not None and "def train" in (run.code.source or "")
    assert run.code.file_digest is not None and run.code.file_digest.startswith("sha256:")
    assert run.env is not None and "scikit-learn" in run.env.packages
    assert run.experiment == "wine"
    assert run.started_at <= (run.ended_at or 0)
    mv = run.model_version
    assert mv is not None and (mv.name, mv.version, mv.flavor) == ("wine", 1, "sklearn")
    assert mv.signature is not None and mv.signature.names == list(X.columns)
    for ref in ("wine", "wine:1", "wine@staging"):
        again = opskit.load_model(ref)
        assert (again.predict(X) == model.predict(X)).all()


def test_versions_and_aliases_advance(wine: tuple[pd.DataFrame, pd.Series]) -> None:
    """Each call adds a version; alias= follows the newest; set_alias moves it back with history."""
    X, y = wine

    @opskit.train(model="clf", alias="staging")
    def fit(X, y, C=1.0):  # type: ignore[no-untyped-def]
        return make_pipeline(StandardScaler(), LogisticRegression(C=C)).fit(X, y)

    fit(X, y, C=0.1)
    fit(X, y, C=10.0)
    model = opskit.models.get("clf")
    assert [v.version for v in model.versions] == [1, 2]
    assert model.aliases == {"staging": 2}
    assert opskit.models.get_version("clf").version == 2
    change = opskit.models.set_alias("clf", "staging", 1)
    assert (change.previous_version, change.version) == (2, 1)
    assert opskit.load_model("clf@staging")[-1].C == 0.1
    history = opskit.models.history("clf", "staging")
    assert [(h.previous_version, h.version) for h in history] == [(None, 1), (1, 2), (2, 1)]
    assert [m.name for m in opskit.models.list()] == ["clf"]


def test_default_model_name_is_the_function_name() -> None:
    """Bare @opskit.train registers under the function's name."""

    @opskit.train
    def my_model(k: int = 3) -> dict[str, int]:
        return {"k": k}

    assert my_model(k=5) == {"k": 5}
    assert opskit.load_model("my_model") == {"k": 5}
    assert opskit.models.get_version("my_model").flavor == "cloudpickle"


def test_failing_function_leaves_failed_run_and_reraises() -> None:
    """An exception marks the run FAILED with its traceback and propagates unchanged."""

    class Boom(Exception):
        pass

    err = Boom("diverged at epoch 3")

    @opskit.train(model="fails")
    def train(lr: float = 0.1) -> object:
        opskit.log_metric("loss", 1.5)
        raise err

    with pytest.raises(Boom) as info:
        train(lr=0.5)
    assert info.value is err
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"
    assert "diverged at epoch 3" in (run.error or "") and "Traceback" in (run.error or "")
    assert run.metrics == {"loss": 1.5} and run.params == {"lr": 0.5}
    assert run.model_version is None
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("fails")


def test_unserializable_model_fails_the_run_with_a_clear_error() -> None:
    """Returning an object that cannot be pickled raises SerializationError and registers nothing."""

    @opskit.train(model="bad")
    def train() -> object:
        import threading

        return threading.Lock()

    with pytest.raises(opskit.SerializationError, match="cannot be serialized"):
        train()
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"
    with pytest.raises(opskit.ModelNotFound):
        opskit.load_model("bad")


def test_returning_none_warns_and_registers_nothing() -> None:
    """A train function that returns None finishes its run but warns that nothing was registered."""

    @opskit.train(model="nothing")
    def train() -> None:
        return None

    with pytest.warns(opskit.OpskitWarning, match="returned None"):
        train()
    run = opskit.last_run()
    assert run is not None and run.status == "FINISHED" and run.model_version is None


def test_track_params_inputs_and_artifacts(tmp_path: Path) -> None:
    """@track: JSON params kept with their types, ndarrays and files fingerprinted, artifacts stored."""
    data_file = tmp_path / "train.csv"
    data_file.write_text("a,b\n1,2\n")
    arr = np.arange(12, dtype="float64").reshape(4, 3)
    report = tmp_path / "report.txt"
    report.write_text("all good")

    @opskit.track(tags={"team": "ml"})
    def job(path, arr, *, lr=0.1, layers=(64, 32), opts=None, flag=True, name="x", **extra):  # type: ignore[no-untyped-def]
        opskit.log_artifact(report)
        opskit.set_tag("phase", "dev")
        return 42

    assert job(str(data_file), arr, layers=(8,), opts={"a": [1, 2]}, seed=7) == 42
    run = opskit.last_run()
    assert run is not None
    assert run.params == {
        "lr": 0.1,
        "layers": [8],
        "opts": {"a": [1, 2]},
        "flag": True,
        "name": "x",
        "seed": 7,
    }
    kinds = {i.name: i for i in run.inputs}
    assert kinds["path"].kind == "file" and kinds["path"].path == str(data_file.resolve())
    assert kinds["arr"].kind == "ndarray" and kinds["arr"].shape == (4, 3)
    tags = dict(run.tags)
    assert tags.pop("opskit.imports")  # the modules the process imported (models requirements)
    assert tags == {"team": "ml", "phase": "dev"}
    # opskit/function.* link the run to its function stored by value (opskit reproduce)
    assert [a.name for a in run.artifacts] == [
        "opskit/function.pkl",
        "opskit/function.json",
        "report.txt",
    ]
    assert run.model_version is None


def test_same_data_same_digest_and_changed_data_new_digest() -> None:
    """Data fingerprints are stable for equal content and change with any cell."""
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})

    @opskit.track
    def use(df):  # type: ignore[no-untyped-def]
        return None

    use(df)
    first = opskit.last_run()
    use(df.copy())
    second = opskit.last_run()
    changed = df.copy()
    changed.loc[1, "b"] = "Y"
    use(changed)
    third = opskit.last_run()
    assert first and second and third
    assert first.inputs[0].digest == second.inputs[0].digest != third.inputs[0].digest


def test_methods_and_nested_runs() -> None:
    """Decorated methods skip self; a run inside a run records its parent."""

    class Trainer:
        @opskit.track
        def inner(self, depth: int = 1) -> int:
            return depth

        @opskit.track
        def outer(self, width: int = 2) -> str:
            self.inner(depth=3)
            child = opskit.last_run()
            assert child is not None
            active = opskit.active_run()
            assert active is not None
            return child.tags["opskit.parent_run_id"] + ":" + active.id

    parent_of_child, outer_id = Trainer().outer().split(":")
    assert parent_of_child == outer_id
    outer = opskit.get_run(outer_id)
    assert outer.params == {"width": 2}
    assert opskit.active_run() is None


def test_start_run_context_manager() -> None:
    """with opskit.start_run(): logs go to that run, which ends FINISHED (or FAILED on error)."""
    with opskit.start_run(name="eda", params={"sample": 0.1}) as run:
        for step in range(3):
            opskit.log_metric("loss", 1.0 / (step + 1))
        opskit.log_params({"extra": "yes"})
    stored = opskit.get_run(run.id)
    assert stored.status == "FINISHED" and stored.name == "eda"
    assert stored.params == {"sample": 0.1, "extra": "yes"}
    assert [m.step for m in stored.metric_history("loss")] == [0, 1, 2]
    assert stored.metrics["loss"] == pytest.approx(1 / 3)
    with pytest.raises(ZeroDivisionError), opskit.start_run(name="broken") as broken:
        _ = 1 / 0
    assert opskit.get_run(broken.id).status == "FAILED"


def test_log_functions_outside_a_run_raise_no_active_run() -> None:
    """log_* outside a run raise NoActiveRun (a RuntimeError) telling how to start one."""
    for call in (
        lambda: opskit.log_metric("a", 1.0),
        lambda: opskit.log_metrics({"a": 1.0}),
        lambda: opskit.log_param("a", 1),
        lambda: opskit.log_params({"a": 1}),
        lambda: opskit.set_tags({"a": "b"}),
        lambda: opskit.log_artifact("x"),
    ):
        with pytest.raises(opskit.NoActiveRun, match="@opskit.train"):
            call()


def test_bad_values_raise_and_keep_the_run_consistent() -> None:
    """Bad metric values, keys and steps raise specific errors; the run still ends cleanly."""
    with opskit.start_run() as run:
        with pytest.raises(opskit.InvalidValue, match="must be a number"):
            opskit.log_metric("acc", "high")  # type: ignore[arg-type]
        with pytest.raises(opskit.InvalidName):
            opskit.log_metric("bad\nkey", 1.0)
        with pytest.raises(opskit.InvalidValue, match="non-negative int"):
            opskit.log_metric("acc", 1.0, step=-1)
        with pytest.raises(opskit.InvalidValue, match="not JSON-able"):
            opskit.log_param("obj", object())
        opskit.log_metric("acc", 0.9)
    stored = opskit.get_run(run.id)
    assert stored.metrics == {"acc": 0.9} and stored.params == {}


def test_bad_decorator_options_fail_at_decoration_time() -> None:
    """Invalid model names or aliases are refused when decorating, before any run."""
    with pytest.raises(opskit.InvalidName):
        opskit.train(model="bad name")
    with pytest.raises(opskit.InvalidName):
        opskit.train(model="ok", alias="latest")
    assert opskit.search_runs() == []


def test_unknown_references_raise_model_not_found(wine: tuple[pd.DataFrame, pd.Series]) -> None:
    """wine:99, wine@nope and no-such-model each raise ModelNotFound saying what exists."""

    @opskit.train(model="wine", alias="staging")
    def train(X, y):  # type: ignore[no-untyped-def]
        return DecisionTreeClassifier(max_depth=2).fit(X, y)

    train(*wine)
    with pytest.raises(opskit.ModelNotFound, match="99"):
        opskit.load_model("wine:99")
    with pytest.raises(opskit.ModelNotFound, match="staging"):
        opskit.load_model("wine@nope")
    with pytest.raises(opskit.ModelNotFound, match="wine"):
        opskit.load_model("no-such-model")
    with pytest.raises(opskit.InvalidModelRef):
        opskit.load_model("wine@")
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.set_alias("wine", "prod", 7)
    assert opskit.models.get("wine").aliases == {"staging": 1}


def test_tampered_model_blob_is_refused_on_load(store: Path) -> None:
    """Changing the stored model bytes makes load_model raise BlobCorrupted, unpickling nothing."""

    @opskit.train(model="tamper")
    def train() -> dict[str, int]:
        return {"weights": 1}

    train()
    version = opskit.models.get_version("tamper")
    hexdigest = version.digest.split(":")[1]
    blob = store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b"weights", b"WEIGHTS"))
    with pytest.raises(opskit.BlobCorrupted, match="does not match its digest"):
        opskit.load_model("tamper")


def test_search_runs_filters_and_orders() -> None:
    """search_runs takes MLflow's filter syntax and converts to pandas."""

    @opskit.track
    def fit(alpha: float) -> None:
        opskit.log_metric("r2", 1 - alpha)

    for alpha in (0.05, 0.2, 0.4, 0.8):
        fit(alpha)
    found = opskit.search_runs(
        "params.alpha > 0.1 and metrics.r2 >= 0.5", order_by=["metrics.r2 DESC"]
    )
    assert [r.params["alpha"] for r in found] == [0.2, 0.4]
    frame = found.to_pandas()
    assert list(frame["params.alpha"]) == [0.2, 0.4]
    assert len(opskit.search_runs(limit=3)) == 3
    with pytest.raises(opskit.InvalidFilter):
        opskit.search_runs("params.alpha >>> 1")


def test_record_rendering() -> None:
    """Run and ModelVersion print a summary and render HTML for notebooks."""

    @opskit.train(model="render", alias="staging")
    def train(alpha: float = 0.5) -> dict[str, float]:
        opskit.log_metric("r2", 0.75)
        return {"alpha": alpha}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train()
    run = opskit.last_run()
    assert run is not None and run.model_version is not None
    text = run.summary()
    assert "alpha=0.5" in text and "r2=0.75" in text and "render:1" in text
    html = run._repr_html_()
    assert "<table>" in html and "r2" in html
    assert "render:1" in run.model_version._repr_html_()
    assert "<table" in opskit.search_runs()._repr_html_()


def test_threads_have_their_own_runs() -> None:
    """Decorated functions running in 4 threads at once each log to their own run."""
    from concurrent.futures import ThreadPoolExecutor

    @opskit.track
    def work(worker: int) -> str:
        for step in range(20):
            opskit.log_metric("value", float(worker * 100 + step))
        active = opskit.active_run()
        assert active is not None
        return active.id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(work, range(4)))
    assert len(set(ids)) == 4
    for worker, run_id in enumerate(ids):
        run = opskit.get_run(run_id)
        assert run.params == {"worker": worker}
        assert [p.value for p in run.metric_history("value")] == [
            float(worker * 100 + s) for s in range(20)
        ]
    assert opskit.active_run() is None
