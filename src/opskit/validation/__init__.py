"""Validation: data checks before the call, evaluation and quality gates after it.

``opskit.checks`` (``opskit.validation.checks``) and ``opskit.gates``
(``opskit.validation.gates``) declare them; ``opskit.validation.runner`` runs them inside
the train pipeline (``before_call`` / ``after_call``); ``opskit.validation.store`` keeps the
report with the run. Nothing here imports pandas, scikit-learn, pandera or fairlearn at
module level: they load when a check or gate first needs them.
"""

from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
