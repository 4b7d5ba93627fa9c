"""The prediction log's day index on both trackers: the embedded store and a real MLflow server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import opskit
from opskit.runtime import get_storage, get_tracker
from opskit.serve.predlog import DAYS_KIND, PredictionLog, day_kind

pytestmark = pytest.mark.trackers("local", "mlflow")


def _at(day: str, hour: int) -> float:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp()


def test_prediction_log_days_on_both_trackers(tracker: str) -> None:
    """Batches of two days are indexed per day in the tracker; a one-day read returns that day's rows only."""
    log = PredictionLog("dep")
    for day in ("2026-11-29", "2026-11-30"):
        for hour in (1, 23):
            log.record(
                f"{day}-{hour}",
                "m@production",
                "primary",
                "m:1",
                ("a",),
                [[hour], [hour + 0.5]],
                [0, 1],
                ts=_at(day, hour),
            )
    assert log.flush() == 8
    index = get_tracker().list_state(DAYS_KIND)
    assert sorted(index) == ["dep/2026-11-29", "dep/2026-11-30"]
    entries = get_tracker().list_state(day_kind("dep", "2026-11-30"))
    assert sum(e["records"] for e in entries.values()) == 4
    assert all(get_storage().verify(e["digest"]) for e in entries.values())
    frame = opskit.monitor.predictions("dep", since="2026-11-30", until="2026-12-01")
    assert frame.request_id.tolist() == ["2026-11-30-1"] * 2 + ["2026-11-30-23"] * 2
    assert frame.a.tolist() == [1, 1.5, 23, 23.5]
    assert len(opskit.monitor.predictions("dep")) == 8
