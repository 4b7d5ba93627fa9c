"""Deprecated: use ``opskit.runtime`` (``get_tracker``, ``get_storage``, ``get_runtime().reset()``).

Kept so plugins written against opskit 0.1 keep importing; nothing in opskit uses it.
"""

from __future__ import annotations

from opskit.runtime import get_storage, get_tracker, storage_registration

__all__ = ["get_storage", "get_tracker", "reset_backends", "storage_registration"]


def reset_backends() -> None:
    """Close and forget the active tracker and storage (settings and plugins are kept)."""
    from opskit.runtime import get_runtime

    get_runtime().reset(config=False, plugins=False)
