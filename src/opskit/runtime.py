"""The runtime: the one object that owns the settings, plugins and backends of this process.

It holds the ``configure()`` overrides and the resolved ``Config``, the plugin
manager, the backend registry built from it, and the active tracker and storage,
all created lazily on first use. ``Runtime.reset()`` is the one reset: it closes
the backends and forgets what was built (``configure()``, ``reset_defaults()``
and ``set_plugin_manager()`` all go through it).

Plugins reach the active backends through the functions here
(``opskit.runtime.get_tracker()``, ``get_storage()``, ``get_config()``,
``get_registry()``, ``get_plugin_manager()``); the old private ``opskit._backends``
module is a deprecated alias. Layering: this module sits above ``config``,
``plugins`` and the backends, and nothing below it imports it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opskit.config import Config, ConfigOptions, resolve
from opskit.records.runs import Metric, Run, set_history_reader, set_validation_reader

if TYPE_CHECKING:
    from typing import Unpack

    import pluggy

    from opskit.records.validation import ValidationReport
    from opskit.registration import BackendRegistry
    from opskit.storage.base import Storage
    from opskit.tracker.base import Tracker

__all__ = [
    "Runtime",
    "configure",
    "get_config",
    "get_plugin_manager",
    "get_registry",
    "get_runtime",
    "get_storage",
    "get_tracker",
    "reset_defaults",
    "reset_plugins",
    "set_plugin_manager",
    "storage_registration",
]


class Runtime:
    """Config, plugin manager, backend registry, tracker and storage of one process; one ``reset()``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._overrides: dict[str, Any] = {}
        self._config: Config | None = None
        self._pm: pluggy.PluginManager | None = None
        self._registry: BackendRegistry | None = None
        self._tracker: Tracker | None = None
        self._storage: Storage | None = None

    # -- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The configuration in force (resolved once, then kept until ``configure``/``reset``)."""
        config = self._config
        if config is None:
            with self._lock:
                if self._config is None:
                    self._config = resolve(self._overrides)
                config = self._config
        return config

    @property
    def overrides(self) -> dict[str, Any]:
        """A copy of the ``configure()`` overrides in force."""
        with self._lock:
            return dict(self._overrides)

    def configure(self, **options: Any) -> Config:
        """Merge *options* into the overrides (None drops one), re-resolve, close the backends."""
        with self._lock:
            merged = {**self._overrides, **options}
            merged = {k: v for k, v in merged.items() if v is not None}
            config = resolve(merged)  # validate before changing anything
            self.reset(plugins=False)
            self._overrides = merged
            self._config = config
        return config

    def set_overrides(self, overrides: dict[str, Any]) -> None:
        """Replace the overrides whole (for ``opskit.testing.fresh_store``); resolved again on next use."""
        with self._lock:
            self.reset(plugins=False)
            self._overrides = dict(overrides)

    # -- plugins -------------------------------------------------------------------------------
    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The plugin manager, created (and plugins loaded) on first use."""
        pm = self._pm
        if pm is None:
            with self._lock:
                if self._pm is None:
                    from opskit.plugins.manager import create_plugin_manager

                    self._pm = create_plugin_manager()
                pm = self._pm
        return pm

    @property
    def registry(self) -> BackendRegistry:
        """Every registered tracker, storage and target factory."""
        registry = self._registry
        if registry is None:
            with self._lock:
                if self._registry is None:
                    from opskit.plugins.manager import build_registry

                    self._registry = build_registry(self.plugin_manager)
                registry = self._registry
        return registry

    @property
    def loaded_plugin_manager(self) -> pluggy.PluginManager | None:
        """The plugin manager if one is in use, else None (does not create one)."""
        return self._pm

    def set_plugin_manager(self, pm: pluggy.PluginManager | None) -> None:
        """Use *pm* (None: build a fresh one on next use); closes the backends built from the old one."""
        with self._lock:
            self.reset(config=False)
            self._pm = pm

    # -- backends ------------------------------------------------------------------------------
    @property
    def tracker(self) -> Tracker:
        """The tracker selected by the configuration (``OPSKIT_TRACKER``, default ``local``)."""
        tracker = self._tracker
        if tracker is None:
            with self._lock:
                if self._tracker is None:
                    config = self.config
                    self._tracker = self.registry.get("tracker", config.tracker).factory(config)
                tracker = self._tracker
        return tracker

    def storage_registration(self, location: str) -> tuple[str, str]:
        """(backend name, location) for a storage setting: a name, a path or a URL."""
        registry = self.registry
        if "://" in location:
            scheme = location.split("://", 1)[0]
            return registry.for_scheme("storage", scheme).name, location
        if location in registry.names("storage"):
            return location, location
        return "local", location  # a plain path

    @property
    def storage(self) -> Storage:
        """The storage selected by the configuration (``OPSKIT_STORAGE``, default ``local``)."""
        storage = self._storage
        if storage is None:
            with self._lock:
                if self._storage is None:
                    config = self.config
                    name, location = self.storage_registration(config.storage)
                    self._storage = self.registry.get("storage", name).factory(config, location)
                storage = self._storage
        return storage

    # -- the one reset -------------------------------------------------------------------------
    def reset(self, *, config: bool = True, plugins: bool = True) -> None:
        """Close the tracker, forget tracker and storage; with *config* also the overrides and resolved
        settings, with *plugins* also the plugin manager and registry. Everything is rebuilt on next use."""
        with self._lock:
            tracker, self._tracker, self._storage = self._tracker, None, None
            if config:
                self._overrides = {}
                self._config = None
            if plugins:
                self._pm = None
                self._registry = None
        if tracker is not None:
            tracker.close()


_runtime = Runtime()


def _read_history(run_id: str, key: str) -> list[Metric]:
    return _runtime.tracker.metric_history(run_id, key)


# ``Run.metric_history`` (kept for old code) reads through the runtime; the record module imports nothing above it.
set_history_reader(_read_history)


def _read_validation(run: Run) -> ValidationReport | None:
    from opskit.validation.store import load_report

    return load_report(run, _runtime.storage)


# ``Run.validation`` reads the stored report through the runtime's storage.
set_validation_reader(_read_validation)


def get_runtime() -> Runtime:
    """The process-wide runtime."""
    return _runtime


def configure(**options: Unpack[ConfigOptions]) -> Config:
    """Set options for this process (they win over environment and pyproject.toml).

    Options: ``home``, ``tracker``, ``storage``, ``experiment``, ``capture_env``,
    ``capture_git``, ``tracker_options``, ``storage_options``, ``governance`` (protected
    aliases and approvals: docs/governance.md). An option left out
    keeps its earlier override; passing ``None`` removes it. Returns the resulting
    configuration; a bad value raises ``ConfigError`` and changes nothing.
    """
    return _runtime.configure(**options)


def get_config() -> Config:
    """The configuration in force (resolved once, then cached until ``configure``/``reset_defaults``)."""
    return _runtime.config


def reset_defaults() -> None:
    """Forget every ``configure()`` override and re-read environment and pyproject.toml."""
    _runtime.reset(plugins=False)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created (and plugins loaded) on first use."""
    return _runtime.plugin_manager


def get_registry() -> BackendRegistry:
    """Every registered tracker, storage and target factory."""
    return _runtime.registry


def set_plugin_manager(pm: pluggy.PluginManager | None) -> None:
    """Use *pm* for this process (None: build a fresh one on next use). Resets active backends."""
    _runtime.set_plugin_manager(pm)


def reset_plugins() -> None:
    """Forget the plugin manager; the next lookup reloads built-ins and entry points."""
    _runtime.set_plugin_manager(None)


def get_tracker() -> Tracker:
    """The active tracker (the public accessor for plugins)."""
    return _runtime.tracker


def get_storage() -> Storage:
    """The active storage (the public accessor for plugins)."""
    return _runtime.storage


def storage_registration(location: str) -> tuple[str, str]:
    """(backend name, location) for a storage setting: a name, a path or a URL."""
    return _runtime.storage_registration(location)
