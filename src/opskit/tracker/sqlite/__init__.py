"""The embedded tracker: SQLite in WAL mode, safe for many processes."""

from opskit.tracker.sqlite.tracker import SQLiteTracker

__all__ = ["SQLiteTracker"]
