"""The name opskit is installed under, and install hints that use it.

The import name is ``opskit``; the distribution is ``opskit-ml`` because ``opskit`` on PyPI
belongs to an unrelated project. Every message that tells a user what to ``pip install`` is
built here, so none can name the other project.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "pip_install"]

DISTRIBUTION = "opskit-ml"


def pip_install(extra: str | None = None, *, upgrade: bool = False) -> str:
    """The ``pip install`` command for opskit, with *extra* (e.g. ``"s3"``) when given."""
    target = f"'{DISTRIBUTION}[{extra}]'" if extra else DISTRIBUTION
    return f"pip install {'-U ' if upgrade else ''}{target}"
