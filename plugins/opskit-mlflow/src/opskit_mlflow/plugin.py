"""The entry point: registers the ``mlflow`` tracker (``OPSKIT_TRACKER=mlflow``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.registration import RegisterTracker
    from opskit.tracker.base import Tracker


def _mlflow_tracker(config: Config) -> Tracker:
    from opskit_mlflow.tracker import MLflowTracker

    tracker: Tracker = MLflowTracker.from_config(config)
    return tracker


@hookimpl
def register_trackers(register: RegisterTracker) -> None:
    register("mlflow", _mlflow_tracker)
