"""Building the plugin manager: built-ins from ``DEFAULT_PLUGINS``, third parties from the ``opskit`` entry points.

The process-wide manager and registry are held by ``opskit.runtime``; this module only builds them.

Loading is lazy (first lookup, never at ``import opskit``). Escape hatches:

* ``OPSKIT_LOAD_PLUGINS=a,b`` loads only those entry-point plugins (empty: none);
* ``OPSKIT_DISABLE_PLUGINS=a,b`` skips those (entry-point or distribution names);
* ``OPSKIT_TRACE_HOOKS=1`` logs every hook call to stderr.
"""

from __future__ import annotations

import importlib
import sys
from importlib import metadata
from typing import Any

import pluggy
from attrs import frozen

from opskit import hookspecs
from opskit._tracing import call_registration
from opskit.config import env_flag, env_names
from opskit.errors import PluginError
from opskit.registration import BackendRegistry

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "build_registry",
    "create_plugin_manager",
    "plugin_infos",
]

ENTRY_POINT_GROUP = "opskit"

#: Built-in plugins, registered exactly like third-party ones.
DEFAULT_PLUGINS = (
    "opskit.builtins.local_tracker",
    "opskit.builtins.local_storage",
    "opskit.builtins.fsspec_storage",
    "opskit.builtins.serializers",
    "opskit.builtins.fingerprints",
    "opskit.builtins.local_target",
    "opskit.builtins.docker_target",
    "opskit.builtins.drift_methods",
    "opskit.builtins.alerts",
)


#: Entry-point plugin name → "distribution version", for ``opskit plugins``.
_dist_of: dict[str, str] = {}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allow = env_names("OPSKIT_LOAD_PLUGINS")
    deny = env_names("OPSKIT_DISABLE_PLUGINS") or set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        names = {ep.name.lower(), dist.lower()}
        if names & deny or (allow is not None and not names & allow):
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} from distribution {dist!r} failed to load: "
                f"{type(exc).__name__}: {exc}. Fix or uninstall it (pip uninstall {dist}), or "
                f"disable it with OPSKIT_DISABLE_PLUGINS={ep.name}"
            ) from exc
        _dist_of[ep.name] = f"{dist} {ep.dist.version if ep.dist else ''}".strip()


def create_plugin_manager(
    *, load_entrypoints: bool = True, builtins: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with the hookspecs, the built-ins and (optionally) installed plugins."""
    pm = pluggy.PluginManager("opskit")
    pm.add_hookspecs(hookspecs)
    if builtins:
        deny = env_names("OPSKIT_DISABLE_PLUGINS") or set()
        for module_name in DEFAULT_PLUGINS:
            if module_name.lower() in deny:
                continue
            pm.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints:
        _load_entry_points(pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc}; a plugin implements a hook opskit does not declare (misspelled?)"
        ) from exc
    if env_flag("OPSKIT_TRACE_HOOKS", False):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(f"[opskit hooks] {text}"))
        pm.enable_tracing()
    return pm


def build_registry(pm: pluggy.PluginManager) -> BackendRegistry:
    """Call every ``register_*`` hook implementation, remembering which plugin registered what."""
    registry = BackendRegistry()
    for kind, caller in (
        ("tracker", pm.hook.register_trackers),
        ("storage", pm.hook.register_storages),
        ("target", pm.hook.register_targets),
    ):
        for impl in reversed(caller.get_hookimpls()):  # registration order

            def register(
                name: str,
                factory: Any,
                schemes: Any = (),
                *,
                _k: str = kind,
                _p: str = impl.plugin_name,
            ) -> None:
                registry.add(_k, name, factory, _p, schemes)

            call_registration(pm, caller.name, impl, register)
    return registry


@frozen
class PluginInfo:
    """One loaded plugin, for ``opskit plugins``."""

    name: str
    distribution: str | None
    hooks: tuple[str, ...]
    builtin: bool


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every plugin loaded in *pm* with the hooks it implements."""
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, _dist_of.get(name), hooks, name in DEFAULT_PLUGINS))
    return infos
