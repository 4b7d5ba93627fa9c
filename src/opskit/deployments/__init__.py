"""Deployments: ``opskit.deployments.list()``, ``get``, ``stop``, ``logs``; the ``Target`` contract.

``opskit.deploy(...)`` (in ``api``) starts one. Built-in targets: ``local``
(a model server process) and ``docker`` (a build context).
"""

from opskit.deployments.api import deploy, get, list, logs, stop
from opskit.deployments.client import DeploymentClient
from opskit.deployments.target import Target
from opskit.records.deployments import Deployment, DeploymentSpec

__all__ = [
    "Deployment",
    "DeploymentClient",
    "DeploymentSpec",
    "Target",
    "deploy",
    "get",
    "list",
    "logs",
    "stop",
]


from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
