"""checks.no_drift(reference=...): training on data that drifted from the production model's stops, on both trackers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import opskit
from opskit import checks
from opskit.errors import ValidationError

pytestmark = [
    pytest.mark.trackers("local", "mlflow"),
    pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning"),
]


def data(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.Series]:
    """Two numeric features and a categorical one; *shift* moves alcohol and acid by that many σ."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "alcohol": rng.normal(11.0 + shift, 1.0, n),
            "acid": rng.normal(shift, 1.0, n),
            "colour": rng.choice(["red", "white"], n),
        }
    )
    return X, pd.Series((X["alcohol"] > 11).astype(int), name="label")


def make_train(calls: list[str], **options: Any) -> Any:
    @opskit.train(model="wine", alias="production", **options)
    def train(X_train: pd.DataFrame, y_train: pd.Series) -> LogisticRegression:
        calls.append("body")
        return LogisticRegression().fit(X_train[["alcohol", "acid"]], y_train)

    return train


def test_no_drift_stops_training_on_drifted_data(tracker: str) -> None:
    """First training passes (no version yet), same-distribution data passes, shifted data stops before the body."""
    # The reference is the profile stored with wine@production at each registration.
    calls: list[str] = []
    train = make_train(calls, checks=[checks.no_drift("wine@production")])
    train(*data(3_000, 1))
    first = opskit.last_run()
    assert first is not None and first.validation is not None
    (result,) = first.validation.results
    assert result.passed and "no version wine@production yet" in result.message
    train(*data(3_000, 2))
    second = opskit.last_run()
    assert second is not None and second.validation is not None
    (result,) = second.validation.results
    assert result.passed and result.observed == 0.0 and result.threshold == 0.5
    assert calls == ["body", "body"]
    with pytest.raises(opskit.ValidationFailed) as info:
        train(*data(3_000, 3, shift=1.0))
    assert calls == ["body", "body"]  # stopped before the body
    report = info.value.report
    assert report is not None
    (failed,) = [r for r in report.results if not r.passed]
    assert failed.name == "no_drift('wine@production')" and failed.target == "X_train"
    assert failed.observed == 1.0 and failed.threshold == 0.5
    assert "2 drifted column(s): alcohol, acid" in failed.message
    assert "alcohol: wasserstein" in failed.message and "acid: wasserstein" in failed.message
    assert opskit.models.get_version("wine@production").version == 2  # nothing registered


def test_no_drift_from_data_or_a_profile_and_only_some_columns(tracker: str) -> None:
    """A profile or a frame works as reference; columns= compares only those (the categorical one did not move)."""
    X_ref, _ = data(3_000, 4)
    shifted, y = data(3_000, 5, shift=1.0)
    prof = opskit.monitor.profile(X_ref)
    for reference in (prof, X_ref):
        calls: list[str] = []
        make_train(calls, checks=[checks.no_drift(reference, columns=["colour"])])(shifted, y)
        assert calls == ["body"]
        with pytest.raises(opskit.ValidationFailed):
            make_train(calls, checks=[checks.no_drift(reference)])(shifted, y)
        assert calls == ["body"]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("bad ref!",), {}, "no_drift"),
        ((None,), {}, "no_drift"),
        (("wine@production",), {"drift_share": 0.0}, "drift_share"),
        (("wine@production",), {"alpha": 2.0}, "alpha"),
        (("wine@production",), {"columns": []}, "columns"),
        (("wine@production",), {"share": 0.1}, "unknown option"),
        (("wine@production",), {"methods": {"numeric": 3}}, "methods="),
        (("wine@production",), {"methods": ["psi"]}, "methods="),
        (("wine@production",), {"thresholds": 0.1}, "thresholds=0.1"),
        (("wine@production",), {"thresholds": {"numeric": float("nan")}}, r"\['numeric'\]=nan"),
        (
            ("wine@production",),
            {"thresholds": {"numeric": float("-inf")}},
            r"=-inf must be a number >= 0",
        ),
        (("wine@production",), {"thresholds": {"alcohol": -1}}, r"\['alcohol'\]=-1"),
        (("wine@production",), {"thresholds": {"alcohol": "0.1"}}, r"\['alcohol'\]='0.1'"),
        (("wine@production",), {"thresholds": {"alcohol": True}}, r"\['alcohol'\]=True"),
        (("wine@production",), {"workers": 0}, "workers=0"),
        (("wine@production",), {"workers": True}, "workers=True"),
    ],
)
def test_bad_no_drift_declarations_are_refused(
    tracker: str, args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    """A malformed reference, drift_share, alpha, columns or an unknown option raises ValidationError when declared."""
    with pytest.raises(ValidationError, match=match):
        checks.no_drift(*args, **kwargs)
