"""Trackers keep run metadata and the model registry. ``Tracker`` is the contract.

It is split by concern (``RunTracker``, ``RegistryTracker``, ``StateStore``);
optional extras are capability protocols such as ``SupportsSync``.
"""

from opskit.tracker.base import RegistryTracker, RunTracker, StateStore, Tracker
from opskit.tracker.capabilities import (
    SupportsAudit,
    SupportsLifecycle,
    SupportsLocation,
    SupportsQueuedRegistration,
    SupportsSync,
)

__all__ = [
    "RegistryTracker",
    "RunTracker",
    "StateStore",
    "SupportsAudit",
    "SupportsLifecycle",
    "SupportsLocation",
    "SupportsQueuedRegistration",
    "SupportsSync",
    "Tracker",
]


from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
