"""Deployments: ``opskit.deployments.list()``, ``get``, ``stop``, ``logs``; the ``Target`` contract.

``opskit.deploy(...)`` (in ``api``) starts one. Built-in targets: ``local``
(a model server process) and ``docker`` (a build context).
"""

from opskit.deployments.api import deploy, get, list, logs, stop
from opskit.deployments.target import Deployment, DeploymentSpec, Target

__all__ = ["Deployment", "DeploymentSpec", "Target", "deploy", "get", "list", "logs", "stop"]
