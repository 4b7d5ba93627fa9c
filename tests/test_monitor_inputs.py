"""Monitoring fed the inputs a demanding user sends: every kind of time value, label container, window and column name.

A real deployment (``inputs``: a classifier whose input columns are named ``label``,
``variant`` and ``grp``, with missing values, predicting the texts ``yes``/``no``), real
HTTP, the real prediction log.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit import gates
from opskit.errors import ColumnNotFound, DeploymentNotFound, InvalidValue, OpskitWarning
from opskit.monitor.perf import LABEL_DAYS_KIND, MISSING_GROUP
from opskit.runtime import get_tracker
from opskit.serve.predlog import PredictionLog

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

ENV_VARS = (
    "OPSKIT_TRACKER",
    "OPSKIT_STORAGE",
    "OPSKIT_EXPERIMENT",
    "OPSKIT_LOAD_PLUGINS",
    "OPSKIT_DISABLE_PLUGINS",
    "OPSKIT_SERVE_TOKEN",
)
NAME = "inputs"


class Served:
    """The deployment ``inputs`` and the frame its requests come from."""

    def __init__(self, home: Path, url: str, X: pd.DataFrame, y: np.ndarray) -> None:
        self.home, self.url, self.X, self.y = home, url, X, y

    def send(self, prefix: str, start: int, stop: int) -> pd.DataFrame:
        """POST rows ``[start, stop)`` as 2-row requests ``<prefix>-<i>``; their log rows with the true class ``y``."""
        first: dict[str, int] = {}
        with httpx.Client() as client:
            for i, begin in enumerate(range(start, stop, 2)):
                rid = f"{prefix}-{i}"
                part = self.X.iloc[begin : min(begin + 2, stop)]
                answer = client.post(
                    f"{self.url}/predict",
                    json=json.loads(part.to_json(orient="records")),  # NaN as null
                    headers={"X-Request-Id": rid},
                )
                assert answer.status_code == 200, answer.text
                first[rid] = begin
        deadline = time.monotonic() + 30
        log = opskit.monitor.predictions(NAME)
        while time.monotonic() < deadline and log.request_id.isin(first).sum() < stop - start:
            time.sleep(0.2)
            log = opskit.monitor.predictions(NAME)
        log = log[log.request_id.isin(first)].reset_index(drop=True)
        truth = [
            self.y[first[rid] + int(row)] for rid, row in zip(log.request_id, log.row, strict=True)
        ]
        return log.assign(y=truth)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A classifier over inputs named ``label``, ``variant``, ``grp`` (10 % missing) and ``prediction_window``, deployed as ``inputs``."""
    home = tmp_path_factory.mktemp("inputs") / ".opskit"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        rng = np.random.default_rng(7)
        n = 400
        X = pd.DataFrame(
            {
                "label": rng.normal(size=n).round(3),
                "variant": rng.normal(size=n).round(3),
                "grp": rng.integers(0, 3, n).astype(float),
                "prediction_window": rng.integers(1, 30, n),  # an input named like an output
            }
        )
        X.loc[::10, "grp"] = np.nan
        y = np.where(X["label"] + 0.3 * rng.normal(size=n) > 0, "yes", "no")

        @opskit.train(model="clash")
        def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
            return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

        fit(X, pd.Series(y))
        dep = opskit.deploy("clash:1", name=NAME, workers=1)
        assert dep.url is not None
        try:
            yield Served(home, dep.url, X, y)
        finally:
            opskit.deployments.stop(NAME)
            opskit.reset_defaults()


@pytest.fixture
def served(deployed: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    """The deployment's store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(deployed.home))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    opskit.reset_defaults()
    return deployed


def sent(served: Served, prefix: str, start: int, stop: int) -> pd.DataFrame:
    """Send rows ``[start, stop)`` of the frame; their log rows with the true class ``y``."""
    return served.send(prefix, start, stop)


def label_state() -> dict[str, Any]:
    tracker = get_tracker()
    return {k: tracker.list_state(f"labels/{k}") for k in tracker.list_state(LABEL_DAYS_KIND)}


# -- an input column named like the truth or a log column ------------------------------------------


def test_an_input_named_label_is_an_input_and_the_truth_is_the_logged_label(
    served: Served,
) -> None:
    """performance() and fairness() work when an input column is called "label": metrics are sklearn's on the truth."""
    rows = sent(served, "lab", 0, 60)
    done = opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    assert done.matched == len(rows) == 60
    since, until = rows.ts.min(), rows.ts.max() + pd.Timedelta(seconds=1)
    report = opskit.monitor.performance(NAME, window=None, since=since, until=until)
    (window,) = report.windows
    assert window.count == 60
    assert window.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(rows.y, rows.prediction), abs=1e-12
    )
    with pytest.warns(OpskitWarning, match=r"sensitive column 'label' of 'inputs' has 60 distinct"):
        fair = opskit.monitor.fairness(NAME, column="label", window=None, since=since, until=until)
    (fw,) = fair.windows
    # Groups are the input feature's values, not the yes/no truth.
    assert set(fw.counts) == {str(v) for v in rows["label"]} and "yes" not in fw.counts


def test_fairness_column_named_like_a_log_column_reads_the_input(served: Served) -> None:
    """fairness(column="variant") groups by the input column "variant" (logged as input.variant), not the served variant."""
    rows = sent(served, "var", 60, 100)
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    since, until = rows.ts.min(), rows.ts.max() + pd.Timedelta(seconds=1)
    with pytest.warns(OpskitWarning, match="'variant' of 'inputs' has 40 distinct values"):
        fair = opskit.monitor.fairness(
            NAME, column="variant", window=None, since=since, until=until
        )
    (fw,) = fair.windows
    assert set(fw.counts) == {str(v) for v in rows["input.variant"]}
    assert fw.variant == "clash:1"


def test_an_input_named_like_an_output_is_logged_and_compared_as_an_input(
    served: Served,
) -> None:
    """An input "prediction_window" is logged as input.prediction_window, compared by drift(current=<deployment>), groups fairness."""
    rows = sent(served, "pw", 194, 200)
    assert "input.prediction_window" in rows.columns and "prediction_window" not in rows.columns
    assert list(rows["input.prediction_window"]) == [
        int(served.X.prediction_window.iloc[194 + 2 * int(rid.rsplit("-", 1)[1]) + row])
        for rid, row in zip(rows.request_id, rows.row, strict=True)
    ]
    report = opskit.monitor.drift(reference="clash:1", current=NAME)
    assert set(report.columns) == {"label", "variant", "grp", "prediction_window"}
    assert report.ignored_columns == ()
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    fair = opskit.monitor.fairness(NAME, column="prediction_window", since=rows.ts.min())
    assert sum(fair.windows[0].counts.values()) == len(rows)


def test_logs_written_before_the_prefix_keep_such_inputs() -> None:
    """In a log frame with "prediction", an unprefixed "prediction_x" is an input; without it, prediction_<k> are outputs."""
    from opskit.monitor.prediction_log import deployment_inputs

    meta = {"request_id": ["r"], "row": [0], "ts": [0], "deployment": ["d"], "variant": ["v"]}
    old = pd.DataFrame(
        {
            **meta,
            "role": ["primary"],
            "version": ["m:1"],
            "prediction_window": [3],
            "x": [1.0],
            "prediction": [1],
        }
    )
    assert list(deployment_inputs(old).columns) == ["prediction_window", "x"]
    multi = pd.DataFrame(
        {
            **meta,
            "role": ["primary"],
            "version": ["m:1"],
            "x": [1.0],
            "prediction_0": [0.2],
            "prediction_1": [0.8],
        }
    )
    assert list(deployment_inputs(multi).columns) == ["x"]


def test_fairness_missing_sensitive_values_are_one_group(served: Served) -> None:
    """A sensitive column with missing values (null in JSON, NaN in the log) gives one group named <missing>."""
    rows = sent(served, "miss", 100, 160)
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    since, until = rows.ts.min(), rows.ts.max() + pd.Timedelta(seconds=1)
    fair = opskit.monitor.fairness(
        NAME, column=["grp", "grp"], window=None, since=since, until=until
    )
    assert fair.columns == ("grp",) and len(fair.windows) == 1  # the duplicate counted once
    (fw,) = fair.windows
    missing = int(rows.grp.isna().sum())
    assert missing == 6
    assert fw.counts[MISSING_GROUP] == missing
    assert sum(fw.counts.values()) == len(rows)
    expected = skm.accuracy_score(rows.y[rows.grp.isna()], rows.prediction[rows.grp.isna()])
    assert fw.by_group["accuracy"][MISSING_GROUP] == pytest.approx(expected)
    assert "nan" not in fw.counts and "None" not in fw.counts


def test_fairness_unknown_column_raises_even_without_labels(served: Served) -> None:
    """A sensitive column the log does not have raises ColumnNotFound although no prediction in range is labelled yet."""
    rows = sent(served, "nolab", 160, 164)
    since = rows.ts.min()
    with pytest.raises(
        ColumnNotFound, match=r"'sex'.*input columns: grp, label, prediction_window, variant"
    ):
        opskit.monitor.fairness(NAME, column="sex", since=since)
    with pytest.raises(ColumnNotFound, match="'role'"):
        opskit.monitor.fairness(NAME, column="role", since=since)


def test_regression_task_with_text_labels_is_a_clear_error(served: Served) -> None:
    """task='regression' on yes/no labels raises InvalidValue naming a label, not a numpy ValueError."""
    rows = sent(served, "regtxt", 164, 170)
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    with pytest.raises(InvalidValue, match=r"task='regression' but a label is '(yes|no)'"):
        opskit.monitor.performance(NAME, task="regression", since=rows.ts.min())


def test_labels_of_another_kind_than_the_predictions_warn(served: Served) -> None:
    """Labels 0/1 for a model predicting 'yes'/'no' match nothing: performance() and fairness() warn, naming both kinds."""
    rows = sent(served, "kind", 182, 188)
    opskit.monitor.log_labels(
        NAME, list(rows.request_id), [int(v == "yes") for v in rows.y], rows=list(rows.row)
    )
    since = rows.ts.min()
    with pytest.warns(
        OpskitWarning, match=r"no label of 'inputs' equals any of its predictions.*'no'"
    ):
        report = opskit.monitor.performance(NAME, window=None, since=since)
    assert report.windows[0].metrics["accuracy"] == 0.0
    with pytest.warns(OpskitWarning, match="every metric counts them all wrong"):
        opskit.monitor.fairness(NAME, column="grp", window=None, since=since)
    # The right kind of labels: no warning.
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OpskitWarning)
        opskit.monitor.performance(NAME, window=None, since=since)


def test_a_model_wrong_on_a_small_sample_does_not_warn() -> None:
    """Labels 0 for predictions 1 (same kind, one value each) is a wrong model, not wrong labels: no warning."""
    log = PredictionLog("wrong")
    log.record("w1", "m@a", "primary", "m:1", ("x",), [[0.0], [1.0]], [1, 1], ts=1.8e9)
    assert log.flush() == 2
    opskit.monitor.log_labels("wrong", ["w1", "w1"], [0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OpskitWarning)
        report = opskit.monitor.performance("wrong", window=None)
    assert report.windows[0].metrics["accuracy"] == 0.0


def test_metrics_of_the_other_task_raise_instead_of_counting_as_a_breach(served: Served) -> None:
    """rmse on yes/no labels and fairlearn rates on text labels raise InvalidValue (a NaN failed the gate: a false alert)."""
    rows = sent(served, "task", 188, 194)
    opskit.monitor.log_labels(NAME, list(rows.request_id), list(rows.y), rows=list(rows.row))
    since = rows.ts.min()
    with pytest.raises(InvalidValue, match="metric 'rmse' is for numbers"):
        opskit.monitor.performance(NAME, since=since, thresholds=[gates.at_most("rmse", 0.5)])
    with pytest.raises(InvalidValue, match="metric 'mae' is for numbers"):
        opskit.monitor.performance(NAME, since=since, metrics=["mae"])
    with pytest.raises(
        InvalidValue, match=r"'selection_rate' counts the positive class 1.*'no', 'yes'"
    ):
        opskit.monitor.fairness(NAME, column="grp", since=since, metrics=["selection_rate"])
    with pytest.raises(InvalidValue, match="mean_prediction cannot be computed"):
        opskit.monitor.fairness(NAME, column="grp", since=since, metrics=["mean_prediction"])


def test_classification_metrics_on_regression_labels_raise() -> None:
    """On continuous labels, an accuracy threshold or metric raises InvalidValue; regression metrics still work."""
    log = PredictionLog("regress")
    preds = [0.5, 1.25, 2.0, 3.5]
    log.record("q1", "m@a", "primary", "m:1", ("x",), [[p] for p in preds], preds, ts=1.8e9)
    assert log.flush() == 4
    opskit.monitor.log_labels("regress", ["q1"] * 4, [0.4, 1.5, 2.25, 3.0])
    ok = opskit.monitor.performance("regress", window=None)
    assert ok.task == "regression" and ok.windows[0].metrics["mae"] == pytest.approx(0.275)
    with pytest.raises(InvalidValue, match="metric 'accuracy' is for classification"):
        opskit.monitor.performance("regress", thresholds=[gates.at_least("accuracy", 0.5)])
    with pytest.raises(InvalidValue, match="metric 'f1_macro' is for classification"):
        opskit.monitor.fairness("regress", column="x", metrics=["f1_macro"])
    with pytest.raises(InvalidValue, match="'false_positive_rate' counts the positive class 1"):
        opskit.monitor.fairness("regress", column="x", metrics=["false_positive_rate"])


def test_labels_logged_as_ints_bools_and_floats_in_separate_calls_all_join() -> None:
    """0/1, True/False and 1.0 labels from different calls compare equal to 0/1 predictions (True was "true" as text)."""
    log = PredictionLog("kinds")
    preds = [0, 1, 1, 0, 1, 0]
    log.record("k1", "m@a", "primary", "m:1", ("x",), [[float(p)] for p in preds], preds, ts=1.8e9)
    assert log.flush() == 6
    opskit.monitor.log_labels("kinds", ["k1"] * 2, [0, 1], rows=[0, 1])
    opskit.monitor.log_labels("kinds", ["k1"] * 2, [True, False], rows=[2, 3])
    opskit.monitor.log_labels("kinds", ["k1"] * 2, [1.0, 0.0], rows=[4, 5])
    table = opskit.monitor.labels("kinds").sort_values("row")
    assert list(table.label) == [0.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    report = opskit.monitor.performance("kinds", window=None)
    assert report.windows[0].metrics["accuracy"] == 1.0
    # With a text label among them every label is its Python text, as the predictions are compared.
    opskit.monitor.log_labels("kinds", ["k1"], ["0"], rows=[5])
    table = opskit.monitor.labels("kinds").sort_values("row")
    assert list(table.label) == ["0", "1", "True", "False", "1.0", "0"]


def test_labels_of_an_unknown_deployment_raise() -> None:
    """labels('typo') raises DeploymentNotFound instead of returning an empty frame; None or "" is InvalidValue."""
    with pytest.raises(DeploymentNotFound, match="'typo'"):
        opskit.monitor.labels("typo")
    for bad in (None, "", " ", 3):
        for fn in (
            opskit.monitor.predictions,
            opskit.monitor.prediction_files,
            opskit.monitor.predictions_dataset,
            opskit.monitor.labels,
        ):
            with pytest.raises(InvalidValue, match=f"deployment={bad!r}"):
                fn(bad)  # type: ignore[arg-type]


# -- log_labels: containers and values ----------------------------------------------------------------


def test_log_labels_takes_numpy_pandas_and_column_vectors(served: Served) -> None:
    """Ids and labels as NumPy arrays, pandas Series (any index) or an (n, 1) array are stored as the same labels."""
    rows = sent(served, "containers", 170, 178)  # 4 requests of 2 rows
    ids, truth, row = list(rows.request_id), list(rows.y), list(rows.row)
    cases = [
        (np.array(ids[:2]), np.array(truth[:2]), np.array(row[:2])),
        (
            pd.Series(ids[2:4], index=[10, 11]),
            pd.Series(truth[2:4], index=[5, 3]),
            pd.Series(row[2:4]),
        ),
        (ids[4:6], np.array(truth[4:6]).reshape(-1, 1), [float(r) for r in row[4:6]]),
        (tuple(ids[6:8]), pd.Categorical(truth[6:8]), tuple(np.int64(r) for r in row[6:8])),
    ]
    for request_ids, y_true, rows_ in cases:
        done = opskit.monitor.log_labels(NAME, request_ids, y_true, rows=rows_)
        assert (done.stored, done.matched) == (2, 2)
    table = opskit.monitor.labels(NAME)
    mine = table[table.request_id.isin(ids)].sort_values(["request_id", "row"])
    expected = rows.sort_values(["request_id", "row"])
    assert list(mine.label) == list(expected.y) and list(mine.row) == list(expected.row)


@pytest.mark.parametrize(
    ("ids", "truth", "rows", "message"),
    [
        # Containers that iterate over something else than the labels.
        (["a"], {"a": 1}, None, "y_true is a dict"),
        (["a"], pd.DataFrame({"y": ["yes"]}), None, r"y_true is a DataFrame.*frame\['y'\]"),
        ("abc", ["yes"], None, "request_ids is a str"),
        (["a"], "yes", None, "y_true is a str"),
        (["a"], 1, None, "y_true=1 is a single int"),
        (["a", "b"], np.array([[1, 2], [3, 4]]), None, r"shape \(2, 2\)"),
        # Missing or non-finite labels, whatever their kind.
        (["a"], [pd.NaT], None, r"y_true\[0\] is NaT"),
        (["a"], [pd.NA], None, r"y_true\[0\] is <NA>"),
        (["a"], np.array(["NaT"], dtype="datetime64[s]"), None, r"y_true\[0\]"),
        (["a"], [float("inf")], None, r"y_true\[0\] is inf: a label must be a finite"),
        (["a"], np.array([-np.inf]), None, r"y_true\[0\] is -inf"),
        # Row indices that are not whole numbers in range.
        (["a"], ["yes"], [1.5], r"rows\[0\] is 1.5"),
        (["a"], ["yes"], [float("nan")], r"rows\[0\] is nan"),
        (["a"], ["yes"], ["0"], r"rows\[0\] is '0'"),
        (["a"], ["yes"], [None], r"rows\[0\] is None"),
        (["a"], ["yes"], [True], r"rows\[0\] is True"),
        (["a"], ["yes"], [2**40], r"rows\[0\] is 1099511627776"),
        (["a"], ["yes"], 0, "rows=0 is a single int"),
    ],
)
def test_bad_label_inputs_raise_and_store_nothing(
    served: Served, ids: Any, truth: Any, rows: Any, message: str
) -> None:
    """Containers that are not one label per id, missing/non-finite labels and bad rows raise InvalidValue; nothing stored."""
    before = label_state()
    with pytest.raises(InvalidValue, match=message):
        opskit.monitor.log_labels(NAME, ids, truth, rows=rows)
    assert label_state() == before


def test_multi_row_request_labelled_without_rows_must_be_whole(served: Served) -> None:
    """Without rows=, a logged 2-row request gets 2 labels or an error; one label at a time needs rows= (no silent row 0)."""
    rows = sent(served, "partial", 178, 182)  # requests partial-0, partial-1 of 2 rows
    before = label_state()
    with pytest.raises(InvalidValue, match=r"request 'partial-0' scored 2 rows but 1 label\(s\)"):
        opskit.monitor.log_labels(NAME, ["partial-0"], ["yes"])
    with pytest.raises(InvalidValue, match=r"request 'partial-1' scored 2 rows but 3 label\(s\)"):
        opskit.monitor.log_labels(NAME, ["partial-1"] * 3, ["yes", "no", "yes"])
    assert label_state() == before
    first = rows[rows.request_id == "partial-0"].sort_values("row")
    for row, y in zip(first.row, first.y, strict=True):  # labels arriving one by one
        opskit.monitor.log_labels(NAME, ["partial-0"], [y], rows=[int(row)])
    table = opskit.monitor.labels(NAME)
    got = table[table.request_id == "partial-0"].sort_values("row")
    assert list(got.label) == list(first.y) and list(got.row) == [0, 1]
    # Unknown requests (not logged yet) keep the occurrence rule.
    done = opskit.monitor.log_labels(NAME, ["future", "future"], ["yes", "no"])
    assert done.unknown == 2


# -- time values --------------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=moments, offset_minutes=st.integers(-14 * 60, 14 * 60))
def test_every_kind_of_time_value_selects_the_same_rows(
    served: Served, moment: datetime, offset_minutes: int
) -> None:
    """since= as aware/naive datetime, other offsets, ISO text, Timestamp, epoch int/float, NumPy numbers and datetime64 agree."""
    moment = moment.replace(microsecond=0)
    seconds = moment.timestamp()
    zone = timezone(timedelta(minutes=offset_minutes))
    forms: list[object] = [
        moment,
        moment.replace(tzinfo=None),  # naive means UTC
        moment.astimezone(zone),
        moment.astimezone(zone).isoformat(),
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pd.Timestamp(moment),
        pd.Timestamp(moment).tz_localize(None),
        int(seconds),
        float(seconds),
        np.int64(int(seconds)),
        np.float64(seconds),
        np.datetime64(int(seconds), "s"),
        np.datetime64(int(seconds) * 1000, "ms"),
    ]
    expected = opskit.monitor.predictions(NAME, since=seconds, until=seconds + 86400)
    for form in forms:
        got = opskit.monitor.predictions(NAME, since=form, until=seconds + 86400)
        assert got.equals(expected), form


def test_a_date_is_its_utc_midnight(served: Served) -> None:
    """since=date(...) selects the same rows as its UTC midnight as a datetime and as ISO text."""
    today = datetime.now(UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    expected = opskit.monitor.predictions(NAME, since=midnight)
    assert len(expected) > 0
    for form in (today, str(today), midnight.timestamp()):
        assert opskit.monitor.predictions(NAME, since=form).equals(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (pd.NaT, "since=NaT is not a point in time"),
        (np.datetime64("NaT"), "is not a point in time"),
        (float("nan"), "since=nan"),
        (float("inf"), "since=inf"),
        (1.8e12, "looks like milliseconds: pass 1800000000.000"),
        (-1e12, "outside the years 1-9999"),
        (1e20, "outside the years 1-9999"),
        (np.float32("nan"), "is not a point in time"),
        ("1d", "since='1d' is not a point in time"),
        ("yesterday", "since='yesterday'"),
        ("", "since=''"),
        (b"2026-12-01", "since=b'2026-12-01'"),
        (timedelta(days=1), "is not a point in time"),
        (np.timedelta64(1, "D"), "is not a point in time"),
        (True, "since=True"),
    ],
)
def test_bad_time_values_raise_invalid_value(served: Served, value: object, message: str) -> None:
    """A value that is no point in time, or epoch seconds outside datetime's years, raises InvalidValue naming it."""
    for fn in (
        opskit.monitor.predictions,
        opskit.monitor.prediction_files,
        opskit.monitor.predictions_dataset,
    ):
        with pytest.raises(InvalidValue, match=message):
            fn(NAME, since=value)
    with pytest.raises(InvalidValue, match=message.replace("since", "until")):
        opskit.monitor.predictions(NAME, until=value)
    with pytest.raises(InvalidValue, match=message):
        opskit.monitor.labels(NAME, since=value)


def test_extreme_datetimes_mean_no_bound(served: Served) -> None:
    """datetime.min/max, date.min/max and pandas' Timestamp.min/max as bounds select the whole log (no OverflowError)."""
    whole = opskit.monitor.predictions(NAME)
    assert len(whole) > 0
    for low, high in (
        (datetime.min, datetime.max),
        (date.min, date.max),
        (pd.Timestamp.min, pd.Timestamp.max),
        (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
    ):
        assert opskit.monitor.predictions(NAME, since=low, until=high).equals(whole)
        assert len(opskit.monitor.prediction_files(NAME, since=low, until=high)) > 0


# -- windows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        ("1h", 3600.0),
        ("1H", 3600.0),
        (" 2 h ", 7200.0),
        ("30m", 1800.0),
        ("30min", 1800.0),
        ("1d", 86400.0),
        ("1D", 86400.0),
        ("7d", 7 * 86400.0),
        ("1w", 7 * 86400.0),
        ("1.5h", 5400.0),
        (timedelta(hours=2), 7200.0),
        (pd.Timedelta("90min"), 5400.0),
    ],
)
def test_windows_parse_to_their_length(served: Served, window: object, seconds: float) -> None:
    """Each accepted window gives windows of its length, aligned on multiples of it since the epoch."""
    report = opskit.monitor.performance(NAME, window=window)  # type: ignore[arg-type]
    assert report.windows
    for w in report.windows:
        assert w.end - w.start == pytest.approx(seconds)
        assert w.start % seconds == pytest.approx(0.0, abs=1e-6)
    report.to_pandas()
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("1M", r"window='1M' is not a positive duration.*months"),
        ("1y", "window='1y'"),
        ("1mo", "window='1mo'"),
        ("0h", "window='0h'"),
        ("-1h", "window='-1h'"),
        ("", "window=''"),
        ("P1D", "window='P1D'"),
        (3600, "window=3600"),
        ("0.5s", r"window='0.5s' is 0.5 seconds: pass a duration from 1 second to 100 years"),
        ("101000d", "from 1 second to 100 years"),
        (timedelta.max, "from 1 second to 100 years"),
        (timedelta(0), "not a positive duration"),
    ],
)
def test_bad_windows_raise_invalid_value(served: Served, window: object, message: str) -> None:
    """A window that is not a duration of 1 s to 100 years (or "1M": month or minute?) raises InvalidValue naming it."""
    for fn in (opskit.monitor.performance, opskit.monitor.fairness):
        with pytest.raises(InvalidValue, match=message):
            fn(NAME, window=window)  # type: ignore[operator]


def test_longest_window_renders(served: Served) -> None:
    """A 100-year window is accepted and its report converts to pandas and JSON."""
    report = opskit.monitor.performance(NAME, window="36500d")
    assert report.windows
    table = report.to_pandas()
    assert len(table) == len(report.windows)
    json.dumps(report.to_dict(), allow_nan=False)


label_lists = st.one_of(
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=6),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6),
    st.lists(st.booleans(), min_size=1, max_size=6),
    st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=6),
)
containers = st.sampled_from(["list", "tuple", "numpy", "series", "column"])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=label_lists, container=containers)
def test_labels_round_trip_whatever_the_container(values: list[Any], container: str) -> None:
    """Labels of one kind (ints, floats, bools, any text) in any container read back as given, row by row."""
    name = f"rt{uuid.uuid4().hex[:10]}"
    log = PredictionLog(name)
    n = len(values)
    log.record("q", "m@a", "primary", "m:1", ("x",), [[0.0]] * n, [0] * n, ts=1.8e9)
    assert log.flush() == n
    given_values: Any = {
        "list": list(values),
        "tuple": tuple(values),
        "numpy": np.array(values, dtype=object if isinstance(values[0], str) else None),
        "series": pd.Series(values, index=range(100, 100 + n)),
        "column": np.array(values).reshape(-1, 1),
    }[container]
    done = opskit.monitor.log_labels(name, ["q"] * n, given_values)
    assert (done.stored, done.matched) == (n, n)
    table = opskit.monitor.labels(name).sort_values("row")
    assert list(table.row) == list(range(n))
    got = table.label.tolist()
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]
