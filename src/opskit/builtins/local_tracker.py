"""Built-in plugin: the embedded SQLite tracker, ``tracker = "local"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.registration import RegisterTracker
    from opskit.tracker.base import Tracker


def _local_tracker(config: Config) -> Tracker:
    from opskit.config import create_home
    from opskit.tracker.sqlite import SQLiteTracker

    tracker: Tracker = SQLiteTracker(create_home(config.home) / "opskit.db")
    return tracker


@hookimpl(trylast=True)
def register_trackers(register: RegisterTracker) -> None:
    register("local", _local_tracker)
