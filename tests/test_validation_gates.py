"""Quality gates and evaluation: plain-comparison semantics, directions, fairness, custom and plugin gates, bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import opskit
from opskit import gates
from opskit.errors import DuplicateGate
from opskit.testing import plugin_manager
from opskit.validation.gates import GateContext

floats = st.floats(allow_nan=True, allow_infinity=True)


def ctx(metrics: dict[str, float], incumbent: dict[str, float] | None = None) -> GateContext:
    return GateContext(
        metrics=metrics,
        incumbents={} if incumbent is None else {"m@production": incumbent},
        model_name="m",
    )


@given(floats, floats)
def test_at_least_and_at_most_are_plain_comparisons(value: float, threshold: float) -> None:
    """at_least passes iff value >= threshold, at_most iff value <= threshold; a NaN never passes."""
    assert gates.at_least("m", threshold).decide(ctx({"m": value})).passed == (value >= threshold)
    assert gates.at_most("m", threshold).decide(ctx({"m": value})).passed == (value <= threshold)
    if math.isnan(value) or math.isnan(threshold):
        assert not gates.at_least("m", threshold).decide(ctx({"m": value})).passed
        assert not gates.at_most("m", threshold).decide(ctx({"m": value})).passed


@given(floats, floats, st.floats(0, 10) | st.just(0.0), st.booleans(), st.booleans())
def test_beats_is_a_plain_comparison_in_the_better_direction(
    challenger: float, incumbent: float, delta: float, relative: bool, greater: bool
) -> None:
    """beats passes iff challenger >= incumbent + delta (or <= incumbent - delta when lower is better); NaN never passes."""
    gate = gates.beats(
        "production", "m", min_delta=delta, relative=relative, greater_is_better=greater
    )
    result = gate.decide(ctx({"m": challenger}, {"m": incumbent}))
    step = (abs(incumbent) * delta if relative else delta) if delta else 0.0
    expected = challenger >= incumbent + step if greater else challenger <= incumbent - step
    assert result.passed == expected
    if math.isnan(challenger) or math.isnan(incumbent):
        assert not result.passed


def test_beats_passes_without_an_incumbent_and_says_so() -> None:
    """No version behind the alias yet: the gate passes with 'no incumbent yet'."""
    result = gates.beats("production", "m").decide(ctx({"m": 0.1}))
    assert result.passed and result.message == "no incumbent yet: m@production points at no version"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: gates.at_least("acc", "high"), "must be a number"),
        (lambda: gates.beats("prod uction", "acc"), "beats"),
        (lambda: gates.beats("production", "acc", min_delta=-1), "min_delta must be >= 0"),
        (lambda: gates.fairness("sex", "dpd", at_most=None), "must be a number"),
        (lambda: gates.plugin("no_such_gate"), "no plugin registers a gate named 'no_such_gate'"),
    ],
)
def test_bad_gate_arguments(make: Any, match: str) -> None:
    """Bad gate arguments are a ValidationError naming the value."""
    with pytest.raises(opskit.ValidationError, match=match):
        make()


# -- evaluation in a train call -----------------------------------------------------------------


def data(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    return X, pd.Series((X["x"] + 0.3 * rng.normal(size=n) > 0).astype(int))


def test_an_unknown_scorer_stops_before_the_body() -> None:
    """metrics=['acuracy']: ValidationError naming it (and the close names) before the function runs."""
    calls: list[int] = []

    @opskit.train(model="m", evaluate=("X_test", "y_test"), metrics=["acuracy"])
    def train(X_test: pd.DataFrame, y_test: pd.Series) -> None:
        calls.append(1)

    with pytest.raises(
        opskit.ValidationError,
        match=r"'acuracy' is not a scikit-learn scorer name \(did you mean 'accuracy'",
    ):
        train(*data())
    assert calls == []


def test_a_gate_on_a_metric_not_in_metrics_fails_at_decoration() -> None:
    """gates=[at_least('f1')] with metrics=['accuracy']: ValidationError naming f1."""
    with pytest.raises(
        opskit.ValidationError, match="reads metric 'f1', which is not in metrics=\\['accuracy'\\]"
    ):

        @opskit.train(
            model="m",
            evaluate=("X", "y"),
            metrics=["accuracy"],
            gates=[gates.at_least("f1", 0.5)],
        )
        def train(X: Any, y: Any) -> None: ...


def test_neg_scorers_and_lower_is_better_callables_compare_in_their_direction() -> None:
    """neg_log_loss (a negated loss: greater is better) and a callable with greater_is_better=False: beats() uses each direction."""

    def mse(model: Any, X: pd.DataFrame, y: pd.Series) -> float:
        return float(np.mean((model.predict_proba(X)[:, 1] - y) ** 2))

    mse.greater_is_better = False  # type: ignore[attr-defined]

    @opskit.train(
        model="m",
        alias="production",
        evaluate=("X_test", "y_test"),
        metrics={"log_loss": "neg_log_loss", "mse": mse},
        gates=[gates.beats("production", "log_loss"), gates.beats("production", "mse")],
    )
    def train(
        X: pd.DataFrame, y: pd.Series, X_test: pd.DataFrame, y_test: pd.Series, C: float
    ) -> Any:
        return LogisticRegression(C=C).fit(X, y)

    X, y = data()
    X_test, y_test = data(seed=1)
    train(X, y, X_test, y_test, C=1e-4)  # a weak (heavily regularised) champion
    weak = opskit.last_run()
    assert weak is not None and weak.metrics["log_loss"] < 0  # sklearn's sign: a negated loss
    train(X, y, X_test, y_test, C=1.0)  # better on both: registered
    better = opskit.last_run()
    assert better is not None and better.model_version is not None
    assert better.metrics["log_loss"] > weak.metrics["log_loss"]
    assert better.metrics["mse"] < weak.metrics["mse"]
    with pytest.warns(opskit.ValidationWarning, match="beats"):
        train(X, y, X_test, y_test, C=1e-4)  # worse again: both gates fail
    report = opskit.last_run().validation  # type: ignore[union-attr]
    assert report is not None and [g.status for g in report.gates] == ["failed", "failed"]
    assert opskit.models.get_version("m@production").version == 2


def test_a_nan_metric_never_passes() -> None:
    """A metric that comes out NaN fails at_least and at_most alike."""

    @opskit.train(
        model="m",
        evaluate=("X", "y"),
        metrics={"nan": lambda model, X, y: float("nan")},
        gates=[gates.at_least("nan", -math.inf), gates.at_most("nan", math.inf)],
    )
    def train(X: pd.DataFrame, y: pd.Series) -> Any:
        return LogisticRegression().fit(X, y)

    with pytest.warns(opskit.ValidationWarning):
        train(*data())
    report = opskit.last_run().validation  # type: ignore[union-attr]
    assert report is not None and [g.status for g in report.gates] == ["failed", "failed"]
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("m")


# -- fairness ------------------------------------------------------------------------------------


class Threshold:
    """Predicts 1 when score > 0: its selection rate per group is known by construction."""

    def fit(self, X: pd.DataFrame, y: Any) -> Threshold:
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X["score"].to_numpy() > 0).astype(int)


def fairness_data() -> tuple[pd.DataFrame, pd.Series]:
    """Group A: 80 of 100 selected; group B: 30 of 100 selected. Labels: half of each group positive."""
    score = np.r_[np.ones(80), -np.ones(20), np.ones(30), -np.ones(70)]
    sex = np.r_[["A"] * 100, ["B"] * 100]
    label = np.r_[np.ones(50), np.zeros(50), np.ones(50), np.zeros(50)].astype(int)
    return pd.DataFrame({"score": score, "sex": sex}), pd.Series(label)


@pytest.mark.parametrize(("limit", "passes"), [(0.55, True), (0.45, False)])
def test_fairness_gate_on_known_disparity(limit: float, passes: bool) -> None:
    """demographic_parity_difference over 'sex' is |0.8 - 0.3| = 0.5 by construction; the gate compares it with at_most."""
    expected = abs(80 / 100 - 30 / 100)

    @opskit.train(
        model="fair",
        evaluate=("X_test", "y_test"),
        gates=[gates.fairness("sex", "demographic_parity_difference", at_most=limit)],
    )
    def train(X_test: pd.DataFrame, y_test: pd.Series) -> Threshold:
        return Threshold()

    X, y = fairness_data()
    if passes:
        train(X, y)
    else:
        with pytest.warns(opskit.ValidationWarning, match="fairness"):
            train(X, y)
    report = opskit.last_run().validation  # type: ignore[union-attr]
    assert report is not None
    [gate] = report.gates
    assert gate.observed == pytest.approx(expected) and gate.threshold == limit
    assert gate.passed is passes and gate.target == "sex"


def test_fairness_takes_the_sensitive_column_from_an_argument_when_x_lacks_it() -> None:
    """The sensitive column may be an argument aligned with X_test; neither: ValidationError before the body."""
    X, y = fairness_data()
    # equalized_odds_difference by hand: TPR A = 50/50, B = 30/50; FPR A = 30/50, B = 0/50 → max(0.4, 0.6)
    expected = max(abs(50 / 50 - 30 / 50), abs(30 / 50 - 0 / 50))
    calls: list[int] = []

    @opskit.train(
        model="fair",
        evaluate=("X_test", "y_test"),
        gates=[gates.fairness("sex", "equalized_odds_difference", at_most=1.0)],
    )
    def train(X_test: pd.DataFrame, y_test: pd.Series, **groups: Any) -> Threshold:
        calls.append(1)
        return Threshold()

    train(X[["score"]], y, sex=X["sex"])
    [gate] = opskit.last_run().validation.gates  # type: ignore[union-attr]
    assert gate.observed == pytest.approx(expected)
    with pytest.raises(opskit.ValidationError, match="column 'sex' is neither a column"):
        train(X[["score"]], y)
    assert calls == [1]


def test_an_unknown_fairlearn_metric_stops_before_the_body() -> None:
    """fairness(..., 'parity') names fairlearn's metrics in its error, before training."""

    @opskit.train(
        model="fair", evaluate=("X", "y"), gates=[gates.fairness("sex", "parity", at_most=0.1)]
    )
    def train(X: pd.DataFrame, y: pd.Series) -> Threshold:
        raise AssertionError("the body ran")

    with pytest.raises(opskit.ValidationError, match="demographic_parity_difference"):
        train(*fairness_data())


# -- custom and plugin gates ------------------------------------------------------------------------


def test_a_callable_gate_sees_the_scores_and_the_model() -> None:
    """A callable (ctx) -> bool | GateResult decides with the metrics, the model and the evaluation data."""
    seen: dict[str, Any] = {}

    def small_model(ctx: GateContext) -> gates.GateResult:
        seen.update(metrics=dict(ctx.metrics), rows=len(ctx.X))
        size = int(ctx.model.coef_.size)
        return gates.GateResult(size <= 1, size, 1, f"{size} coefficients")

    @opskit.train(model="m", evaluate=("X", "y"), metrics=["accuracy"], gates=[small_model])
    def train(X: pd.DataFrame, y: pd.Series) -> Any:
        return LogisticRegression().fit(X, y)

    with pytest.warns(opskit.ValidationWarning, match="small_model"):
        train(*data())
    assert set(seen["metrics"]) == {"accuracy"} and seen["rows"] == 200
    [gate] = opskit.last_run().validation.gates  # type: ignore[union-attr]
    assert (gate.name, gate.observed, gate.status) == ("small_model", 2, "failed")


class MaxLatency:
    """A plugin shipping a gate by name."""

    @opskit.hookimpl
    def register_gates(self, register: Any) -> None:
        def rows_scored(ctx: GateContext, *, at_least: int) -> bool:
            return len(ctx.X) >= at_least

        register("rows_scored", rows_scored)


class Again:
    """A second plugin registering the same gate name."""

    @opskit.hookimpl
    def register_gates(self, register: Any) -> None:
        register("rows_scored", lambda ctx: True)


def test_a_plugin_ships_a_gate_by_name() -> None:
    """register_gates(register): gates.plugin('rows_scored', at_least=...) uses it; a name registered twice names both plugins."""
    with plugin_manager(MaxLatency()):

        @opskit.train(
            model="m",
            evaluate=("X", "y"),
            gates=[gates.plugin("rows_scored", at_least=100)],
        )
        def train(X: pd.DataFrame, y: pd.Series) -> Any:
            return LogisticRegression().fit(X, y)

        train(*data())
        [gate] = opskit.last_run().validation.gates  # type: ignore[union-attr]
        assert gate.name == "rows_scored(at_least=100)" and gate.passed
        with pytest.warns(opskit.ValidationWarning):
            train(*data(n=50))
    with plugin_manager(MaxLatency(), Again()), pytest.raises(DuplicateGate, match="rows_scored"):
        gates.plugin("rows_scored", at_least=1)


def test_without_metrics_gates_read_the_metrics_the_function_logged() -> None:
    """No metrics=: at_least/at_most read opskit.log_metric values; a metric never logged fails, saying so."""

    @opskit.train(model="m", gates=[gates.at_least("val_acc", 0.9), gates.at_most("loss", 1.0)])
    def train(val_acc: float) -> Any:
        opskit.log_metric("val_acc", val_acc)
        return LogisticRegression().fit(*data())

    with pytest.warns(opskit.ValidationWarning, match=r"at_most\(loss, 1\)"):
        train(0.95)
    assert opskit.last_run().model_version is None  # type: ignore[union-attr]
    report = opskit.last_run().validation  # type: ignore[union-attr]
    assert report is not None
    assert [(g.status, g.observed) for g in report.gates] == [("passed", 0.95), ("failed", None)]
    assert (
        report.gates[1].message == "metric 'loss' was never logged: add it to metrics= (or log it)"
    )


def test_a_fairness_gate_without_fairlearn_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Declaring gates.fairness without fairlearn installed raises ValidationError naming the extra."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "fairlearn" else real(name, *a),
    )
    with pytest.raises(opskit.ValidationError, match=r"needs fairlearn.*\[validation\]"):
        gates.fairness("sex", "demographic_parity_difference", at_most=0.1)
