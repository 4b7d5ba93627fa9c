"""``opskit.monitor.check`` takes every prediction-log batch exactly once, however late it was written (both trackers)."""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections import Counter

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.errors import OpskitWarning
from opskit.monitor import checkpoint
from opskit.monitor.perf import CHECK_KIND
from opskit.runtime import get_storage, get_tracker
from opskit.serve.predlog import (
    DAYS_KIND,
    PredictionLog,
    _parquet_bytes,
    _read_batch,
    _Request,
    day_kind,
    to_table,
    utc_day,
)

pytestmark = [
    pytest.mark.trackers("local", "mlflow"),
    pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning"),
]

HOUR = 3600.0


def log(deployment: str, ids: list[str], ts: float) -> None:
    """Log one single-row request per id at request time *ts*, through the server's own writer, and flush."""
    writer = PredictionLog(deployment)
    for rid in ids:
        writer.record(rid, "m@a", "primary", "m:1", ("x",), [[1.0]], [0], ts=ts)
    assert writer.flush() == len(ids)


def ids_of(deployment: str, batch_keys: tuple[str, ...]) -> list[str]:
    """The request ids of the rows of the batches named ``<day>/<key>``."""
    out: list[str] = []
    storage, tracker = get_storage(), get_tracker()
    for name in batch_keys:
        day, key = name.split("/", 1)
        entry = tracker.get_state(day_kind(deployment, day), key)
        assert entry is not None, name
        out += _read_batch(storage, entry).column("request_id").to_pylist()
    return out


def checked(result: opskit.monitor.MonitorCheck) -> list[str]:
    """The request ids a check covered (from its batches), checked against its row count."""
    ids = ids_of(result.deployment, result.batch_keys)
    assert len(ids) == result.rows and len(result.batch_keys) == result.batches
    return ids


def test_late_batch_is_included_in_the_next_check(tracker: str) -> None:
    """A batch whose requests predate the last check (held in a buffer, flushed late) is checked by the next check."""
    dep = "late"
    now = time.time()
    log(dep, ["a1", "a2"], now - 60)
    first = opskit.monitor.check(dep)
    assert first.rows == 2
    # Requests scored before the first check, written only now (a store outage, a flush at close).
    log(dep, ["late1"], now - 30)
    log(dep, ["late2"], now - 3 * HOUR)
    second = opskit.monitor.check(dep)
    assert (
        second.rows == 2
    )  # on main: 0, their request times lie before the first check's watermark
    assert sorted(checked(first)) == ["a1", "a2"] and sorted(checked(second)) == ["late1", "late2"]
    assert second.since == pytest.approx(now - 3 * HOUR, abs=1e-3)
    assert second.until == pytest.approx(now - 30, abs=1e-3)
    third = opskit.monitor.check(dep)
    assert third.rows == 0 and third.batches == 0
    assert any("no new predictions" in n for n in third.notes)


def test_batch_of_an_old_day_is_included(tracker: str) -> None:
    """A batch of requests scored days ago (an old day, beyond the listed horizon) is checked, once."""
    dep = "oldday"
    now = time.time()
    log(dep, ["today"], now)
    assert checked(opskit.monitor.check(dep)) == ["today"]
    log(dep, ["week-old"], now - 7 * 86400)  # the writer marks that day as written late
    assert (
        get_tracker().get_state(DAYS_KIND, f"{dep}/{utc_day(now - 7 * 86400)}")["written_at"] >= now
    )  # type: ignore[index]
    assert checked(opskit.monitor.check(dep)) == ["week-old"]
    assert opskit.monitor.check(dep).rows == 0


def test_advance_false_leaves_the_state(tracker: str) -> None:
    """``advance=False`` computes the check and stores nothing: the next check takes the same batches."""
    dep = "dry"
    log(dep, ["d1", "d2"], time.time() - 10)
    opskit.monitor.check(dep)
    before = get_tracker().get_state(CHECK_KIND, dep)
    log(dep, ["d3"], time.time() - 20)
    dry = opskit.monitor.check(dep, advance=False)
    again = opskit.monitor.check(dep, advance=False)
    assert checked(dry) == checked(again) == ["d3"]
    assert get_tracker().get_state(CHECK_KIND, dep) == before
    assert checked(opskit.monitor.check(dep)) == ["d3"]


def test_settle_is_deprecated_and_validated(tracker: str) -> None:
    """``settle=`` warns that it is ignored; a bad value is still an InvalidValue naming it."""
    dep = "settle"
    log(dep, ["s1"], time.time())
    with pytest.raises(ValueError, match="settle=-1"):
        opskit.monitor.check(dep, settle=-1)
    with pytest.warns(DeprecationWarning, match="settle"):
        result = opskit.monitor.check(dep, settle=5)
    assert checked(result) == ["s1"]  # written just now: no settle delay leaves it out


def test_batch_indexed_later_than_the_margin_is_reported(tracker: str) -> None:
    """A batch indexed with a written_at older than watermark - margin is not silent: a note and a warning."""
    dep = "toolate"
    now = time.time()
    log(dep, ["fresh"], now)
    opskit.monitor.check(dep)
    table = to_table(
        dep, [_Request(now - 10, "ancient", "m@a", "primary", "m:1", ("x",), [[1.0]], [0])]
    )
    blob = get_storage().put_bytes(_parquet_bytes(table))
    day = utc_day(now - 10)
    get_tracker().put_state(
        day_kind(dep, day),
        f"{now - 10:017.6f}-1-1",
        {
            "deployment": dep,
            "day": day,
            "digest": blob.digest,
            "format": "parquet",
            "records": 1,
            "first_ts": now - 10,
            "last_ts": now - 10,
            "written_at": now - checkpoint.MARGIN - 60,  # a writer whose clock is far behind
        },
    )
    with pytest.warns(OpskitWarning, match=f"1 batch\\(es\\) of {day}"):
        result = opskit.monitor.check(dep)
    assert result.rows == 0 and any("were not checked" in n for n in result.notes)


def test_state_of_a_range_check_is_continued(tracker: str) -> None:
    """A state left by the former ts-range check is continued from its end: rows before it are not counted twice."""
    dep = "legacy"
    now = time.time()
    log(dep, ["old"], now - 100)
    get_tracker().put_state(
        CHECK_KIND, dep, {"deployment": dep, "since": None, "until": now - 50, "checked_at": now}
    )
    log(dep, ["new"], now - 10)
    assert checked_rows(opskit.monitor.check(dep)) == ["new"]
    log(dep, ["newer"], now - 70)  # late, before the old watermark: batches are the unit now
    assert checked(opskit.monitor.check(dep)) == ["newer"]


def checked_rows(result: opskit.monitor.MonitorCheck) -> list[str]:
    """The request ids of a check that may filter the rows of its batches (continuing a ts-range state)."""
    ids = ids_of(result.deployment, result.batch_keys)
    assert result.rows <= len(ids)
    return ids[-result.rows :] if result.rows else []


def test_two_checks_planned_from_one_state_commit_once(tracker: str) -> None:
    """Two checks that read the same state: the second to commit loses (compare-and-set) and plans again."""
    dep = "race"
    log(dep, ["r1"], time.time())
    opskit.monitor.check(dep)
    log(dep, ["r2"], time.time())
    store = get_tracker()
    a = checkpoint.plan(store, dep)
    b = checkpoint.plan(store, dep)
    assert [k for _, k, _ in a.entries] == [k for _, k, _ in b.entries] and len(a.entries) == 1
    assert checkpoint.commit(store, a, {}) is True
    assert checkpoint.commit(store, b, {}) is False
    log(dep, ["r3"], time.time())
    again = checkpoint.plan(store, dep)
    assert ids_of(dep, tuple(f"{d}/{k}" for d, k, _ in again.entries)) == ["r3"]


def test_concurrent_checks_take_each_batch_once(tracker: str) -> None:
    """Checks running in threads at once, while batches are written: every request id is checked exactly once."""
    dep = "threads"
    log(dep, ["t-0"], time.time())
    results: list[opskit.monitor.MonitorCheck] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                results.append(opskit.monitor.check(dep))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(3)]
    for w in workers:
        w.start()
    written = ["t-0"]
    for i in range(1, 6):
        rid = f"t-{i}"
        log(dep, [rid], time.time() - 5 * i)
        written.append(rid)
    for w in workers:
        w.join()
    assert not errors, errors
    results.append(opskit.monitor.check(dep))
    seen = Counter(rid for r in results for rid in checked(r))
    assert seen == Counter(written)


@st.composite
def interleavings(draw: st.DrawFn) -> list[tuple[str, int, float]]:
    """Writes (a number of requests, how many seconds before now they were scored) and checks, in any order."""
    steps = [
        ("write", draw(st.integers(1, 3)), draw(st.sampled_from([0.0, 5.0, 600.0, 2 * 86400.0])))
    ]
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.booleans()):
            steps.append(("check", 0, 0.0))
        else:
            steps.append(
                (
                    "write",
                    draw(st.integers(1, 3)),
                    draw(st.sampled_from([0.0, 5.0, 600.0, 2 * 86400.0])),
                )
            )
    return steps


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=interleavings())
def test_checks_cover_every_written_request_once(
    tracker: str, steps: list[tuple[str, int, float]]
) -> None:
    """Over any interleaving of late and fresh writes and checks, the request ids checked equal those written."""
    dep = f"h{uuid.uuid4().hex[:8]}"
    written: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OpskitWarning)
        for i, (op, n, age) in enumerate(steps):
            if op == "write":
                ids = [f"{i}-{k}" for k in range(n)]
                log(dep, ids, time.time() - age)
                written.update(ids)
            else:
                seen.update(checked(opskit.monitor.check(dep)))
        seen.update(checked(opskit.monitor.check(dep)))
    assert seen == written


def test_check_frame_columns_match_predictions(tracker: str) -> None:
    """The rows a check reads are the prediction log's rows (same columns), oldest first."""
    dep = "frame"
    now = time.time()
    log(dep, ["f2"], now - 1)
    log(dep, ["f1"], now - 2)
    result = opskit.monitor.check(dep)
    frame = opskit.monitor.predictions(dep)
    assert list(frame.request_id) == ["f1", "f2"]
    assert result.since == pytest.approx(frame.ts.min().timestamp(), abs=1e-3)
    assert result.until > frame.ts.max().timestamp() and isinstance(frame.ts.iloc[0], pd.Timestamp)
    assert result.to_dict()["batches"] == 2 and "batch_keys" not in result.to_dict()


def test_a_flush_that_fails_part_way_never_writes_a_batch_twice(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flush whose second batch fails keeps only the unwritten rows for retry: no duplicates, the bad rows dropped."""
    dep = "partial"
    writer = PredictionLog(dep, retries=2)
    now = time.time()
    writer.record("good", "m@a", "primary", "m:1", ("x",), [[1.0]], [0], ts=now)
    # Two values for one input column: this request's batch cannot be made (a later group of the flush).
    writer.record("bad", "m@a", "primary", "m:1", ("y",), [[1.0, 2.0]], [0], ts=now)
    for _ in range(4):
        writer.flush()
    assert "kept for retry" in capsys.readouterr().out
    assert list(opskit.monitor.predictions(dep).request_id) == ["good"]
    assert writer.written == 1 and writer.dropped == {"store_error": 1}
    assert checked(opskit.monitor.check(dep)) == ["good"]


def test_a_claim_left_without_its_document_does_not_block_checks(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that died between its claim and the claim's document (MLflow) does not stop later checks."""
    monkeypatch.setattr(checkpoint, "CLAIM_WAIT", 0.5)
    dep = "dead"
    log(dep, ["k1"], time.time())
    opskit.monitor.check(dep)
    store = get_tracker()
    state = checkpoint.current(store, dep)
    assert state is not None
    link = f"{dep}/{state['token']}"
    assert store.claim_state(checkpoint.CLAIMS_KIND, link, {"next": "died"})
    store.delete_state(checkpoint.CLAIMS_KIND, link)  # MLflow keeps the claim, not the document
    log(dep, ["k2"], time.time())
    assert checked(opskit.monitor.check(dep)) == ["k2"]
    log(dep, ["k3"], time.time())
    assert checked(opskit.monitor.check(dep)) == ["k3"]


def test_a_writer_clock_ahead_does_not_hide_other_writers(tracker: str) -> None:
    """A batch stamped far in the future is checked with a note, and the watermark stays at this host's clock."""
    dep = "ahead"
    now = time.time()
    log(dep, ["a0"], now)
    opskit.monitor.check(dep)
    table = to_table(dep, [_Request(now, "future", "m@a", "primary", "m:1", ("x",), [[1.0]], [0])])
    blob = get_storage().put_bytes(_parquet_bytes(table))
    day = utc_day(now)
    get_tracker().put_state(
        day_kind(dep, day),
        f"{now:017.6f}-2-1",
        {
            "deployment": dep,
            "day": day,
            "digest": blob.digest,
            "format": "parquet",
            "records": 1,
            "first_ts": now,
            "last_ts": now,
            "written_at": now + 3 * HOUR,  # a host whose clock is three hours ahead
        },
    )
    with pytest.warns(OpskitWarning, match="ahead"):
        first = opskit.monitor.check(dep)
    assert checked(first) == ["future"]
    state = get_tracker().get_state(CHECK_KIND, dep)
    assert state is not None and state["watermark"] <= time.time()
    log(dep, ["on-time"], time.time())  # another host, right clock
    assert checked(opskit.monitor.check(dep)) == ["on-time"]
