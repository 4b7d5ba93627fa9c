"""The prediction log: request ids over real HTTP, per-row Parquet records partitioned by day, nothing dropped silently."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.runtime import get_storage, get_tracker
from opskit.serve.app import check_request_id
from opskit.serve.predlog import DAYS_KIND, LEGACY_KIND, PredictionLog, day_kind

ENV_VARS = (
    "OPSKIT_TRACKER",
    "OPSKIT_STORAGE",
    "OPSKIT_EXPERIMENT",
    "OPSKIT_LOAD_PLUGINS",
    "OPSKIT_DISABLE_PLUGINS",
    "OPSKIT_SERVE_TOKEN",
)


class Logged:
    """A store with wine:1 (production) and wine:2 (challenger, candidate) deployed 80/20 with a shadow."""

    def __init__(self, home: Path, dep: opskit.Deployment, X: pd.DataFrame, models: Any) -> None:
        self.home, self.dep, self.X, self.models = home, dep, X, models

    @property
    def url(self) -> str:
        assert self.dep.url is not None
        return self.dep.url

    def expected(self, version: str, frame: pd.DataFrame) -> list[Any]:
        return list(self.models[int(version.split(":")[1])].predict(frame).tolist())

    def wait_for(self, request_ids: set[str], rows: int, timeout: float = 30) -> pd.DataFrame:
        """The log once it holds *rows* records of *request_ids* (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            found = opskit.monitor.predictions("logged")
            mine = found[found.request_id.isin(request_ids)]
            if len(mine) >= rows or time.monotonic() > deadline:
                return mine
            time.sleep(0.2)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    """The deployment ``logged``: primary wine@production (80%), canary wine@challenger (20%), shadow wine@candidate."""
    home = tmp_path_factory.mktemp("predlog") / ".opskit"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        X, y = load_wine(return_X_y=True, as_frame=True)

        @opskit.train(model="wine")
        def fit(X: pd.DataFrame, y: pd.Series, *, depth: int) -> DecisionTreeClassifier:
            return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)

        models = {1: fit(X, y, depth=1), 2: fit(X, y, depth=4)}
        opskit.models.set_alias("wine", "production", 1)
        opskit.models.set_alias("wine", "challenger", 2)
        opskit.models.set_alias("wine", "candidate", 2)
        dep = opskit.deploy(
            {"wine@production": 0.8, "wine@challenger": 0.2},
            name="logged",
            shadow="wine@candidate",
            workers=1,
        )
        try:
            yield Logged(home, dep, X, models)
        finally:
            opskit.deployments.stop("logged")
            opskit.reset_defaults()


@pytest.fixture
def served(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> Logged:
    """The logged store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(logged.home))
    opskit.reset_defaults()
    return logged


def test_request_ids_are_accepted_or_made_and_always_returned(served: Logged) -> None:
    """A valid X-Request-Id is echoed; without one a uuid4 hex is made; errors and /health carry one too."""
    rows = served.X.iloc[:2].to_dict(orient="records")
    with httpx.Client() as client:
        sent = client.post(
            f"{served.url}/predict", json=rows, headers={"X-Request-Id": "abc-1.2:3_x"}
        )
        assert sent.status_code == 200 and sent.headers["x-request-id"] == "abc-1.2:3_x"
        made = {
            client.post(f"{served.url}/predict", json=rows).headers["x-request-id"]
            for _ in range(3)
        }
        assert len(made) == 3 and all(uuid.UUID(hex=m).hex == m for m in made)
        bad_payload = client.post(
            f"{served.url}/predict", json={"nope": 1}, headers={"X-Request-Id": "bad-1"}
        )
        assert bad_payload.status_code == 400 and bad_payload.headers["x-request-id"] == "bad-1"
        for path, method in (("/health", "GET"), ("/metrics", "GET"), ("/nowhere", "GET")):
            answer = client.request(method, served.url + path)
            assert len(answer.headers["x-request-id"]) == 32


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "slash/", "é", "new\tline"])
def test_invalid_request_id_is_a_400_naming_it(served: Logged, bad: str) -> None:
    """An X-Request-Id that is too long or has other characters than A-Z a-z 0-9 . _ : - gets 400 naming it."""
    answer = httpx.post(
        f"{served.url}/predict",
        json=served.X.iloc[:1].to_dict(orient="records"),
        headers={b"X-Request-Id": bad.encode("latin-1")},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["field"] == "X-Request-Id" and repr(bad[:200]) in body["message"]
    assert check_request_id(answer.headers["x-request-id"]) is None  # a fresh valid id
    assert answer.headers["x-request-id"] != bad


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rid=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=140
    )
)
@example(rid="a" * 128)
@example(rid="a" * 129)
def test_any_request_id_is_echoed_or_refused(served: Logged, rid: str) -> None:
    """Every X-Request-Id is either echoed with a 200 (1-128 allowed characters) or refused with a 400."""
    answer = httpx.post(
        f"{served.url}/invocations",
        json={"inputs": served.X.iloc[:1].values.tolist()},
        headers={"X-Request-Id": rid},
    )
    if check_request_id(rid) is None:
        assert answer.status_code == 200 and answer.headers["x-request-id"] == rid
        assert len(rid) <= 128 and all(c.isalnum() or c in "._:-" for c in rid)
    else:
        assert answer.status_code == 400 and answer.headers["x-request-id"] != rid


def test_one_record_per_row_with_variant_role_and_version(served: Logged) -> None:
    """Each scored row is one record: request id, row index, ts, deployment, variant, role, version, inputs, prediction."""
    frames = {f"rows-{i}": served.X.iloc[3 * i : 3 * i + 3] for i in range(20)}
    with httpx.Client() as client:
        for rid, frame in frames.items():
            answer = client.post(
                f"{served.url}/predict",
                json=frame.to_dict(orient="records"),
                headers={"X-Request-Id": rid, "x-routing-key": rid},
            )
            assert answer.status_code == 200
    # Every request is scored by a primary or canary variant and by the shadow: 2 x 3 rows each.
    mine = served.wait_for(set(frames), rows=len(frames) * 6)
    assert len(mine) == len(frames) * 6
    assert set(mine.role) == {
        "primary",
        "canary",
        "shadow",
    }  # 20 keyed requests at 80/20: both variants
    roles = {"wine@production": "primary", "wine@challenger": "canary", "wine@candidate": "shadow"}
    for (rid, variant), part in mine.groupby(["request_id", "variant"]):
        frame = frames[str(rid)]
        assert (part.role == roles[str(variant)]).all()
        assert list(part.row) == [0, 1, 2]
        assert (part.deployment == "logged").all()
        assert part[list(served.X.columns)].values.tolist() == frame.values.tolist()
        version = str(part.version.iloc[0])
        assert list(part.prediction) == served.expected(version, frame)
    assert str(mine.ts.dtype) == "datetime64[us, UTC]"
    now = pd.Timestamp.now(tz="UTC")
    assert ((now - mine.ts) < pd.Timedelta(minutes=5)).all()


def test_since_and_until_filter_the_log(served: Logged) -> None:
    """since/until select by ts; a range in the past or future is empty; a bad bound raises InvalidValue."""
    rid = "window-1"
    httpx.post(
        f"{served.url}/predict",
        json=served.X.iloc[:1].to_dict(orient="records"),
        headers={"X-Request-Id": rid},
    )
    mine = served.wait_for({rid}, rows=2)
    stamp = mine.ts.min()
    at = opskit.monitor.predictions(
        "logged", since=stamp, until=stamp + pd.Timedelta(microseconds=1)
    )
    assert rid in set(at.request_id) and (at.ts == stamp).all()
    assert opskit.monitor.predictions("logged", until=stamp).ts.lt(stamp).all()
    tomorrow = date.today() + timedelta(days=2)
    assert opskit.monitor.predictions("logged", since=tomorrow).empty
    assert opskit.monitor.predictions("logged", until="2001-01-01").empty
    frame = opskit.deployments.get("logged").predictions(since=stamp.isoformat())
    assert rid in set(frame.request_id)
    for bad in ("yesterday", float("nan"), True, [1]):
        with pytest.raises(opskit.InvalidValue, match="since="):
            opskit.monitor.predictions("logged", since=bad)
    with pytest.raises(opskit.InvalidValue, match="before since"):
        opskit.monitor.predictions("logged", since="2026-02-02", until="2026-02-01")


def _metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and set(labels.items()) <= set(s.labels.items())
    )


def _wine_model() -> tuple[pd.DataFrame, Any]:
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X: pd.DataFrame, y: pd.Series) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    return X, fit(X, y)


def test_a_burst_larger_than_the_buffer_is_logged_or_counted(store: Path) -> None:
    """With a 40-row buffer, a burst of 1,000 rows: rows written + rows counted as dropped on /metrics == rows sent."""
    X, _ = _wine_model()
    dep = opskit.deploy("wine@production", name="burst", log_buffer=40, workers=1)
    try:
        assert dep.url is not None
        body = X.iloc[:10].to_dict(orient="records")

        def send(i: int) -> int:
            return httpx.post(
                f"{dep.url}/predict", json=body, headers={"X-Request-Id": f"b{i}"}
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, range(100))) == {200}
        deadline = time.monotonic() + 30
        while True:
            written = _metric(dep.url, "opskit_prediction_log_rows_total")
            dropped = _metric(
                dep.url, "opskit_prediction_log_dropped_rows_total", reason="buffer_full"
            )
            if written + dropped >= 1000 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert written + dropped == 1000
        assert len(opskit.monitor.predictions("burst")) == written
        assert (
            _metric(dep.url, "opskit_prediction_log_dropped_rows_total", reason="store_error") == 0
        )
        if dropped:
            assert "dropped" in opskit.deployments.logs("burst")
    finally:
        opskit.deployments.stop("burst")


# -- in-process: days, storages, failures ------------------------------------------------------


def _day(text: str, hour: int = 12) -> float:
    return datetime.fromisoformat(text).replace(hour=hour, tzinfo=UTC).timestamp()


def _log_days(log: PredictionLog, days: list[str], per_day: int = 3) -> None:
    for day in days:
        for i in range(per_day):
            log.record(
                f"{day}-{i}",
                "m@production",
                "primary",
                "m:1",
                ("a", "b", "ts"),
                [[i, f"x{i}", "clash"], [i + 0.5, None, "clash"]],
                [i, i + 1],
                ts=_day(day, hour=1 + i),
            )
    assert log.flush() == len(days) * per_day * 2


@pytest.mark.parametrize("storage", ["local", "memory", "file"])
def test_days_are_partitions_read_alone(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    """Records land in per-day Parquet batches; reading one day lists only that day's index, on local and fsspec storage."""
    if storage == "memory":
        opskit.configure(storage=f"memory://predlog-{uuid.uuid4().hex}/blobs")
    elif storage == "file":
        opskit.configure(storage=f"fsspec+file://{tmp_path / 'remote'}")
    log = PredictionLog("dep")
    days = ["2026-11-28", "2026-11-29", "2026-11-30"]
    _log_days(log, days)
    tracker = get_tracker()
    assert sorted(tracker.list_state(DAYS_KIND)) == [f"dep/{d}" for d in days]
    listed: list[str] = []
    real = tracker.list_state
    monkeypatch.setattr(tracker, "list_state", lambda kind: listed.append(kind) or real(kind))
    frame = opskit.monitor.predictions("dep", since="2026-11-29", until="2026-11-30")
    assert listed == [DAYS_KIND, day_kind("dep", "2026-11-29")]  # other days are not listed
    assert sorted(frame.request_id.unique()) == [f"2026-11-29-{i}" for i in range(3)]
    assert list(frame.columns[:7]) == [
        "request_id",
        "row",
        "ts",
        "deployment",
        "variant",
        "role",
        "version",
    ]
    assert list(frame.columns[7:]) == ["a", "b", "input.ts", "prediction"]
    assert frame.a.tolist() == [0, 0.5, 1, 1.5, 2, 2.5]
    assert frame.b.isna().tolist() == [False, True] * 3
    assert frame.b.dropna().tolist() == ["x0", "x1", "x2"]
    assert frame.prediction.tolist() == [0, 1, 1, 2, 2, 3]
    everything = opskit.monitor.predictions("dep")
    assert len(everything) == 18 and everything.ts.is_monotonic_increasing
    # a range with no records still has the log's columns and types (the latest batch's)
    for since, until in [("2026-12-05", None), (None, "2026-11-01"), ("2026-11-20", "2026-11-21")]:
        none = opskit.monitor.predictions("dep", since=since, until=until)
        assert none.empty and list(none.columns) == list(everything.columns)
        assert none.dtypes.to_dict() == everything.dtypes.to_dict()
        nothing = opskit.monitor.predictions_dataset("dep", since=since, until=until)
        assert nothing.to_table().num_rows == 0
        assert nothing.schema.names == list(everything.columns)
    files = opskit.monitor.prediction_files("dep", since="2026-11-30")
    assert len(files) == 1 and pq.read_table(files[0]).num_rows == 6
    dataset = opskit.monitor.predictions_dataset(
        "dep", since=_day("2026-11-29", 2), until="2026-11-30"
    )
    table = dataset.to_table()
    assert sorted(set(table.column("request_id").to_pylist())) == ["2026-11-29-1", "2026-11-29-2"]


def test_index_points_only_at_complete_blobs(store: Path) -> None:
    """Each index document names a stored, verified Parquet blob holding exactly its record count."""
    log = PredictionLog("dep")
    _log_days(log, ["2026-11-30"], per_day=5)
    storage = get_storage()
    for entry in get_tracker().list_state(day_kind("dep", "2026-11-30")).values():
        assert storage.verify(entry["digest"])
        assert pq.read_table(storage.open(entry["digest"])).num_rows == entry["records"]


def test_a_full_buffer_counts_what_it_drops(store: Path) -> None:
    """Rows that do not fit the buffer are counted (and reported), never silently lost."""
    counted: list[tuple[int, str]] = []
    log = PredictionLog("dep", max_records=5, on_dropped=lambda n, why: counted.append((n, why)))
    for i in range(4):
        log.record(f"r{i}", "m@p", "primary", "m:1", ("a",), [[1], [2]], [0, 1])
    assert counted == [(2, "buffer_full"), (2, "buffer_full")]
    assert log.dropped == {"buffer_full": 4}
    assert log.flush() == 4
    assert len(opskit.monitor.predictions("dep")) == 4


def test_a_failing_store_keeps_rows_then_counts_them(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write keeps its rows for the next flush; after `retries` failures they are counted as store_error."""
    storage = get_storage()
    real = storage.put_bytes
    failures = {"left": 2}

    def flaky(data: bytes) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        return real(data)

    monkeypatch.setattr(storage, "put_bytes", flaky)
    dropped: list[tuple[int, str]] = []
    log = PredictionLog("dep", retries=2, on_dropped=lambda n, why: dropped.append((n, why)))
    log.record("r1", "m@p", "primary", "m:1", ("a",), [[1]], [0])
    assert log.flush() == 0 and log.flush() == 0
    log.record("r2", "m@p", "primary", "m:1", ("a",), [[2]], [1])
    assert log.flush() == 2 and dropped == []
    assert opskit.monitor.predictions("dep").request_id.tolist() == ["r1", "r2"]
    failures["left"] = 10
    log.record("r3", "m@p", "primary", "m:1", ("a",), [[3]], [0])
    assert [log.flush() for _ in range(3)] == [0, 0, 0]
    assert dropped == [(1, "store_error")] and log.dropped == {"store_error": 1}


def test_multi_output_and_tensor_predictions(store: Path) -> None:
    """Fixed-length list predictions become prediction_<i>, dict ones prediction_<key>, tensor inputs one input column."""
    log = PredictionLog("dep")
    log.record("l", "m@p", "primary", "m:1", ("a",), [[1], [2]], [[0.1, 0.9], [0.7, 0.3]])
    log.record(
        "t", "m@p", "primary", "m:1", None, [[1, 2], [3, 4]], [{"p": 1, "q": 2}, {"p": 3, "q": 4}]
    )
    log.flush()
    frame = opskit.monitor.predictions("dep")
    lists = frame[frame.request_id == "l"]
    assert lists.prediction_0.tolist() == [0.1, 0.7] and lists.prediction_1.tolist() == [0.9, 0.3]
    tensors = frame[frame.request_id == "t"]
    assert tensors.prediction_p.tolist() == [1, 3] and tensors.prediction_q.tolist() == [2, 4]
    assert [list(x) for x in tensors.input] == [[1, 2], [3, 4]]


def test_old_json_lines_log_is_still_read(store: Path) -> None:
    """Batches written by the previous JSON-lines format stay readable (one record per row, no request id)."""
    old = {
        "ts": _day("2026-10-01"),
        "variant": "m:1",
        "role": "primary",
        "columns": ["a"],
        "rows": [[1], [2]],
        "predictions": [5, 6],
    }
    blob = get_storage().put_bytes((json.dumps(old) + "\n").encode())
    get_tracker().put_state(
        LEGACY_KIND, "dep/1", {"deployment": "dep", "digest": blob.digest, "records": 1}
    )
    frame = opskit.monitor.predictions("dep")
    assert frame.prediction.tolist() == [5, 6] and frame.row.tolist() == [0, 1]
    assert frame.version.tolist() == ["m:1", "m:1"]


def test_an_unknown_deployment_is_an_error_not_an_empty_log(store: Path) -> None:
    """predictions() of a name never deployed nor logged raises DeploymentNotFound naming it."""
    from opskit.deployments.client import STATE_KIND
    from opskit.monitor import prediction_log as module

    assert module._DEPLOYMENT_KIND == STATE_KIND
    with pytest.raises(opskit.DeploymentNotFound, match="'nope'"):
        opskit.monitor.predictions("nope")
    PredictionLog("known").flush()
    log = PredictionLog("known")
    log.record("r", "m@p", "primary", "m:1", ("a",), [[1]], [0], ts=_day("2026-11-30"))
    log.flush()
    assert opskit.monitor.predictions("known", since="2026-12-01").empty
