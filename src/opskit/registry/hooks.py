"""Lifecycle hooks fired from registry events, after the tracker committed the change and its event.

Kept apart from ``opskit.registry.events`` (records and their constructors) so the tracker
layer, which builds events, never imports the plugin machinery.
"""

from __future__ import annotations

from collections.abc import Iterable

from opskit.registry.events import RegistryEvent, alias_change_of, deployment_of, version_of

__all__ = ["fire_hooks"]


def fire_hooks(events: Iterable[RegistryEvent | None]) -> None:
    """Fire the lifecycle hook of each event, in order (``None`` entries are skipped).

    ``version_registered`` → ``after_model_registered``; ``alias_*`` →
    ``after_alias_changed``; ``deployment_created`` / ``deployment_switched`` →
    ``after_deploy``; ``deployment_stopped`` → ``after_deployment_stopped``. Called
    after the tracker committed the change and its event.
    """
    from opskit._hooks import hooks

    for event in events:
        if event is None:
            continue
        if event.kind == "version_registered":
            hooks.after_model_registered(version_of(event))
        elif event.kind in ("alias_set", "alias_moved", "alias_removed"):
            hooks.after_alias_changed(alias_change_of(event))
        elif event.kind == "deployment_stopped":
            hooks.after_deployment_stopped(deployment_of(event))
        elif event.kind.startswith("deployment_"):
            hooks.after_deploy(deployment_of(event))
        # other kinds (policy_denied, version_status_changed, ...) have no lifecycle hook
