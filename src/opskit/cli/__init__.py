"""The ``opskit`` command line, over the same Python API."""

from opskit.cli.main import main

__all__ = ["main", "run"]


def run() -> None:
    """Console-script entry point."""
    import sys

    sys.exit(main())


from typing import TYPE_CHECKING  # noqa: E402

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
