"""The name opskit is installed under, and install hints that use it.

The import name is ``opskit``; the distribution is ``opskit-ml`` because ``opskit`` on PyPI
belongs to an unrelated project. Every message that tells a user what to ``pip install`` is
built here, so none can name the other project.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

__all__ = ["DISTRIBUTION", "EXTRA_MODULES", "pip_install", "require_extra"]

DISTRIBUTION = "opskit-ml"


def pip_install(extra: str | None = None, *, upgrade: bool = False, clone: bool = False) -> str:
    """The ``pip install`` command for opskit, with *extra* (e.g. ``"s3"``) when given.

    *clone*: the editable install from a clone of the repository (``-e '.[extra]'``).
    """
    if clone:
        local = f"'.[{extra}]'" if extra else "."
        return f"pip install -e {local}"
    target = f"'{DISTRIBUTION}[{extra}]'" if extra else DISTRIBUTION
    return f"pip install {'-U ' if upgrade else ''}{target}"


#: The import names each optional extra brings (pyproject.toml's optional-dependencies).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("starlette", "uvicorn", "prometheus_client", "orjson", "pyarrow"),
    "monitor": ("numpy", "scipy", "pandas", "pyarrow", "plotly", "sklearn", "fairlearn"),
}

_found: set[str] = set()


def _importable(module: str) -> bool:
    if module in _found:
        return True
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        _found.add(module)
    return found


def require_extra(extra: str, feature: str, modules: Sequence[str] | None = None) -> None:
    """Raise ``MissingExtra`` unless *modules* (default: all of *extra*'s) can be imported.

    *feature* names what needs them in the message (``"opskit.monitor.drift"``). Nothing is
    imported: only found (``importlib.util.find_spec``), so the check is cheap and has no
    side effect.
    """
    from opskit.errors import MissingExtra

    wanted = EXTRA_MODULES[extra] if modules is None else tuple(modules)
    missing = [m for m in wanted if not _importable(m)]
    if missing:
        raise MissingExtra(
            f"{feature} needs the {extra!r} extra, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {pip_install(extra)} "
            f"(in a clone of opskit: {pip_install(extra, clone=True)})"
        )
