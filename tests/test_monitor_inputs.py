"""Monitoring fed the inputs a demanding user sends: every kind of time value, label container, window and column name.

A real deployment (``inputs``: a classifier whose input columns are named ``label``,
``variant`` and ``grp``, with missing values, predicting the texts ``yes``/``no``), real
HTTP, the real prediction log.
"""

from __future__ import annotations

import json
import time
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
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.errors import InvalidValue
from opskit.monitor.perf import LABEL_DAYS_KIND
from opskit.runtime import get_tracker

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
    """A classifier over inputs named ``label``, ``variant`` and ``grp`` (10 % missing), deployed as ``inputs``."""
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
