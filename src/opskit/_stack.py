"""Where a warning should point: the first frame outside opskit."""

from __future__ import annotations

import sys

__all__ = ["user_stacklevel"]


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the caller that names the user's line, however deep opskit is."""
    frame = sys._getframe(1)
    level = 1
    while (
        frame.f_back is not None
        and frame.f_globals.get("__name__", "").partition(".")[0] == "opskit"
    ):
        frame = frame.f_back
        level += 1
    return level
