"""Periods written as text: ``"30d"``, ``"12h"``, ``"2w"`` (the ``retention=`` option)."""

from __future__ import annotations

import re

from opskit.errors import InvalidValue

__all__ = ["parse_period"]

_PERIOD = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT = {"h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_period(value: str | int | float, *, name: str = "retention") -> float:
    """Seconds in a period: ``"30d"``, ``"12h"``, ``"2w"``, or a positive number of days."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not value > 0 or value == float("inf"):
            raise InvalidValue(
                f"{name}={value!r} must be a positive number of days, or text like '30d'"
            )
        return float(value) * 86400.0
    match = _PERIOD.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise InvalidValue(
            f"{name}={value!r} is not a period: use a positive number of hours, days or weeks "
            "such as '12h', '30d' or '2w'"
        )
    return int(match.group(1)) * _UNIT[match.group(2)]
