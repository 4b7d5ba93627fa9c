"""Test helpers for plugin authors: contract suites, a fresh store, a temporary plugin manager.

A plugin's own tests subclass a contract suite and give it one fixture::

    import pytest
    from opskit.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self, tmp_path):
            return MyStorage(tmp_path / "blobs")

pytest collects every contract test on the subclass. A backend that legitimately
lacks a feature says so in ``unsupported`` (feature → reason); those tests then
report a skip with that reason instead of failing.

This module needs ``pytest`` and ``hypothesis`` (``pip install 'opskit-ml[testing]'``);
``import opskit`` never imports it. Add ``pytest_plugins = ["opskit.testing"]`` to a
``conftest.py`` to get the ``opskit_store`` fixture.
"""

from __future__ import annotations

from opskit.testing._context import fresh_store, opskit_store, plugin_manager
from opskit.testing._storage import StorageContract
from opskit.testing._target import TargetContract, register_test_model
from opskit.testing._tracker import TrackerContract

__all__ = [
    "StorageContract",
    "TargetContract",
    "TrackerContract",
    "fresh_store",
    "opskit_store",
    "plugin_manager",
    "register_test_model",
]


from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
