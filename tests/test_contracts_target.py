"""The target contract suite (opskit.testing.TargetContract) run against the local, docker and print targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

import opskit
from opskit.deployments.target import Target
from opskit.testing import TargetContract


class TestLocalTarget(TargetContract):
    """The built-in local target: one real model server, answering over real HTTP."""

    @pytest.fixture
    def target(self) -> Target:
        from opskit.deployments.local import LocalTarget

        return LocalTarget(opskit.get_config())

    @pytest.fixture
    def options(self) -> dict[str, Any]:
        return {"workers": 1}


class TestDockerTarget(TargetContract):
    """The built-in docker target, which writes a build context and runs nothing."""

    live_states: ClassVar[frozenset[str]] = frozenset({"built"})
    #: A build context serves nothing here, so stopping it leaves it built.
    stopped_states: ClassVar[frozenset[str]] = frozenset({"built"})

    @pytest.fixture
    def target(self) -> Target:
        from opskit.deployments.docker import DockerTarget

        return DockerTarget(opskit.get_config())

    @pytest.fixture
    def options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "context")}


class TestPrintTarget(TargetContract):
    """plugins/opskit-example's print target."""

    live_states: ClassVar[frozenset[str]] = frozenset({"printed"})

    @pytest.fixture
    def target(self) -> Target:
        from opskit_example.target import PrintTarget

        return PrintTarget()
