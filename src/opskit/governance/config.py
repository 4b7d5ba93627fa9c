"""``[tool.opskit.governance]`` (or ``configure(governance=...)``): the governance settings, parsed once.

The access policy's keys (``roles``, ``users``, ``default_role``) are checked here, when
the configuration is resolved: a typo in a key, an action opskit does not know, or a user
given a role that is not defined raises ``PolicyError`` naming the key, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from opskit.errors import PolicyError, UnknownRole

__all__ = ["ACTION_VERBS", "POLICY_KEYS", "GovernanceConfig", "parse_action", "parse_governance"]

#: Every action verb a role can allow, and what its ``:argument`` names (None: it takes none).
ACTION_VERBS: dict[str, str | None] = {
    "register": None,  # register a model version (decorator, opskit.models.register)
    "promote": "alias",  # opskit.models.promote / `opskit models promote`
    "set-alias": "alias",  # opskit.models.set_alias, decorator alias=, register(alias=)
    "delete-alias": "alias",  # opskit.models.delete_alias
    "rollback": "alias",  # opskit.models.rollback / `opskit models rollback`
    "approve": "alias",  # approve a promotion request (approvals)
    "reject": "alias",  # reject a promotion request (approvals)
    "archive": None,  # opskit.models.archive
    "delete": None,  # opskit.models.delete
    "deploy": "target",  # opskit.deploy(..., target=)
    "stop": "target",  # opskit.deployments.stop
}

#: The keys of ``[tool.opskit.governance]`` that belong to the access policy.
POLICY_KEYS = frozenset({"roles", "users", "default_role"})


def parse_action(text: object, where: str) -> tuple[str, str | None]:
    """``"promote:production"`` → ``("promote", "production")``; ``"*"`` and ``"verb:*"`` allowed. ``PolicyError`` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError(f"{where}: action {text!r} is not a non-empty string", key=where)
    text = text.strip()
    if text == "*":
        return "*", None
    verb, _, argument = text.partition(":")
    if verb not in ACTION_VERBS:
        raise PolicyError(
            f"{where}: unknown action {text!r}; actions are {', '.join(sorted(ACTION_VERBS))} "
            f"(those taking an alias or target as `verb:NAME` or `verb:*`), or `*` for all",
            key=where,
        )
    if ":" in text:
        if ACTION_VERBS[verb] is None:
            raise PolicyError(
                f"{where}: action {verb!r} takes no argument, got {text!r}; write {verb!r}",
                key=where,
            )
        if not argument:
            raise PolicyError(
                f"{where}: action {text!r} has an empty {ACTION_VERBS[verb]}; write `{verb}:NAME` or `{verb}:*`",
                key=where,
            )
        return verb, argument
    return verb, None


def _roles(value: object, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise PolicyError(
            f"governance.roles from {source} must be a table of role = [actions], got {value!r}",
            key="roles",
        )
    roles: dict[str, tuple[str, ...]] = {}
    for role, actions in value.items():
        where = f"governance.roles.{role}"
        if not isinstance(role, str) or not role.strip():
            raise PolicyError(
                f"governance.roles from {source}: bad role name {role!r}", key="roles"
            )
        if isinstance(actions, str) or not isinstance(actions, list | tuple):
            raise PolicyError(
                f'{where} from {source} must be a list of actions (e.g. ["register", "promote:staging"]), '
                f"got {actions!r}",
                key=where,
            )
        for action in actions:
            parse_action(action, where)
        roles[role] = tuple(a.strip() for a in actions)
    return roles


def _users(
    value: object, roles: Mapping[str, tuple[str, ...]], source: str
) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise PolicyError(
            f"governance.users from {source} must be a table of user = [roles], got {value!r}",
            key="users",
        )
    users: dict[str, tuple[str, ...]] = {}
    for user, given in value.items():
        where = f"governance.users.{user}"
        names = [given] if isinstance(given, str) else given
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise PolicyError(
                f"{where} from {source} must be a role name or a list of role names, got {given!r}",
                key=where,
            )
        for name in names:
            if name not in roles:
                raise UnknownRole(
                    f"{where} from {source} names the role {name!r}, which is not defined; define it "
                    f"under governance.roles or use one of: {', '.join(sorted(roles)) or '(no roles defined)'}",
                    key=where,
                )
        users[str(user)] = tuple(names)
    return users


@frozen
class GovernanceConfig:
    """The governance settings in force (``opskit.get_config().governance``).

    Access policy: ``roles`` (role → allowed actions), ``users`` (user → roles) and
    ``default_role`` (the role of a user not listed; None: such a user may do nothing
    governed). With no ``roles`` at all there is no policy and every action is allowed.
    """

    roles: dict[str, tuple[str, ...]] = field(factory=dict)
    users: dict[str, tuple[str, ...]] = field(factory=dict)
    default_role: str | None = None

    @property
    def has_policy(self) -> bool:
        """Whether an access policy is configured (any role defined)."""
        return bool(self.roles)


def parse_governance(value: object, source: str) -> GovernanceConfig:
    """The ``GovernanceConfig`` of a ``[tool.opskit.governance]`` table (or a ``configure(governance=)`` value)."""
    if isinstance(value, GovernanceConfig):
        return value
    if not isinstance(value, Mapping):
        raise PolicyError(f"governance from {source} must be a table/mapping, got {value!r}")
    unknown = sorted(set(value) - POLICY_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown key(s) {unknown} in governance from {source}; known: {sorted(POLICY_KEYS)}",
            key=unknown[0],
        )
    settings: dict[str, Any] = dict(value)
    roles = _roles(settings.get("roles", {}), source)
    users = _users(settings.get("users", {}), roles, source)
    default = settings.get("default_role")
    if default is not None and (not isinstance(default, str) or default not in roles):
        raise UnknownRole(
            f"governance.default_role from {source} is {default!r}, which is not a defined role; "
            f"use one of: {', '.join(sorted(roles)) or '(no roles defined)'}",
            key="default_role",
        )
    if users and not roles:
        raise PolicyError(
            f"governance.users from {source} gives users roles, but governance.roles defines none",
            key="roles",
        )
    return GovernanceConfig(roles=roles, users=users, default_role=default)
