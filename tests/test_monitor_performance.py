"""Delayed labels, performance per variant, fairness and `monitor check`, over real HTTP against a real deployment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit import gates
from opskit.errors import ColumnNotFound, DeploymentNotFound, InvalidValue, ValidationError
from opskit.monitor.perf import LABEL_DAYS_KIND
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
ROLES = {"wine@production": "primary", "wine@challenger": "canary", "wine@candidate": "shadow"}


class Deployed:
    """wine:1 (depth 1, production, 80 %), wine:2 (depth 4, challenger, 20 %), shadow wine@candidate (wine:2)."""

    def __init__(
        self,
        home: Path,
        dep: opskit.Deployment,
        X: pd.DataFrame,
        y: pd.Series,
        models: dict[int, Any],
    ) -> None:
        self.home, self.dep, self.X, self.y, self.models = home, dep, X, y, models

    @property
    def url(self) -> str:
        assert self.dep.url is not None
        return self.dep.url

    def send(
        self, prefix: str, frame: pd.DataFrame, rows_per_request: int = 3
    ) -> dict[str, pd.DataFrame]:
        """POST *frame* in requests of *rows_per_request* rows (ids ``<prefix>-<i>``); wait until all are logged."""
        sent: dict[str, pd.DataFrame] = {}
        with httpx.Client() as client:
            for i, start in enumerate(range(0, len(frame), rows_per_request)):
                rid = f"{prefix}-{i}"
                part = frame.iloc[start : start + rows_per_request]
                answer = client.post(
                    f"{self.url}/predict",
                    json=part.to_dict(orient="records"),
                    headers={"X-Request-Id": rid, "x-routing-key": rid},
                )
                assert answer.status_code == 200, answer.text
                sent[rid] = part
        want = 2 * len(frame)  # primary or canary, plus the shadow
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            log = opskit.monitor.predictions("perf")
            if log.request_id.isin(set(sent)).sum() >= want:
                break
            time.sleep(0.2)
        return sent

    def scored(self, sent: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """The log rows of *sent*: request_id, row, variant, version."""
        log = opskit.monitor.predictions("perf")
        return log[log.request_id.isin(set(sent))][
            ["request_id", "row", "variant", "version", "ts"]
        ]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The deployment ``perf`` of wine models trained with a synthetic ``sex`` column (0/1)."""
    home = tmp_path_factory.mktemp("perf") / ".opskit"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        X, y = load_wine(return_X_y=True, as_frame=True)
        X = X.assign(sex=np.random.default_rng(0).integers(0, 2, len(X)))

        @opskit.train(model="wine")
        def fit(X: pd.DataFrame, y: pd.Series, *, depth: int) -> DecisionTreeClassifier:
            return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)

        models = {1: fit(X, y, depth=1), 2: fit(X, y, depth=4)}
        opskit.models.set_alias("wine", "production", 1)
        opskit.models.set_alias("wine", "challenger", 2)
        opskit.models.set_alias("wine", "candidate", 2)
        dep = opskit.deploy(
            {"wine@production": 0.8, "wine@challenger": 0.2},
            name="perf",
            shadow="wine@candidate",
            workers=1,
        )
        try:
            yield Deployed(home, dep, X, y, models)
        finally:
            opskit.deployments.stop("perf")
            opskit.reset_defaults()


@pytest.fixture
def served(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    """The deployment's store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(deployed.home))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    opskit.reset_defaults()
    return deployed


def expected_rows(served: Deployed, sent: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per logged row of *sent*: its variant, the true label and the in-memory model's prediction."""
    rows = served.scored(sent)
    truth, pred = [], []
    for rid, row, version in zip(rows.request_id, rows.row, rows.version, strict=True):
        frame = sent[rid]
        truth.append(int(served.y.loc[frame.index[row]]))
        model = served.models[int(str(version).split(":")[1])]
        pred.append(int(model.predict(frame.iloc[[row]])[0]))
    return rows.assign(y=truth, p=pred)


def label_all(served: Deployed, sent: dict[str, pd.DataFrame], *, explicit_rows: bool) -> None:
    """Log the true labels of every row of *sent* (rows by occurrence, or given explicitly)."""
    ids, truth, rows = [], [], []
    for rid, frame in sent.items():
        for k, index in enumerate(frame.index):
            ids.append(rid)
            truth.append(int(served.y.loc[index]))
            rows.append(k)
    logged = opskit.monitor.log_labels("perf", ids, truth, rows=rows if explicit_rows else None)
    assert logged.stored == len(ids) and logged.matched == len(ids) and logged.unknown == 0


def test_performance_per_variant_matches_sklearn_on_the_same_rows(served: Deployed) -> None:
    """Labels logged after the traffic join per request and row; each variant's metrics equal sklearn's on its rows."""
    sent = served.send("acc", served.X.iloc[:90])
    first, second = dict(list(sent.items())[:15]), dict(list(sent.items())[15:])
    label_all(served, first, explicit_rows=True)
    label_all(served, second, explicit_rows=False)
    expected = expected_rows(served, sent)
    assert set(expected.variant) == set(ROLES)  # 30 keyed requests at 80/20, and the shadow
    report = opskit.monitor.performance(
        "perf",
        window="1d",
        since=expected.ts.min(),
        until=expected.ts.max() + pd.Timedelta(seconds=1),
    )
    assert report.task == "classification"
    assert report.metrics == ("accuracy", "f1_macro", "precision_macro", "recall_macro")
    assert report.n_labelled == len(expected) == 180
    for variant, part in expected.groupby("variant"):
        window = report.latest(str(variant))
        assert window is not None and window.count == len(part)
        assert window.metrics["accuracy"] == pytest.approx(
            skm.accuracy_score(part.y, part.p), abs=1e-12
        )
        assert window.metrics["f1_macro"] == pytest.approx(
            skm.f1_score(part.y, part.p, average="macro", zero_division=0), abs=1e-12
        )
        assert window.metrics["recall_macro"] == pytest.approx(
            skm.recall_score(part.y, part.p, average="macro", zero_division=0), abs=1e-12
        )
        assert window.versions == (str(part.version.iloc[0]),)
        day = pd.Timestamp(part.ts.min()).floor("1D").timestamp()
        assert window.start == day and window.end == day + 86400
    table = report.to_pandas()
    assert list(table.columns[:4]) == ["variant", "start", "end", "count"]
    assert json.loads(json.dumps(report.to_dict()))["n_labelled"] == 180
    assert "wine@production" in report.summary() and "<table>" in report._repr_html_()


def test_thresholds_are_gates_and_mark_degraded_variants(served: Deployed) -> None:
    """at_least / at_most gates decide each variant's latest window; a failing one marks only that variant degraded."""
    sent = served.send("gate", served.X.iloc[90:150])
    label_all(served, sent, explicit_rows=False)
    expected = expected_rows(served, sent)
    since, until = expected.ts.min(), expected.ts.max() + pd.Timedelta(seconds=1)
    acc = {v: skm.accuracy_score(p.y, p.p) for v, p in expected.groupby("variant")}
    assert acc["wine@challenger"] > acc["wine@production"]  # depth 4 beats depth 1
    middle = (acc["wine@challenger"] + acc["wine@production"]) / 2
    report = opskit.monitor.performance(
        "perf",
        window=None,
        since=since,
        until=until,
        thresholds=[gates.at_least("accuracy", middle), gates.at_most("accuracy", 1.0)],
    )
    assert report.degraded == {
        "wine@candidate": False,
        "wine@challenger": False,
        "wine@production": True,
    }
    assert report.degraded_variants == ["wine@production"] and report.any_degraded
    failed = [g for g in report.gates if not g.passed]
    assert [(g.variant, g.observed) for g in failed] == [
        ("wine@production", pytest.approx(acc["wine@production"]))
    ]
    assert "below" in failed[0].message
    ok = opskit.monitor.performance(
        "perf", window=None, since=since, until=until, thresholds=[gates.at_least("accuracy", 0.0)]
    )
    assert not ok.any_degraded and all(g.passed for g in ok.gates)
    # A threshold on a metric not asked for is computed too; on an unknown metric it is an error, not a breach.
    extra = opskit.monitor.performance(
        "perf",
        window=None,
        metrics=["accuracy"],
        since=since,
        until=until,
        thresholds=[gates.at_most("mae", 5)],
    )
    assert extra.metrics == ("accuracy", "mae") and not extra.any_degraded
    for bad, message in (
        ([gates.at_least("auc", 0.5)], "reads metric 'auc'"),
        ([gates.beats("production", "accuracy")], "cannot use beats"),
        (
            [gates.fairness("sex", "demographic_parity_difference", at_most=0.1)],
            "cannot use fairness",
        ),
        (gates.at_least("accuracy", 0.5), "list of gates"),
    ):
        with pytest.raises((InvalidValue, ValidationError), match=message):
            opskit.monitor.performance("perf", thresholds=bad)  # type: ignore[arg-type]


def test_regression_metrics_and_metric_choice(served: Deployed) -> None:
    """task='regression' (or continuous labels) gives rmse/mae/r2 equal to sklearn's; metrics= picks others; unknown names raise."""
    sent = served.send("reg", served.X.iloc[150:171])
    label_all(served, sent, explicit_rows=False)
    expected = expected_rows(served, sent)
    since, until = expected.ts.min(), expected.ts.max() + pd.Timedelta(seconds=1)
    report = opskit.monitor.performance(
        "perf", window=None, since=since, until=until, task="regression"
    )
    assert report.metrics == ("rmse", "mae", "r2")
    for variant, part in expected.groupby("variant"):
        window = report.latest(str(variant))
        assert window is not None
        assert window.metrics["rmse"] == pytest.approx(
            float(np.sqrt(skm.mean_squared_error(part.y, part.p))), abs=1e-12
        )
        assert window.metrics["mae"] == pytest.approx(
            skm.mean_absolute_error(part.y, part.p), abs=1e-12
        )
    chosen = opskit.monitor.performance(
        "perf", window="1h", metrics=["balanced_accuracy"], since=since, until=until
    )
    assert chosen.metrics == ("balanced_accuracy",)
    with pytest.raises(InvalidValue, match="'auc'.*accuracy"):
        opskit.monitor.performance("perf", metrics=["auc"])
    for bad in ("0s", "soon", "-1d"):
        with pytest.raises(InvalidValue, match="window="):
            opskit.monitor.performance("perf", window=bad)
    with pytest.raises(DeploymentNotFound, match="nope"):
        opskit.monitor.performance("nope")


def test_unknown_request_ids_are_reported_and_kept_until_their_prediction_arrives(
    served: Deployed,
) -> None:
    """A label for a request not in the log is counted with its id, stored anyway, and joins once the request is logged."""
    logged = opskit.monitor.log_labels(
        "perf", ["late-1", "late-1", "late-1", "never"], [0, 1, 2, 1]
    )
    assert (logged.stored, logged.matched, logged.unknown) == (4, 0, 4)
    assert logged.unknown_examples == ("late-1", "never") and "late-1" in logged.summary()
    sent = served.send("late", served.X.iloc[:3])  # the request id "late-0" ...
    assert list(sent) == ["late-0"]
    # ... was not labelled; now send the one labelled before it was ever scored.
    with httpx.Client() as client:
        answer = client.post(
            f"{served.url}/predict",
            json=served.X.iloc[:3].to_dict(orient="records"),
            headers={"X-Request-Id": "late-1"},
        )
        assert answer.status_code == 200
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and opskit.monitor.predictions("perf").request_id.eq("late-1").sum() < 6
    ):
        time.sleep(0.2)
    report = opskit.monitor.performance("perf", window=None)
    joined = opskit.monitor.labels("perf")
    assert set(joined[joined.request_id == "late-1"].row) == {0, 1, 2}
    assert report.n_labelled >= 6  # the three late rows, by the scoring variant and the shadow


def test_relabelling_keeps_the_latest_label(served: Deployed) -> None:
    """Logging a label again for the same request and row replaces it; the other rows keep theirs."""
    sent = served.send("relabel", served.X.iloc[:2], rows_per_request=2)
    (rid,) = sent
    opskit.monitor.log_labels("perf", [rid, rid], [0, 0])
    opskit.monitor.log_labels("perf", [rid], [2], rows=[1])
    table = opskit.monitor.labels("perf")
    mine = table[table.request_id == rid].sort_values("row")
    assert list(mine.label) == [0, 2]


@pytest.mark.parametrize(
    ("ids", "truth", "rows", "message"),
    [
        (["a", "b"], [1], None, "2 request ids but 1 labels"),
        (["a"], [None], None, r"y_true\[0\] is None"),
        (["a", "b"], [1.0, float("nan")], None, r"y_true\[1\] is nan"),
        (["a", ""], [1, 2], None, r"request_ids\[1\] is ''"),
        (["a", 3], [1, 2], None, r"request_ids\[1\] is 3"),
        ([], [], None, "no labels"),
        (["a"], [1], [-1], r"rows\[0\] is -1"),
        (["a", "b"], [1], [0, 0], "2 request ids but 1 labels"),
        (["a"], [1], [0, 1], "1 request ids but 2 rows"),
        (["a", "b"], [[1], [2]], None, "one scalar label"),
        (["a", "b"], [1, "x"], None, "one kind"),
    ],
)
def test_bad_labels_raise_and_store_nothing(
    served: Deployed, ids: list[Any], truth: list[Any], rows: list[int] | None, message: str
) -> None:
    """Bad labels raise InvalidValue naming the value and leave the label index untouched."""
    tracker = get_tracker()
    before = {k: tracker.list_state(f"labels/{k}") for k in tracker.list_state(LABEL_DAYS_KIND)}
    with pytest.raises(InvalidValue, match=message):
        opskit.monitor.log_labels("perf", ids, truth, rows=rows)
    assert {
        k: tracker.list_state(f"labels/{k}") for k in tracker.list_state(LABEL_DAYS_KIND)
    } == before
    with pytest.raises(DeploymentNotFound, match="'typo'"):
        opskit.monitor.log_labels("typo", ["a"], [1])


def test_fairness_finds_a_known_disparity(served: Deployed) -> None:
    """Labels equal to the prediction for sex=0 and wrong on every other sex=1 row: fairlearn's per-group accuracy and difference match."""
    sent = served.send("fair", served.X.iloc[:120])
    rows = served.scored(sent)
    log = opskit.monitor.predictions("perf")
    log = log[log.request_id.isin(set(sent)) & (log.role != "shadow")]
    ids, truth, flipped = [], [], dict.fromkeys(ROLES, 0)
    for rid, variant, sex, pred in zip(
        log.request_id, log.variant, log.sex, log.prediction, strict=True
    ):
        wrong = sex == 1 and flipped[variant] % 2 == 0  # every other sex=1 row of each variant
        flipped[variant] += int(sex == 1)
        ids.append(rid)
        truth.append(int((pred + 1) % 3) if wrong else int(pred))
    opskit.monitor.log_labels("perf", ids, truth, rows=list(log.row))
    since, until = rows.ts.min(), rows.ts.max() + pd.Timedelta(seconds=1)
    report = opskit.monitor.fairness("perf", column="sex", window=None, since=since, until=until)
    assert report.metrics == ("accuracy",)
    served_log = log.assign(y=truth)
    for variant in ("wine@production", "wine@challenger"):
        (window,) = [w for w in report.windows if w.variant == variant]
        part = served_log[served_log.variant == variant]
        group1 = part[part.sex == 1]
        acc1 = float((group1.y == group1.prediction).mean())
        assert window.by_group["accuracy"]["0"] == 1.0
        assert window.by_group["accuracy"]["1"] == pytest.approx(acc1)
        assert acc1 == pytest.approx(len(group1) // 2 / len(group1))
        assert window.difference["accuracy"] == pytest.approx(1.0 - acc1)
        assert window.ratio["accuracy"] == pytest.approx(acc1)
        assert window.counts == {"0": int((part.sex == 0).sum()), "1": len(group1)}
        frame = report.frames[("sex", variant, window.start)]
        assert isinstance(frame, MetricFrame)
        direct = MetricFrame(
            metrics=skm.accuracy_score,
            y_true=part.y,
            y_pred=part.prediction,
            sensitive_features=part.sex,
        )
        assert frame.difference()["accuracy"] == pytest.approx(direct.difference())
    with pytest.raises(ColumnNotFound, match="'race'.*alcohol"):
        opskit.monitor.fairness("perf", column="race")
    assert json.loads(json.dumps(report.to_dict()))["columns"] == ["sex"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``opskit ARGS`` in a subprocess with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "opskit.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_monitor_check_exit_codes_and_watermark(served: Deployed) -> None:
    """check: 0 on traffic like the training data, 1 on shifted traffic or a breached threshold, 0 with nothing new, 2 on error."""
    get_tracker().delete_state("monitor-checks", "perf")
    served.send("calm", served.X.iloc[:150])
    calm = run_cli("monitor", "check", "perf", "--json")
    assert calm.returncode == 0, calm.stderr
    body = json.loads(calm.stdout)
    assert body["reference"] == "wine:1" and body["drift"]["drifted"] is False
    assert body["rows"] >= 150 and body["batches"] >= 1 and body["since"] < body["until"]
    numeric = served.X.columns.drop("sex")
    shifted = served.X.iloc[:90].copy()
    shifted[numeric] = shifted[numeric] * 3 + 5
    sent = served.send("shifted", shifted)
    api = opskit.monitor.check("perf", advance=False)
    assert api.drifted and api.alert and api.since >= body["until"]
    assert api.rows == 90 and set(api.drift.drifted_columns) >= {"alcohol", "proline"}  # type: ignore[union-attr]
    assert len(sent) == 30
    drifted = run_cli("monitor", "check", "perf", "--settle", "0")  # accepted, ignored
    assert drifted.returncode == 1, drifted.stderr
    assert "ALERT" in drifted.stdout and "DRIFTED" in drifted.stdout
    quiet = run_cli("monitor", "check", "perf", "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["rows"] == 0 and "no new predictions" in quiet.stdout
    # drift(current=<deployment>) reads what the deployment served.
    whole = opskit.monitor.drift(reference="wine@production", current="perf")
    assert whole.n_current >= 240
    # Thresholds on labelled predictions (earlier tests, or these: the label is the truth).
    opskit.monitor.log_labels(  # the first row of each 3-row request: rows= says which
        "perf",
        list(sent),
        [int(served.y.iloc[3 * i]) for i in range(len(sent))],
        rows=[0] * len(sent),
    )
    breached = run_cli("monitor", "check", "perf", "--at-least", "accuracy=1.01", "--json")
    assert breached.returncode == 1, breached.stderr
    result = json.loads(breached.stdout)
    assert result["degraded"] and not result["drifted"] and result["performance"]["n_labelled"] > 0
    fine = run_cli(
        "monitor",
        "check",
        "perf",
        "--settle",
        "0",
        "--at-least",
        "accuracy=0",
        "--at-most",
        "accuracy=1",
    )
    assert fine.returncode == 0, fine.stderr
    for args, message in (
        (("monitor", "check", "typo"), "'typo'"),
        (("monitor", "check", "perf", "--at-least", "accuracy"), "METRIC=NUMBER"),
        (("monitor", "check", "perf", "--lookback", "never"), "lookback"),
    ):
        failed = run_cli(*args)
        assert failed.returncode == 2 and message in failed.stderr, (args, failed.stderr)


# -- windows, without a server: records written through the prediction log writer with chosen times ------

DAY0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


def write_log(deployment: str, records: list[tuple[str, float, str, list[int]]]) -> None:
    """Write (request id, ts, variant, predictions per row) records through the server's log writer."""
    log = PredictionLog(deployment)
    for rid, ts, variant, preds in records:
        log.record(
            rid,
            variant,
            "primary",
            variant.replace("@", ":"),
            ("x",),
            [[float(p)] for p in preds],
            preds,
            ts=ts,
        )
    assert log.flush() == sum(len(p) for *_, p in records)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requests=st.lists(
        st.tuples(
            st.floats(0, 3 * 86400 - 1, allow_nan=False),
            st.sampled_from(["m@a", "m@b"]),
            st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=25,
    ),
    window=st.sampled_from(["1h", "6h", "1d", "2d"]),
)
def test_windows_group_by_prediction_time_and_match_sklearn(
    requests: list[Any], window: str
) -> None:
    """Any log over three days: one window per variant and aligned span with rows, metrics equal to sklearn's on them."""
    name = f"w{uuid.uuid4().hex[:10]}"
    records = [
        (f"r{i}", DAY0 + off, variant, [p for p, _ in rows])
        for i, (off, variant, rows) in enumerate(requests)
    ]
    write_log(name, records)
    ids = [f"r{i}" for i, (_, _, rows) in enumerate(requests) for _ in rows]
    truth = [y for _, _, rows in requests for _, y in rows]
    assert opskit.monitor.log_labels(name, ids, truth).unknown == 0
    seconds = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "2d": 2 * 86400}[window]
    expected: dict[tuple[str, float], tuple[list[int], list[int]]] = {}
    for off, variant, rows in requests:
        start = float(np.floor((DAY0 + off) / seconds) * seconds)
        ys, ps = expected.setdefault((variant, start), ([], []))
        ys += [y for _, y in rows]
        ps += [p for p, _ in rows]
    report = opskit.monitor.performance(
        name, window=window, metrics=["accuracy", "f1_macro"], task="classification"
    )
    got = {(w.variant, w.start): w for w in report.windows}
    assert set(got) == set(expected)
    for key, (ys, ps) in expected.items():
        w = got[key]
        assert w.count == len(ys) and w.end - w.start == seconds
        assert w.metrics["accuracy"] == pytest.approx(skm.accuracy_score(ys, ps), abs=1e-12)
        assert w.metrics["f1_macro"] == pytest.approx(
            skm.f1_score(ys, ps, average="macro", zero_division=0), abs=1e-12
        )


@pytest.mark.trackers("local", "mlflow")
def test_labels_across_days_latest_wins_on_both_trackers(tracker: str) -> None:
    """Labels logged in several calls join by request and row; a relabel wins; since/until select prediction days."""
    write_log(
        "days",
        [
            ("d1", DAY0 + 100, "m@a", [1, 1]),
            ("d2", DAY0 + 86400 + 100, "m@a", [0]),
            ("d3", DAY0 + 2 * 86400, "m@b", [2]),
        ],
    )
    first = opskit.monitor.log_labels("days", ["d1", "d1", "d2", "nope"], [1, 0, 0, 2])
    assert (first.matched, first.unknown, first.unknown_examples) == (3, 1, ("nope",))
    opskit.monitor.log_labels("days", ["d1"], [1], rows=[1])  # relabel row 1 of d1: now right
    opskit.monitor.log_labels("days", ["d3"], [0])
    table = opskit.monitor.labels("days").sort_values(["request_id", "row"])
    assert list(zip(table.request_id, table.row, table.label, strict=True)) == [
        ("d1", 0, 1),
        ("d1", 1, 1),
        ("d2", 0, 0),
        ("d3", 0, 0),
        ("nope", 0, 2),
    ]
    report = opskit.monitor.performance("days", window="1d", metrics=["accuracy"])
    assert [(w.variant, w.start, w.count, w.metrics["accuracy"]) for w in report.windows] == [
        ("m@a", DAY0, 2, 1.0),
        ("m@a", DAY0 + 86400, 1, 1.0),
        ("m@b", DAY0 + 2 * 86400, 1, 0.0),
    ]
    assert report.n_predictions == 4 and report.n_labelled == 4
    one_day = opskit.monitor.performance(
        "days", window=None, since=DAY0 + 86400, until=DAY0 + 2 * 86400
    )
    assert [(w.variant, w.count) for w in one_day.windows] == [("m@a", 1)]
    assert one_day.windows[0].start == DAY0 + 86400 and one_day.windows[0].end == DAY0 + 2 * 86400
    check = opskit.monitor.check(
        "days", thresholds=[gates.at_least("accuracy", 0.5)], lookback="10000d"
    )
    assert (
        check.degraded
        and check.performance is not None
        and check.performance.degraded_variants == ["m@b"]
    )
    # m:b is no model version: drift is not computed, and the check says why.
    assert any("drift not computed" in note for note in check.notes), check.notes
    assert get_tracker().get_state("monitor-checks", "days")["degraded"] is True  # type: ignore[index]
