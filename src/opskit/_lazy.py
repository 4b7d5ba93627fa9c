"""Lazy package attributes: a submodule name resolves to the submodule, imported on first use."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["package_getattr", "submodule"]


def submodule(package: str, name: str) -> ModuleType | None:
    """``package.name`` imported if it is a submodule of *package*, else None (nothing imported).

    Lets ``opskit.monitor.alerts.latest(...)`` work after a plain ``import opskit``, as the
    docs write it, while ``import opskit`` itself stays cheap.
    """
    if not name.isidentifier() or name.startswith("__"):
        return None
    full = f"{package}.{name}"
    try:
        spec = importlib.util.find_spec(full)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return importlib.import_module(full)


def package_getattr(package: str, name: str) -> ModuleType:
    """A package's module ``__getattr__``: the submodule *name*, else ``AttributeError``."""
    found = submodule(package, name)
    if found is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return found
