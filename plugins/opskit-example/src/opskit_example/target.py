"""A deployment target that deploys nothing: it prints and remembers what it was asked to deploy.

Provisional: opskit's deployment interface (``opskit.deploy(..., target=...)``)
is being designed; this target implements the minimal shape (``name`` and
``deploy``) and will follow the final protocol.
"""

from __future__ import annotations

from typing import Any


class PrintTarget:
    """``deploy(ref, **options)`` prints the request and returns a description of the "deployment"."""

    name = "print"

    def __init__(self) -> None:
        self.deployed: list[dict[str, Any]] = []

    def deploy(self, ref: str, **options: Any) -> dict[str, Any]:
        record = {"target": self.name, "model": ref, "options": options, "status": "printed"}
        self.deployed.append(record)
        print(f"[opskit-example] would deploy {ref} with {options or 'no options'}")
        return record
