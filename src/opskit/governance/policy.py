"""The access policy: which roles may do which governed actions, checked before every one of them.

``require(action, subject=, model=)`` is called by every path that changes the registry or a
deployment (``opskit.models.*``, the decorator's registration, ``opskit.deploy``, the CLI,
which calls the same functions). A denial is appended to the event log as a
``policy_denied`` registry event (so it is in the audit chain) and raises
``PermissionDenied``; nothing else changes. With no roles configured there is no policy.

On the embedded store this guards against mistakes; it is not security (whoever can write
the store's files or set ``$OPSKIT_USER`` can act as anyone). Real enforcement in team mode
comes from the MLflow server's own permissions (``mlflow server --app-name basic-auth``).
"""

from __future__ import annotations

from collections.abc import Iterable

from opskit.errors import BackendUnavailable, PermissionDenied
from opskit.governance.config import GovernanceConfig, parse_action

__all__ = ["allowed", "require", "roles_allowing", "roles_of"]


def _grants(pattern: str, verb: str, argument: str | None) -> bool:
    if pattern == "*":
        return True
    granted_verb, granted_argument = parse_action(pattern, "policy")
    if granted_verb != verb:
        return False
    return granted_argument in (None, "*") or granted_argument == argument


def _allows(actions: Iterable[str], action: str) -> bool:
    verb, argument = parse_action(action, "action")
    return any(_grants(pattern, verb, argument) for pattern in actions)


def roles_of(config: GovernanceConfig, user: str | None) -> tuple[str, ...]:
    """The roles of *user*: those ``users`` gives it, else ``default_role`` (else none)."""
    if user is not None and user in config.users:
        return config.users[user]
    return (config.default_role,) if config.default_role is not None else ()


def roles_allowing(config: GovernanceConfig, action: str) -> tuple[str, ...]:
    """Every role whose actions allow *action*, sorted."""
    return tuple(sorted(r for r, actions in config.roles.items() if _allows(actions, action)))


def allowed(config: GovernanceConfig, user: str | None, action: str) -> bool:
    """Whether *user* may do *action* (``"promote:production"``) under *config*; always True without a policy."""
    if not config.has_policy:
        return True
    return any(_allows(config.roles[role], action) for role in roles_of(config, user))


def require(action: str, *, subject: str, model: str | None = None) -> None:
    """Raise ``PermissionDenied`` (after recording a ``policy_denied`` event) unless the acting user may do *action*.

    *subject* is what the action is about (``wine:7``, ``wine@production``, a deployment name).
    """
    from opskit.runtime import get_config
    from opskit.sdk import identity

    config = get_config().governance
    user = identity.user()
    if allowed(config, user, action):
        return
    roles = roles_of(config, user)
    allowing = roles_allowing(config, action)
    has = (
        f"roles: {', '.join(roles)}"
        if roles
        else "no role: not listed under governance.users and no governance.default_role"
    )
    fix = (
        f"the role(s) {', '.join(allowing)} allow it: ask an admin to add one to governance.users.{user or 'USER'}"
        if allowing
        else f"no role allows it: add {action!r} to a role under governance.roles"
    )
    message = (
        f"user {user or '(unknown)'!r} ({has}) may not {action} on {subject}; {fix} "
        "in [tool.opskit.governance]. Nothing was changed; the denial is in the audit log"
    )
    _record(action, subject, model=model, user=user, roles=roles, allowing=allowing, reason=message)
    raise PermissionDenied(message, user=user, action=action, allowed_by=allowing)


def _record(
    action: str,
    subject: str,
    *,
    model: str | None,
    user: str | None,
    roles: tuple[str, ...],
    allowing: tuple[str, ...],
    reason: str,
) -> None:
    """Append the ``policy_denied`` event, when the tracker can (an unreachable server loses only the record)."""
    import warnings

    from opskit.errors import OpskitWarning
    from opskit.registry.events import policy_denied
    from opskit.runtime import get_tracker
    from opskit.tracker.capabilities import SupportsEventRecording

    tracker = get_tracker()
    if not isinstance(tracker, SupportsEventRecording):
        return
    event = policy_denied(
        action, subject, model=model, user=user, roles=roles, allowed_by=allowing, reason=reason
    )
    try:
        tracker.record_event(event)
    except (BackendUnavailable, PermissionError) as exc:
        warnings.warn(
            f"the denial of {action} on {subject} could not be recorded in the audit log: {exc}",
            OpskitWarning,
            stacklevel=3,
        )
