"""Validation decides what gets registered, and the report is stored with the run: on both trackers."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import opskit
from opskit import checks, gates
from opskit.testing import plugin_manager

pytestmark = pytest.mark.trackers("local", "mlflow")


def data(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Two features, a label that the first one decides (a linear model gets ~100%)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"alcohol": rng.uniform(8, 15, n), "acid": rng.normal(size=n)})
    y = pd.Series((X["alcohol"] > 11.5).astype(int), name="label")
    return X, y


def fit(X: pd.DataFrame, y: pd.Series, good: bool) -> Any:
    return LogisticRegression().fit(X, y) if good else DummyClassifier().fit(X, y)


def make_train(calls: list[str], **options: Any) -> Any:
    defaults: dict[str, Any] = {
        "model": "wine",
        "alias": "production",
        "evaluate": ("X_test", "y_test"),
        "metrics": ["accuracy", "f1_macro"],
        "gates": [gates.beats("production", "f1_macro")],
    }

    @opskit.train(**{**defaults, **options})
    def train(
        X_train: pd.DataFrame,
        y_train: pd.Series,
        X_test: pd.DataFrame,
        y_test: pd.Series,
        good: bool = True,
    ) -> Any:
        calls.append("body")
        return fit(X_train, y_train, good)

    return train


def test_a_failing_data_check_stops_before_the_body_and_fails_the_run(tracker: str) -> None:
    """A failed check raises ValidationFailed with the report; the body never ran; run FAILED with the report and tags stored."""
    calls: list[str] = []
    train = make_train(calls, checks=[checks.between("alcohol", 0, 20), checks.not_null()])
    X, y = data()
    bad = X.copy()
    bad.loc[7, "alcohol"] = 99.0
    with pytest.raises(opskit.ValidationFailed) as info:
        train(bad, y, X, y)
    assert calls == []
    report = info.value.report
    assert report is not None and report.outcome == "stopped" and report.status == "failed"
    failed = [r for r in report.results if not r.passed]
    assert [(r.name, r.target) for r in failed] == [
        ("between(alcohol, 0.0, 20.0)", "X_train.alcohol")
    ]
    assert "rows [7]" in failed[0].message and "99.0" in failed[0].message
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"
    assert run.tags["opskit.validation"] == "failed"
    assert run.tags["opskit.validation.outcome"] == "stopped"
    stored = run.validation
    assert stored is not None and stored.to_dict() == report.to_dict()
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("wine")


def test_a_worse_challenger_is_not_registered_and_the_alias_stays(tracker: str) -> None:
    """Champion vs challenger on the same data: a worse one finishes, warns, returns its model, registers nothing."""
    calls: list[str] = []
    train = make_train(calls)
    X, y = data()
    X_test, y_test = data(seed=1)
    champion = train(X, y, X_test, y_test)
    first = opskit.last_run()
    assert first is not None and first.tags["opskit.validation.outcome"] == "registered"
    assert first.validation is not None and first.validation.gates[0].message.startswith(
        "no incumbent yet"
    )
    assert opskit.models.get_version("wine@production").version == 1

    with pytest.warns(opskit.ValidationWarning, match=r"beats\(production, f1_macro\)"):
        challenger = train(X, y, X_test, y_test, good=False)
    assert isinstance(challenger, DummyClassifier) and calls == ["body", "body"]
    run = opskit.last_run()
    assert run is not None and run.status == "FINISHED" and run.model_version is None
    assert opskit.models.get_version("wine@production").version == 1
    assert [v.version for v in opskit.models.get("wine").versions] == [1]
    # both scored on the same held-out data, in the same run
    expected_champion = champion.score(X_test, y_test)
    assert run.metrics["incumbent.accuracy"] == pytest.approx(expected_champion)
    assert run.metrics["accuracy"] == pytest.approx(challenger.score(X_test, y_test))
    report = run.validation
    assert report is not None
    assert report.outcome == "not_registered" and report.incumbent == "wine:1"
    assert report.incumbent_metrics["accuracy"] == pytest.approx(expected_champion)
    gate = report.gates[0]
    assert gate.status == "failed" and gate.incumbent == report.incumbent_metrics["f1_macro"]
    assert run.tags["opskit.validation"] == "failed"


def test_a_better_challenger_is_registered_and_moves_the_alias(tracker: str) -> None:
    """A challenger that beats @production is registered and the alias moves to it."""
    calls: list[str] = []
    train = make_train(calls, gates=[gates.beats("wine@production", "accuracy", min_delta=0.1)])
    X, y = data()
    X_test, y_test = data(seed=1)
    baseline = make_train(calls, gates=[])
    baseline(X, y, X_test, y_test, good=False)  # a weak champion, registered without gates
    assert opskit.models.get_version("wine@production").version == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", opskit.ValidationWarning)
        train(X, y, X_test, y_test)
    run = opskit.last_run()
    assert run is not None and run.model_version is not None
    assert opskit.models.get_version("wine@production").version == 2
    report = run.validation
    assert report is not None and report.passed and report.outcome == "registered"
    gate = report.gates[0]
    assert gate.incumbent is not None and gate.observed >= gate.incumbent + 0.1
    assert gate.threshold == pytest.approx(gate.incumbent + 0.1)


def test_on_fail_register_marks_the_version_rejected_and_keeps_the_alias(tracker: str) -> None:
    """on_fail="register" registers the version (opskit.status=rejected) without moving the alias."""
    calls: list[str] = []
    train = make_train(calls, gates=[gates.at_least("accuracy", 0.99)], on_fail="register")
    X, y = data()
    train(X, y, X, y)
    with pytest.warns(opskit.ValidationWarning, match="registered as rejected"):
        train(X, y, X, y, good=False)
    versions = opskit.models.get("wine").versions
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].metadata.get("opskit.status") == "rejected"
    assert versions[1].status == "rejected"  # the lifecycle status, audited with the failing gates
    assert versions[0].status == "candidate"
    rejected = [
        e for e in opskit.audit.log(model=versions[1].name) if e.after == {"status": "rejected"}
    ]
    assert len(rejected) == 1 and "validation gates failed" in (rejected[0].reason or "")
    assert "opskit.status" not in versions[0].metadata
    assert opskit.models.get_version("wine@production").version == 1
    run = opskit.last_run()
    assert run is not None and run.tags["opskit.validation.outcome"] == "rejected"


def test_on_fail_raise_raises_and_registers_nothing(tracker: str) -> None:
    """on_fail="raise": a failed gate raises ValidationFailed (run FAILED, report stored), nothing registered."""
    train = make_train([], gates=[gates.at_least("accuracy", 0.99)], on_fail="raise")
    X, y = data()
    with pytest.raises(opskit.ValidationFailed, match=r"at_least\(accuracy, 0.99\)") as info:
        train(X, y, X, y, good=False)
    assert info.value.report is not None and info.value.report.outcome == "not_registered"
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"
    assert run.validation is not None and run.validation.to_dict() == info.value.report.to_dict()
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("wine")


def test_search_runs_filters_on_the_validation_tags(tracker: str) -> None:
    """tags.opskit.validation and tags.opskit.validation.outcome are searchable on both trackers."""
    train = make_train([], gates=[gates.at_least("accuracy", 0.9)])
    X, y = data()
    train(X, y, X, y)
    with pytest.warns(opskit.ValidationWarning):
        train(X, y, X, y, good=False)
    passed = opskit.search_runs("tags.opskit.validation = 'passed'")
    failed = opskit.search_runs("tags.opskit.validation = 'failed'")
    rejected = opskit.search_runs("tags.opskit.validation.outcome = 'not_registered'")
    assert len(passed) == 1 and len(failed) == 1 and [r.id for r in rejected] == [failed[0].id]
    assert passed[0].model_version is not None and failed[0].model_version is None


def test_an_incumbent_that_cannot_score_the_data_is_an_error_result(tracker: str) -> None:
    """beats() on an incumbent trained on other columns: status error with a clear message, nothing registered."""
    X, y = data()
    other = LogisticRegression().fit(X.rename(columns={"acid": "sugar"}), y)
    opskit.models.register(other, name="wine", alias="production")
    train = make_train([])
    with pytest.warns(opskit.ValidationWarning):
        train(X, y, X, y)
    run = opskit.last_run()
    assert run is not None and run.status == "FINISHED" and run.model_version is None
    report = run.validation
    assert report is not None and report.status == "error"
    assert run.tags["opskit.validation"] == "error"
    gate = report.gates[0]
    assert gate.status == "error"
    assert "incumbent wine@production (wine:1) cannot score the evaluation data" in gate.message
    assert "sugar" in gate.message or "acid" in gate.message
    assert [v.version for v in opskit.models.get("wine").versions] == [1]
    assert opskit.models.get_version("wine@production").version == 1


class Seen:
    """Records after_validation calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    @opskit.hookimpl
    def after_validation(self, run: opskit.Run, report: opskit.ValidationReport) -> None:
        self.calls.append((run.id, report.status, report.outcome))


def test_after_validation_fires_once_with_the_stored_report(tracker: str, tmp_path: Any) -> None:
    """after_validation(run, report) is broadcast once per validated call, with the outcome."""
    seen = Seen()
    X, y = data()
    with plugin_manager(seen, entrypoints=True):
        train = make_train([], gates=[gates.at_least("accuracy", 0.9)])
        train(X, y, X, y)
        with pytest.raises(opskit.ValidationFailed):
            make_train([], checks=[checks.row_count(min=10_000)])(X, y, X, y)
    runs = opskit.search_runs()
    ids = {r.status: r.id for r in runs}
    assert seen.calls == [
        (ids["FINISHED"], "passed", "registered"),
        (ids["FAILED"], "failed", "stopped"),
    ]


def test_track_takes_checks_too(tracker: str) -> None:
    """@opskit.track(checks=...) runs them before the body; a passing run stores the report (not_registered)."""
    calls: list[int] = []

    @opskit.track(checks=[checks.unique("id")])
    def prepare(frame: pd.DataFrame) -> int:
        calls.append(1)
        return len(frame)

    assert prepare(pd.DataFrame({"id": [1, 2, 3]})) == 3
    run = opskit.last_run()
    assert run is not None and run.validation is not None and run.validation.passed
    assert run.tags["opskit.validation.outcome"] == "not_registered"
    with pytest.raises(opskit.ValidationFailed, match=r"unique\(id\)"):
        prepare(pd.DataFrame({"id": [1, 2, 2]}))
    assert calls == [1]


def test_a_run_without_validation_has_no_report(tracker: str) -> None:
    """Runs that declare no checks or gates have run.validation None and no validation tags."""

    @opskit.train(model="plain")
    def train(X: pd.DataFrame, y: pd.Series) -> Any:
        return LogisticRegression().fit(X, y)

    train(*data())
    run = opskit.last_run()
    assert run is not None and run.validation is None
    assert not any(k.startswith("opskit.validation") for k in run.tags)
