"""Tracing hook calls that opskit makes itself (``OPSKIT_TRACE_HOOKS``), the way pluggy traces its own.

A leaf module (only pluggy, for types): the plugin manager, the typed hook facade and the
drift-method registry all use it without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy
    from pluggy import HookImpl

__all__ = ["call_registration", "tracing"]


def tracing(pm: pluggy.PluginManager) -> bool:
    """Whether hook calls of *pm* are traced (a trace writer is set: ``OPSKIT_TRACE_HOOKS``)."""
    return getattr(pm.trace.root, "_writer", True) is not None  # unknown pluggy internals: trace


def call_registration(pm: pluggy.PluginManager, hook: str, impl: HookImpl, register: Any) -> None:
    """Call one ``register_*`` implementation with *register*, traced like any hook call (``OPSKIT_TRACE_HOOKS``).

    The registries call each implementation on its own (to name the plugin behind
    every registration), which bypasses pluggy's tracing; this writes the same lines.
    """
    if not tracing(pm):
        impl.function(register=register)
        return
    trace = pm.trace.root.get("hook")
    trace.root.indent += 1
    trace(f"{hook} ({impl.plugin_name})", {"register": register})
    try:
        impl.function(register=register)
        trace("finish", hook, "-->", None)
    finally:
        trace.root.indent -= 1
