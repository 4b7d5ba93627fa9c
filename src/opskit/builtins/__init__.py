"""Built-in plugins. Each module is registered like a third-party plugin (see ``DEFAULT_PLUGINS``)."""

from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
