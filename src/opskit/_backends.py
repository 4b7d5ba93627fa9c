"""The active tracker and storage, built from the configuration on first use."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.storage.base import Storage
    from opskit.tracker.base import Tracker

__all__ = ["get_storage", "get_tracker", "reset_backends", "storage_registration"]

_lock = threading.RLock()
_tracker: Tracker | None = None
_storage: Storage | None = None


def get_tracker() -> Tracker:
    """The tracker selected by the configuration (``OPSKIT_TRACKER``, default ``local``)."""
    global _tracker
    if _tracker is None:
        with _lock:
            if _tracker is None:
                from opskit.config import get_config
                from opskit.plugins import get_registry

                config = get_config()
                entry = get_registry().get("tracker", config.tracker)
                _tracker = entry.factory(config)
    return _tracker


def storage_registration(location: str) -> tuple[str, str]:
    """(backend name, location) for a storage setting: a name, a path or a URL."""
    from opskit.plugins import get_registry

    registry = get_registry()
    if "://" in location:
        scheme = location.split("://", 1)[0]
        return registry.for_scheme("storage", scheme).name, location
    if location in registry.names("storage"):
        return location, location
    return "local", location  # a plain path


def get_storage() -> Storage:
    """The storage selected by the configuration (``OPSKIT_STORAGE``, default ``local``)."""
    global _storage
    if _storage is None:
        with _lock:
            if _storage is None:
                from opskit.config import get_config
                from opskit.plugins import get_registry

                config = get_config()
                name, location = storage_registration(config.storage)
                _storage = get_registry().get("storage", name).factory(config, location)
    return _storage


def reset_backends() -> None:
    """Close and forget the active backends (after ``configure`` or a plugin change)."""
    global _tracker, _storage
    with _lock:
        tracker, _tracker, _storage = _tracker, None, None
    if tracker is not None:
        tracker.close()
