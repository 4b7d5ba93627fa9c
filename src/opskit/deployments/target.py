"""The deployment target contract (``Target``).

Deprecated homes kept for plugins: ``Deployment`` and ``DeploymentSpec`` now live in
``opskit.records.deployments``, ``request_body`` in ``opskit.deployments.client``; both
stay importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opskit.records.deployments import Deployment, DeploymentSpec

if TYPE_CHECKING:
    from opskit.deployments.client import request_body as request_body

__all__ = ["Deployment", "DeploymentSpec", "Target", "request_body"]


def __getattr__(name: str) -> Any:
    if name == "request_body":  # moved to opskit.deployments.client (it does not belong to the contract)
        from opskit.deployments import client

        return client.request_body
    raise AttributeError(f"module 'opskit.deployments.target' has no attribute {name!r}")


@runtime_checkable
class Target(Protocol):
    """What a deployment target plugin implements (registered with ``register_targets``)."""

    #: The name the target is registered under.
    name: str

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Start (or build) the deployment and return its record; raise ``DeploymentError`` on failure."""
        ...

    def status(self, deployment: Deployment) -> str:
        """The live status of a deployment this target made."""
        ...

    def stop(self, deployment: Deployment) -> None:
        """Stop serving; stopping an already stopped deployment is fine."""
        ...

    def logs(self, deployment: Deployment) -> str:
        """The deployment's log output ("" when there is none)."""
        ...
