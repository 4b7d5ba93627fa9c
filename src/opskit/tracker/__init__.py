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
