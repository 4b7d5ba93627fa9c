"""Plugins: ``opskit.plugins.list_plugins()`` and the plugin manager.

Loading is lazy (first lookup, never at ``import opskit``). Escape hatches:

* ``OPSKIT_LOAD_PLUGINS=a,b`` loads only those entry-point plugins (empty: none);
* ``OPSKIT_DISABLE_PLUGINS=a,b`` skips those (entry-point or distribution names);
* ``OPSKIT_TRACE_HOOKS=1`` logs every hook call to stderr.

This package is a facade: ``opskit.plugins.manager`` builds managers and registries,
``opskit.runtime`` holds the process-wide ones. The names below keep the import paths
plugins and tests used when this was one module (``from opskit.plugins import get_registry``).
"""

from __future__ import annotations

from opskit.plugins.manager import (
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PluginInfo,
    build_registry,
    create_plugin_manager,
    plugin_infos,
)
from opskit.runtime import get_plugin_manager, get_registry, reset_plugins, set_plugin_manager

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "build_registry",
    "create_plugin_manager",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "reset_plugins",
    "set_plugin_manager",
]


def list_plugins() -> list[PluginInfo]:
    """Every loaded plugin with the hooks it implements."""
    return plugin_infos(get_plugin_manager())


from typing import TYPE_CHECKING  # noqa: E402

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
