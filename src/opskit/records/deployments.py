"""Deployment records: what to deploy (``DeploymentSpec``) and what was deployed (``Deployment``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table

__all__ = ["Deployment", "DeploymentSpec"]


def _tuple(items: Any) -> tuple[str, ...]:
    return tuple(items)


@frozen
class DeploymentSpec:
    """What to deploy: a name, weighted model references, an optional shadow, target options."""

    name: str
    target: str
    #: Model reference → traffic weight (weights sum to 1).
    variants: Mapping[str, float] = field(converter=_freeze_map)
    shadow: str | None = None
    port: int | None = None
    options: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)


@frozen
class Deployment:
    """A deployment as recorded in the tracker (data only).

    ``opskit.deploy()`` and ``opskit.deployments.get()`` return it wrapped in a
    ``DeploymentClient`` (a subclass) whose ``status()``, ``predict()``, ``logs()``,
    ``stop()`` and ``predictions()`` talk to the target and the server.
    """

    name: str
    target: str
    url: str | None
    #: Model references served, in traffic order (the shadow is separate).
    refs: tuple[str, ...] = field(converter=_tuple)
    #: Traffic weight of each reference.
    weights: Mapping[str, float] = field(factory=dict, converter=_freeze_map)
    shadow: str | None = None
    #: What the target recorded when it deployed ("running", "built", ...); ``DeploymentClient.status()`` asks the target now.
    state: str = "running"
    created_at: float = 0.0
    pid: int | None = None
    path: str | None = None
    options: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)

    def summary(self) -> str:
        refs = ", ".join(f"{r} ({self.weights.get(r, 1.0):.0%})" for r in self.refs)
        shadow = f"  shadow={self.shadow}" if self.shadow else ""
        return f"{self.name}  [{self.target}]  {self.url or self.path or '-'}  {refs}{shadow}"

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("target", self.target),
            ("url", self.url or "-"),
            ("models", ", ".join(self.refs)),
            ("shadow", self.shadow or "-"),
            ("state", self.state),
            ("created", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.created_at))),
        ]
        return _html_table(f"Deployment {self.name}", rows)
