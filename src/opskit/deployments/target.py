"""The deployment target contract (``Target``) and its optional capability ``SupportsOptions``.

Deprecated homes kept for plugins: ``Deployment`` and ``DeploymentSpec`` now live in
``opskit.records.deployments``, ``request_body`` in ``opskit.deployments.client``; both
stay importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opskit.records.deployments import Deployment, DeploymentSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opskit.deployments.client import request_body as request_body
    from opskit.deployments.options import Option

__all__ = ["Deployment", "DeploymentSpec", "SupportsOptions", "Target", "request_body"]


def __getattr__(name: str) -> Any:
    if (
        name == "request_body"
    ):  # moved to opskit.deployments.client (it does not belong to the contract)
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


@runtime_checkable
class SupportsOptions(Protocol):
    """An optional target capability: a table of the deploy options it accepts.

    With it, ``opskit.deploy`` checks ``spec.options`` against the table before
    anything starts (an unknown name or a bad value raises ``InvalidOption``) and
    hands the target the values converted to their type. A target without it
    checks its own options in ``deploy``.
    """

    @property
    def options(self) -> Mapping[str, Option]:
        """Option name → ``opskit.deployments.options.Option`` (kind, bounds or choices, an example)."""
        ...
