"""A deployment target that deploys nothing: it describes what it was asked to deploy.

It implements opskit's ``Target`` protocol (``deploy``, ``status``, ``stop``,
``logs``), so ``opskit.deploy("wine@staging", target="print")`` works end to end
and the record shows up in ``opskit deployments list``.
"""

from __future__ import annotations

import time

from opskit.deployments.target import Deployment, DeploymentSpec, Target


class PrintTarget(Target):
    """Prints each deployment request; its deployments are "printed" until stopped.

    ``status`` reads the record it is given (opskit passes the one it keeps), not
    memory: opskit makes a new target instance for every call.
    """

    name = "print"

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}
        self.stopped: set[str] = set()

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        line = f"[opskit-example] would deploy {dict(spec.variants)} as {spec.name!r} with {spec.options or 'no options'}"
        print(line)
        self.lines.setdefault(spec.name, []).append(line)
        self.stopped.discard(spec.name)
        return Deployment(
            name=spec.name,
            target=self.name,
            url=None,
            refs=tuple(spec.variants),
            weights=spec.variants,
            shadow=spec.shadow,
            state="printed",
            created_at=time.time(),
            options=spec.options,
        )

    def status(self, deployment: Deployment) -> str:
        # opskit makes a new target for every call and keeps the record (state "stopped" once
        # stopped), so the record is what tells; this instance's memory only helps within a call.
        stopped = deployment.state == "stopped" or deployment.name in self.stopped
        return "stopped" if stopped else "printed"

    def stop(self, deployment: Deployment) -> None:
        self.stopped.add(deployment.name)

    def logs(self, deployment: Deployment) -> str:
        return "\n".join(self.lines.get(deployment.name, []))
