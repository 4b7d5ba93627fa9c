"""The prediction log holds what the model received, typed by its signature, whatever format each request used.

A request may send a float as CSV text, a JSON int, or a datetime as ISO text or epoch
milliseconds; the log keeps one type per column (the signature's), so reading it, drift
against the stored profile and `monitor check` work on a mix of formats. Logs written
before, which kept values as received, are still read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.serve.predlog import PredictionLog, combine_tables

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def _training() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(
        {
            "alcohol": rng.normal(12.0, 1.0, n),
            "visits": rng.integers(0, 9, n),
            "region": rng.choice(["north", "south", "east"], n),
            "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
        }
    )
    y = pd.Series((X["alcohol"] > 12).astype(int), name="good")
    return X, y


class _Model:
    """A tree on the numeric columns; takes the whole frame (datetime and text included)."""

    def __init__(self, X: pd.DataFrame, y: pd.Series) -> None:
        self.tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(
            X[["alcohol", "visits"]], y
        )

    def predict(self, X: pd.DataFrame) -> Any:
        assert pd.api.types.is_datetime64_any_dtype(X["day"])
        return self.tree.predict(X[["alcohol", "visits"]])


def _wait(deployment: str, rows: int) -> pd.DataFrame:
    deadline = time.monotonic() + 30
    while True:
        found = opskit.monitor.predictions(deployment)
        if len(found) >= rows or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_csv_json_iso_and_epoch_requests_log_one_type_per_column(store: Path) -> None:
    """CSV text, JSON numbers, ISO and epoch-ms datetimes: the log has the signature's types, drift and check see no drift on training rows."""
    X, y = _training()

    @opskit.train(model="typed", alias="production")
    def fit(X: pd.DataFrame, y: pd.Series) -> _Model:
        return _Model(X, y)

    fit(X, y)
    dep = opskit.deploy("typed@production", name="typed-prod", workers=1)
    try:
        assert dep.url is not None
        rows = X.iloc[:60]
        iso = rows.assign(day=rows["day"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
        epoch = rows.assign(day=(rows["day"] - pd.Timestamp(0)) // pd.Timedelta("1ms"))
        sent = 0
        csv_body = rows.iloc[:20].assign(day=iso["day"].iloc[:20]).to_csv(index=False)
        response = httpx.post(
            f"{dep.url}/invocations", content=csv_body, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 200, response.text
        sent += 20
        for part in (iso.iloc[20:40], epoch.iloc[40:60]):
            body = {"dataframe_split": part.to_dict(orient="split", index=False)}
            response = httpx.post(f"{dep.url}/invocations", json=body)
            assert response.status_code == 200, response.text
            sent += len(part)
        logged = _wait("typed-prod", sent)
        assert len(logged) == sent
        assert logged["alcohol"].dtype == np.float64
        assert pd.api.types.is_integer_dtype(logged["visits"])
        assert pd.api.types.is_datetime64_any_dtype(logged["day"])
        assert set(logged["region"]) <= {"north", "south", "east"}
        assert sorted(logged["day"].dt.strftime("%Y-%m-%d")) == sorted(
            rows["day"].dt.strftime("%Y-%m-%d")
        )
        served = opskit.monitor.drift("typed@production", "typed-prod")
        in_memory = opskit.monitor.drift("typed@production", rows)
        assert served.drifted_columns == in_memory.drifted_columns == []
        for name in ("alcohol", "visits", "region", "day"):
            assert served.columns[name].kind == in_memory.columns[name].kind
        check = opskit.monitor.check("typed-prod")
        assert check.rows == sent and not check.drifted
    finally:
        opskit.deployments.stop("typed-prod")


_VALUES = {
    "float": st.floats(-1e6, 1e6, allow_nan=False),
    "int": st.integers(-(2**40), 2**40),
    "text": st.text(max_size=6),
    "bool": st.booleans(),
    "stamp": st.datetimes(
        min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2030-01-01").to_pydatetime(),
    ),
}


@settings(max_examples=40)
@given(
    kinds=st.lists(st.sampled_from(sorted(_VALUES)), min_size=1, max_size=4),
    data=st.data(),
)
def test_batches_that_typed_a_column_differently_are_read_together(
    kinds: list[str], data: st.DataObject
) -> None:
    """Old logs kept values as received: batches typing one column as numbers, text, booleans or times combine without error, no row lost."""
    tables = []
    for i, kind in enumerate(kinds):
        values = data.draw(st.lists(_VALUES[kind] | st.none(), min_size=1, max_size=5))
        other = {"x": pa.array([float(i)] * len(values))} if i % 2 else {}
        tables.append(pa.table({"v": pa.array(values), **other}))
    combined = combine_tables(tables)
    assert combined.num_rows == sum(t.num_rows for t in tables)
    assert combined.column_names[0] == "v"
    nulls = sum(t.column("v").null_count for t in tables)
    assert combined.column("v").null_count == nulls
    typed = {t.column("v").type for t in tables if not pa.types.is_null(t.column("v").type)}
    if len(typed) == 1:  # batches that agree (all-null batches aside) keep their type
        assert combined.column("v").type == typed.pop()
    frame = combined.to_pandas()
    assert len(frame) == combined.num_rows


def test_an_old_log_with_text_and_numbers_is_read_by_every_reader(store: Path) -> None:
    """A log written as received (CSV text in one batch, JSON numbers in another): predictions, the dataset and drift all read it."""
    log = PredictionLog("old")
    now = time.time()
    log.record("r1", "m@production", "primary", "m:1", ("a",), [["1.5"], ["2.5"]], [0, 1], ts=now)
    log.flush()
    log.record("r2", "m@production", "primary", "m:1", ("a",), [[3.5], [4.5]], [1, 0], ts=now + 1)
    log.flush()
    frame = opskit.monitor.predictions("old")
    assert frame["request_id"].tolist() == ["r1", "r1", "r2", "r2"]
    assert frame["a"].tolist() == ["1.5", "2.5", "3.5", "4.5"]
    assert opskit.monitor.predictions_dataset("old").to_table().num_rows == 4
    report = opskit.monitor.drift(pd.DataFrame({"a": ["1.5", "3.5"]}), "old")
    assert report.n_current == 4
