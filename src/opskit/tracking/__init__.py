"""Runs: the run context (``context``), the train engine in explicit stages (``pipeline``),
the thin ``@train`` / ``@track`` decorators (``decorators``) and run lookup (``runs``)."""

from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
