"""``opskit.checks``: data checks for ``checks=[...]`` (defined in ``opskit.validation.checks``).

::

    @opskit.train(checks=[checks.not_null(), checks.between("alcohol", 0, 20),
                          checks.matches_schema("wine@production")])
"""

from __future__ import annotations

from opskit.validation.checks import (
    Check,
    CheckResult,
    between,
    custom,
    in_set,
    matches_schema,
    no_drift,
    not_null,
    pandera,
    row_count,
    unique,
)

__all__ = [
    "Check",
    "CheckResult",
    "between",
    "custom",
    "in_set",
    "matches_schema",
    "no_drift",
    "not_null",
    "pandera",
    "row_count",
    "unique",
]
