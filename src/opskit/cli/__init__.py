"""The ``opskit`` command line, over the same Python API."""

from opskit.cli.main import main

__all__ = ["main", "run"]


def run() -> None:
    """Console-script entry point."""
    import sys

    sys.exit(main())
