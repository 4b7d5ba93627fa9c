"""``opskit.deploy(...)`` and the deployments kept in the tracker (state kind ``"deployment"``)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping
from typing import Any

import attrs

from opskit.deployments.client import STATE_KIND, DeploymentClient, save
from opskit.deployments.client import get_target as _get_target
from opskit.deployments.target import SupportsOptions, Target
from opskit.errors import DeploymentError, DeploymentNotFound, InvalidName
from opskit.names import ModelRef
from opskit.records.deployments import Deployment, DeploymentSpec
from opskit.registry.hooks import fire_hooks
from opskit.serialize import from_plain

__all__ = ["STATE_KIND", "deploy", "get", "get_target", "list", "logs", "save", "stop"]


def get_target(name: str) -> Target:
    """An instance of the target registered as *name* (``UnknownBackend`` lists the installed ones)."""
    target: Target = _get_target(name)
    return target


def _weights(ref: str | ModelRef | Mapping[str, float]) -> dict[str, float]:
    raw: dict[str, float]
    if isinstance(ref, Mapping):
        raw = {}
        for key, weight in ref.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
                raise DeploymentError(
                    f"traffic weight of {key!r} must be a number >= 0, got {weight!r}"
                )
            raw[str(ModelRef.parse(key))] = float(weight)
    else:
        raw = {str(ModelRef.parse(ref)): 1.0}
    total = sum(raw.values())
    if not raw or total <= 0:
        raise DeploymentError(
            "give at least one model reference with a weight above 0, e.g. {'wine@production': 1.0}"
        )
    return {key: weight / total for key, weight in raw.items()}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.replace("-", "_").replace(".", "_").isidentifier():
        raise InvalidName(f"invalid deployment name {name!r}: use letters, digits, '_', '-' or '.'")
    return name


def _env_token_set() -> bool:
    from opskit.config import env_text
    from opskit.deployments.auth import TOKEN_ENV

    return bool((env_text(TOKEN_ENV) or "").strip())


def deploy(
    ref: str | ModelRef | Mapping[str, float],
    target: str = "local",
    name: str | None = None,
    port: int | None = None,
    *,
    shadow: str | None = None,
    **options: Any,
) -> DeploymentClient:
    """Deploy a model (``"wine@production"``) or a weighted split (``{"wine@production": 0.9, "wine@challenger": 0.1}``).

    ``target="local"`` starts a model server on 127.0.0.1 and returns once it is
    healthy; ``target="docker"`` writes a build context to ``path=DIR``. Options
    of the server: ``workers``, ``max_batch``, ``max_wait_ms``, ``log_sample``,
    ``max_body_bytes``, ``poll_interval``, ``log_level``, ``host``, ``insecure``,
    ``metrics_auth``; the local target also takes ``timeout``. ``auth_token=`` or
    ``auth_token_file=`` (or ``$OPSKIT_SERVE_TOKEN``) make the server require
    ``Authorization: Bearer <token>``; the token is never recorded (see
    ``opskit.deployments.auth``). Every option is checked before anything starts: an
    unknown name or a bad value raises ``InvalidOption``.
    """
    from opskit.deployments.options import check_options, check_port
    from opskit.governance.policy import require
    from opskit.runtime import get_tracker

    chosen = get_target(target)
    if isinstance(chosen, SupportsOptions):  # a target without a table checks its own options
        options = check_options(target, chosen.options, options)
    port = check_port(port, target)
    weights = _weights(ref)
    shadow_ref = str(ModelRef.parse(shadow)) if shadow is not None else None
    tracker = get_tracker()
    for each in [*weights, *([shadow_ref] if shadow_ref else [])]:
        found = tracker.get_model_version(
            ModelRef.parse(each)
        )  # ModelNotFound now, not in the server
        if found.status == "archived":
            from opskit.errors import VersionNotServable

            raise VersionNotServable(
                f"cannot deploy {each}: {found.ref} is archived; deploy another version "
                f"(see `opskit models show {found.name}`)"
            )
    name = _check_name(name or ModelRef.parse(next(iter(weights))).name)
    require(
        f"deploy:{target}",
        subject=f"{name} ({', '.join(weights)})",
        model=ModelRef.parse(next(iter(weights))).name,
    )
    existing = tracker.get_state(STATE_KIND, name)
    if existing is not None:
        old = DeploymentClient.of(from_plain(Deployment, existing))
        if old.status() in {"running", "starting"}:
            raise DeploymentError(
                f"deployment {name!r} is already running at {old.url}; stop it first "
                f"(opskit deployments stop {name}) or pass another name="
            )
    # $OPSKIT_SERVE_TOKEN applies to targets that take tokens (the built-in ones), not to any plugin's.
    takes_tokens = isinstance(chosen, SupportsOptions) and "auth_token" in chosen.options
    if any(k in options for k in ("auth_token", "auth_token_file", "host")) or (
        takes_tokens and _env_token_set()
    ):
        from opskit.deployments.auth import resolve_auth
        from opskit.runtime import get_config

        options = resolve_auth(options, name=name, home=get_config().home)
    spec = DeploymentSpec(
        name=name, target=target, variants=weights, shadow=shadow_ref, port=port, options=options
    )
    deployment = chosen.deploy(spec)
    if not deployment.created_at:
        deployment = attrs.evolve(deployment, created_at=time.time())
    fire_hooks([save(deployment, before=existing)])
    return DeploymentClient.of(deployment)


def list() -> builtins.list[DeploymentClient]:
    """Every recorded deployment, sorted by name (running or not: see ``status()``)."""
    from opskit.runtime import get_tracker

    found = get_tracker().list_state(STATE_KIND)
    return [DeploymentClient.of(from_plain(Deployment, found[key])) for key in sorted(found)]


def get(name: str) -> DeploymentClient:
    """One deployment by name (raises ``DeploymentNotFound``)."""
    from opskit.runtime import get_tracker

    data = get_tracker().get_state(STATE_KIND, name)
    if data is None:
        known = ", ".join(d.name for d in list()) or "none"
        raise DeploymentNotFound(
            f"no deployment named {name!r} (known: {known}); see `opskit deployments list`"
        )
    return DeploymentClient.of(from_plain(Deployment, data))


def stop(name: str) -> DeploymentClient:
    """Stop a deployment's server; its record stays with state ``stopped``.

    The record and its ``deployment_stopped`` event are stored in one transaction, then the
    ``after_deployment_stopped`` hook fires. Stopping a deployment recorded as stopped records nothing.
    """
    return get(name).stop()


def logs(name: str) -> str:
    """A deployment's log output."""
    return get(name).logs()
