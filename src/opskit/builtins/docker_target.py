"""Built-in plugin: container build contexts, ``target="docker"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.deployments.target import Target
    from opskit.registration import RegisterTarget


def _docker_target(config: Config) -> Target:
    from opskit.deployments.docker import DockerTarget

    return DockerTarget(config)


@hookimpl(trylast=True)
def register_targets(register: RegisterTarget) -> None:
    register("docker", _docker_target)
