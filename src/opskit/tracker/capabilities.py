"""Optional tracker capabilities: extras a tracker backend may offer beyond ``Tracker``.

Each capability is a ``runtime_checkable`` protocol. A backend declares one by
subclassing it (``class MyTracker(Tracker, SupportsSync)``), so mypy checks the
methods, and opskit finds it with ``isinstance(tracker, SupportsSync)`` instead
of probing attribute names. A tracker without the capability is fine: the
feature that uses it says so (``opskit sync`` prints "nothing to sync").
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["SupportsSync"]


@runtime_checkable
class SupportsSync(Protocol):
    """A tracker that queues writes while its server is unreachable (an outbox) and delivers them later."""

    def sync(self) -> int:
        """Deliver everything queued now; return how many runs were delivered (0 when nothing was queued).

        Called by ``opskit sync``. Safe to call at any time and repeatedly: an
        interrupted sync never delivers anything twice, and after a sync that
        returns, what was delivered is readable through the tracker.
        Raises (and keeps the queue) when the server is still unreachable.
        """
        ...
