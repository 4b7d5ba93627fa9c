"""Built-in plugin: the local model server target, ``target="local"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.deployments.target import Target
    from opskit.registration import RegisterTarget


def _local_target(config: Config) -> Target:
    from opskit.deployments.local import LocalTarget

    return LocalTarget(config)


@hookimpl(trylast=True)
def register_targets(register: RegisterTarget) -> None:
    register("local", _local_target)
