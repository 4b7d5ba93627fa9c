"""The environment: Python, platform and every installed distribution, captured once per process."""

from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata

from opskit.records import EnvInfo

__all__ = ["capture_env"]


@functools.cache
def _packages() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        meta = dist.metadata  # parsed on every access: read it once
        name = meta["Name"] if meta else None
        if name:
            found.setdefault(name, meta["Version"])
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


@functools.cache
def _base() -> tuple[str, str, str]:
    return platform.python_version(), sys.implementation.name, platform.platform()


@functools.cache
def capture_env(*, packages: bool = True) -> EnvInfo:
    """The environment of this process, computed once per process (the same record every run)."""
    python, implementation, plat = _base()
    return EnvInfo(python, implementation, plat, _packages() if packages else {})
