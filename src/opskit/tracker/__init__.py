"""Trackers keep run metadata and the model registry. ``Tracker`` is the contract."""

from opskit.tracker.base import Tracker

__all__ = ["Tracker"]
