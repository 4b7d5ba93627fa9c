"""Data retention: pii columns hashed or dropped before the prediction log is written, `data forget`, retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

import opskit
from opskit.cli.main import main
from opskit.monitor import retention
from opskit.pii import hash_value, pii_key
from opskit.runtime import get_storage, get_tracker
from opskit.serve.predlog import DAYS_KIND, PredictionLog, batches, day_kind

pytestmark = pytest.mark.trackers("local", "mlflow")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [123, 456, 789, 123],
            "email": ["ann@example.org", "bob@example.org", "cy@example.org", "ann@example.org"],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )


def _scorer() -> None:
    """scorer@production: a regression on `amount` whose input also carries customer_id and email."""
    X = _frame()
    model = make_pipeline(
        ColumnTransformer([("amount", "passthrough", ["amount"])]), LinearRegression()
    ).fit(X, X["amount"] * 2)
    opskit.models.register(model, "scorer", signature=X, alias="production")


def _wait_rows(name: str, rows: int, timeout: float = 60) -> pd.DataFrame:
    """The prediction log of *name* once it holds *rows* rows (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = opskit.monitor.predictions(name)
        except opskit.DeploymentNotFound:
            found = pd.DataFrame()
        if len(found) >= rows or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _blobs(name: str) -> list[bytes]:
    storage = get_storage()
    return [storage.get_bytes(e["digest"]) for e in batches(name)]


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_pii_columns_never_reach_the_prediction_log(tracker: str, mode: str) -> None:
    """Over real HTTP: with pii=['email'] the raw e-mail is in no written byte; hashed it is the keyed hash, else absent."""
    _scorer()
    dep = opskit.deploy("scorer@production", name="pii", pii=["email"], pii_mode=mode, workers=1)
    try:
        assert dep.url is not None
        body = _frame().to_dict(orient="records")
        reply = httpx.post(f"{dep.url}/predict", json=body, timeout=30)
        assert reply.status_code == 200, reply.text
        log = _wait_rows("pii", 4)
    finally:
        opskit.deployments.stop("pii")
    assert len(log) == 4
    assert list(log.customer_id) == [123, 456, 789, 123]
    if mode == "hash":
        key = pii_key()
        assert list(log.email) == [hash_value(e, key) for e in _frame().email]
        assert log.email.iloc[0] == log.email.iloc[3]  # one subject: one hash, still joinable
    else:
        assert "email" not in log.columns and "input.email" not in log.columns
    for blob in _blobs("pii"):
        assert (
            b"example.org" not in blob
        )  # the Parquet bytes themselves (zstd: check the table too)
    assert not any("example.org" in str(v) for v in log.to_numpy().ravel())


def test_forget_removes_one_subjects_rows_audited_and_reports_snapshots(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit data forget --column customer_id --value 123`: its rows leave the log (other rows stay), old blobs go,
    one data_forgotten event per rewritten batch, the chain verifies, and a snapshot holding 123 is reported."""
    _scorer()
    opskit.log_data("customers", _frame())
    dep = opskit.deploy("scorer@production", name="shop", pii=["email"], workers=1)
    try:
        assert dep.url is not None
        for i in range(2):  # two requests: at least one batch, maybe two
            body = _frame().iloc[i * 2 : i * 2 + 2].to_dict(orient="records")
            assert httpx.post(f"{dep.url}/predict", json=body, timeout=30).status_code == 200
        before = _wait_rows("shop", 4)
    finally:
        opskit.deployments.stop("shop")
    assert sorted(before.customer_id) == [123, 123, 456, 789]
    old = {e["digest"] for e in batches("shop")}

    code = main(["data", "forget", "--column", "customer_id", "--value", "123"])
    out, _ = capsys.readouterr()
    assert code == 1  # something could not be removed: the snapshot
    assert "removed 2 prediction-log row(s) with customer_id = '123'" in out
    assert "customers:1 (2 row(s))" in out and "opskit.log_data('customers'" in out

    after = opskit.monitor.predictions("shop")
    assert sorted(after.customer_id) == [456, 789]
    assert list(after.columns) == list(before.columns)
    storage = get_storage()
    for digest in old - {e["digest"] for e in batches("shop")}:
        assert not storage.exists(digest)  # the rewritten batches' old blobs are gone
    events = opskit.audit.log(action="data_forgotten")
    assert events and all(e.subject.startswith("shop/") for e in events)
    assert sum(e.before["records"] - e.after["records"] for e in events) == 2  # type: ignore[index]
    for e in events:  # the value is never written: the bodies hold only a digest and a count
        # (not a substring test on the whole body: a random hex digest can hold "123")
        assert set(e.before or {}) == set(e.after or {}) == {"digest", "records"}
        assert "123" not in (e.reason or "")
    assert opskit.audit.verify().ok

    # by the hashed column too: the value given is hashed with the store's key
    report = retention.forget("email", "bob@example.org")
    assert report.rows == 1 and report.batches == 1
    assert sorted(opskit.monitor.predictions("shop").customer_id) == [789]
    # nothing left to forget: nothing rewritten, nothing audited
    n = len(opskit.audit.log(action="data_forgotten"))
    assert retention.forget("customer_id", 123).rows == 0
    assert len(opskit.audit.log(action="data_forgotten")) == n


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["data", "forget"], "--column NAME --value VALUE"),
        (["data", "forget", "--column", "c", "--expired"], "not both"),
        (["data", "forget", "--column", "c"], "needs --value"),
    ],
)
def test_bad_forget_requests_change_nothing(
    tracker: str, argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forget request without a subject, or asking for both modes, exits non-zero naming the fix; nothing is audited."""
    _scorer()
    events = len(opskit.audit.log())
    assert main(argv) != 0
    assert match in capsys.readouterr().err
    assert len(opskit.audit.log()) == events


def _day(text: str) -> float:
    return datetime.fromisoformat(text).replace(hour=12, tzinfo=UTC).timestamp()


def _write_days(name: str, days: list[str]) -> None:
    log = PredictionLog(name)
    for day in days:
        log.record(f"{day}", "m@p", "primary", "m:1", ("a",), [[1], [2]], [0, 1], ts=_day(day))
    assert log.flush() == 2 * len(days)


def test_expired_days_are_removed_whole_and_audited(tracker: str) -> None:
    """forget_expired('30d') removes the days that ended more than 30 days ago, their blobs too; one event per day."""
    _write_days("web", ["2026-10-01", "2026-10-30", "2026-11-15"])
    digests = {e["day"]: e["digest"] for e in batches("web")}
    now = _day("2026-11-30")  # cutoff 2026-10-31 12:00: Oct 1 and Oct 30 ended before it
    report = retention.forget_expired("30d", deployment="web", now=now)
    assert report.days == ("web/2026-10-01", "web/2026-10-30") and report.rows == 4
    assert [e["day"] for e in batches("web")] == ["2026-11-15"]
    assert sorted(get_tracker().list_state(DAYS_KIND)) == ["web/2026-11-15"]
    assert get_tracker().list_state(day_kind("web", "2026-10-01")) == {}
    assert not get_storage().exists(digests["2026-10-01"])
    assert [e.subject for e in opskit.audit.log(action="data_expired")] == list(report.days)
    assert opskit.audit.verify().ok
    assert retention.forget_expired("30d", deployment="web", now=now).days == ()


@pytest.mark.parametrize("bad", ["30", "0d", "-1d", "thirty days", 0, -3, True])
def test_a_bad_retention_is_refused_before_anything_starts(tracker: str, bad: Any) -> None:
    """retention= that is not a positive period is InvalidOption at deploy time; no deployment is recorded."""
    _scorer()
    with pytest.raises(opskit.InvalidOption, match="retention"):
        opskit.deploy("scorer@production", name="bad", retention=bad)
    assert opskit.deployments.list() == []


def test_the_server_applies_retention_at_start(tracker: str) -> None:
    """A deployment with retention='1d' removes its log's expired days when it starts, and serves; newer days stay."""
    _scorer()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    _write_days("aging", ["2020-01-01", today])
    dep = opskit.deploy("scorer@production", name="aging", retention="1d", workers=1)
    try:
        assert dep.url is not None
        assert httpx.get(f"{dep.url}/health", timeout=30).status_code == 200
    finally:
        opskit.deployments.stop("aging")
    assert [e["day"] for e in batches("aging")] == [today]
    assert [e.subject for e in opskit.audit.log(action="data_expired")] == ["aging/2020-01-01"]


# -- dataset snapshots ---------------------------------------------------------------------------


def test_log_data_hashes_or_drops_pii_before_storing(tracker: str) -> None:
    """log_data(pii=...) stores the keyed hash (or nothing) of those columns; the caller's frame is unchanged."""
    frame = _frame()
    hashed = opskit.log_data("customers", frame, pii=["email"])
    stored = opskit.load_data(hashed.ref)
    assert list(stored.email) == [hash_value(e, pii_key()) for e in frame.email]
    assert list(stored.customer_id) == list(frame.customer_id)
    assert frame.email.iloc[0] == "ann@example.org"
    dropped = opskit.log_data("customers", frame, pii=["email", "customer_id"], pii_mode="drop")
    assert list(opskit.load_data(dropped.ref).columns) == ["amount"]
    for version in (hashed, dropped):
        for digest in (version.blob, *version.blobs):
            assert b"example.org" not in get_storage().get_bytes(digest)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pii": ["emial"]}, "are not columns of the data"),
        ({"pii": []}, "not a list of column names"),
        ({"pii": ["email"], "pii_mode": "mask"}, "pii_mode='mask'"),
    ],
)
def test_bad_pii_in_log_data_stores_nothing(tracker: str, kwargs: Any, match: str) -> None:
    """A pii column the frame lacks (a typo), an empty list or an unknown mode: InvalidValue, no dataset."""
    with pytest.raises(opskit.InvalidValue, match=match):
        opskit.log_data("customers", _frame(), **kwargs)
    with pytest.raises(opskit.InvalidValue, match="needs a pandas DataFrame"):
        opskit.log_data("customers", _frame().to_numpy(), pii=["email"])
    assert opskit.data.list_datasets() == []


def test_snapshot_of_a_training_run_hashes_pii_and_still_verifies(tracker: str) -> None:
    """data='snapshot', pii=['email']: the function sees the raw e-mails, the snapshot holds hashes, and
    the run's inputs load back (digests match the stored frame)."""
    seen: list[str] = []

    @opskit.track(data="snapshot", pii=["email"])
    def prepare(df: pd.DataFrame) -> None:
        seen.extend(df.email)

    prepare(_frame())
    assert seen == list(_frame().email)
    run = opskit.last_run()
    assert run is not None
    [data] = run.inputs
    stored = opskit.load_data(data.dataset or "")
    assert list(stored.email) == [hash_value(e, pii_key()) for e in _frame().email]
    from opskit.data.snapshots import run_inputs

    assert list(run_inputs(run.id)["df"].email) == list(stored.email)
    report = retention.forget("email", "ann@example.org")
    assert [h.dataset for h in report.not_removed] == [data.dataset]


def test_pii_options_are_checked_when_decorating() -> None:
    """pii= without data='snapshot', or not column names: InvalidValue at decoration time."""
    with pytest.raises(opskit.InvalidValue, match="use data='snapshot'"):
        opskit.track(pii=["email"])
    with pytest.raises(opskit.InvalidValue, match="not a list of column names"):
        opskit.train(data="snapshot", pii=[3])
    with pytest.raises(opskit.InvalidValue, match="pii_mode"):
        opskit.track(data="snapshot", pii="email", pii_mode="blur")


_cells = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(_cells, min_size=1, max_size=8), key=st.binary(min_size=1, max_size=32))
def test_any_pii_value_is_replaced_by_its_keyed_hash_or_dropped(
    values: list[Any], key: bytes
) -> None:
    """Whatever a pii column holds: hashed, each cell is hmac(key, text) (None stays None, equal values hash alike,
    another key hashes differently); dropped, the column is gone; the other columns are untouched."""
    import pyarrow as pa

    from opskit.pii import protect_table

    table = pa.table(
        {
            "secret": pa.array([None if v is None else str(v) for v in values]),
            "n": range(len(values)),
        }
    )
    hashed = protect_table(table, ["secret"], "hash", key)
    got = hashed.column("secret").to_pylist()
    assert got == [hash_value(v, key) for v in table.column("secret").to_pylist()]
    assert all(g is None or g.startswith("hmac-sha256:") for g in got)
    for v, g in zip(table.column("secret").to_pylist(), got, strict=True):
        assert (v is None) == (g is None)
    by_value = dict(zip(table.column("secret").to_pylist(), got, strict=True))
    assert len(set(by_value.values())) == len(by_value)  # distinct values, distinct hashes
    other = protect_table(table, ["secret"], "hash", key + b"x").column("secret").to_pylist()
    assert all(a != b for a, b in zip(got, other, strict=True) if a is not None)
    assert hashed.column("n").to_pylist() == list(range(len(values)))
    dropped = protect_table(table, ["secret"], "drop", key)
    assert dropped.column_names == ["n"]


def test_run_options_survive_evolve_with_and_without_pii() -> None:
    """attrs.evolve of the options (what `opskit reproduce` does) keeps pii and card as they were."""
    import attrs

    from opskit.tracking.options import TrainOptions

    for options in (
        TrainOptions(),
        TrainOptions(data="snapshot", pii=["email"], pii_mode="drop", card="text"),
    ):
        again = attrs.evolve(options, experiment="e")
        assert (again.pii, again.pii_mode, again.card) == (
            options.pii,
            options.pii_mode,
            options.card,
        )


def test_the_suggested_command_supersedes_a_hashed_snapshot() -> None:
    """forget's command for a pii-hashed snapshot logs a version without the subject's rows."""
    from opskit.monitor.retention import forget

    df = pd.DataFrame({"email": ["a@x.org", "b@x.org", "c@x.org"], "v": [1, 2, 3]})
    opskit.log_data("people", df, pii=["email"])
    report = forget("email", "b@x.org")
    [hit] = report.not_removed
    assert hit.dataset == "people:1" and hit.rows == 1
    exec(hit.command, {"opskit": opskit})  # what a user copies from the report
    kept = opskit.load_data("people:2")
    assert list(kept["v"]) == [1, 3]
