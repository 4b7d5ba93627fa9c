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
