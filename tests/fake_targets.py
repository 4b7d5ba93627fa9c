"""A deployment target that records deployments and serves nothing, for registry tests.

Fixtures (loaded by conftest): ``fake_target`` registers target ``fake`` whose deployments
count as running until stopped; ``echo`` registers target ``echo`` (state ``echoed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import opskit
from opskit.plugins import get_plugin_manager


class RecordingTarget:
    """Records each deployment with the state *state*; stopping it makes it ``stopped``."""

    def __init__(self, name: str, state: str) -> None:
        self.name, self.state = name, state

    def deploy(self, spec: opskit.deployments.DeploymentSpec) -> opskit.Deployment:
        return opskit.Deployment(
            name=spec.name,
            target=self.name,
            url=None,
            refs=tuple(spec.variants),
            weights=spec.variants,
            state=self.state,
        )

    def status(self, deployment: opskit.Deployment) -> str:
        return "stopped" if deployment.state == "stopped" else self.state

    def stop(self, deployment: opskit.Deployment) -> None:
        pass

    def logs(self, deployment: opskit.Deployment) -> str:
        return ""


class _Plugin:
    def __init__(self, name: str, state: str) -> None:
        self.target_name, self.state = name, state

    @opskit.hookimpl
    def register_targets(self, register: Callable[..., Any]) -> None:
        register(self.target_name, lambda config: RecordingTarget(self.target_name, self.state))


def _registered(name: str, state: str) -> Iterator[None]:
    plugin = f"test-target-{name}"
    get_plugin_manager().register(_Plugin(name, state), name=plugin)
    yield
    get_plugin_manager().unregister(name=plugin)


@pytest.fixture
def fake_target() -> Iterator[None]:
    """Target ``fake``: its deployments count as running until stopped."""
    yield from _registered("fake", "running")


@pytest.fixture
def echo() -> Iterator[None]:
    """Target ``echo``: records deployments (state ``echoed``)."""
    yield from _registered("echo", "echoed")
