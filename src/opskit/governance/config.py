"""Governance configuration: ``[tool.opskit.governance]`` and ``configure(governance={...})``.

One record, :class:`GovernanceConfig`, holds every governance key; :func:`parse` checks a
table strictly (an unknown key or a bad value is ``GovernanceConfigError`` naming it).

.. code-block:: toml

    [tool.opskit.governance]
    protected_aliases = ["production"]
    approvals_required = 1            # or per alias: { production = 2 }
    require_validation = true
    roles = { ds = ["register", "promote:staging"], lead = ["*"] }   # the access policy
    users = { alice = "lead", bob = ["ds"] }
    default_role = "ds"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from opskit.errors import GovernanceConfigError, InvalidName, PolicyError, UnknownRole

__all__ = [
    "ACTION_VERBS",
    "GOVERNANCE_KEYS",
    "POLICY_KEYS",
    "GovernanceConfig",
    "parse",
    "parse_action",
    "parse_governance",
]

#: Approvals a protected alias needs when ``approvals_required`` does not say.
DEFAULT_APPROVALS = 1


def _aliases(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(value)


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
    """The governance settings in force (``opskit.get_config().governance``)."""

    #: Aliases that move only through an approved request (``opskit.approvals``).
    protected_aliases: tuple[str, ...] = field(default=(), converter=_aliases)
    #: Distinct approvers each protected alias needs (an alias left out needs ``DEFAULT_APPROVALS``).
    approvals_required: dict[str, int] = field(factory=dict)
    #: Only a version whose run has a passed validation report can be requested for a protected alias.
    require_validation: bool = False
    #: Access policy: role → allowed actions (no roles: no policy, every action allowed).
    roles: dict[str, tuple[str, ...]] = field(factory=dict)
    #: Access policy: user → roles.
    users: dict[str, tuple[str, ...]] = field(factory=dict)
    #: Access policy: the role of a user not listed (None: such a user may do nothing governed).
    default_role: str | None = None

    @property
    def has_policy(self) -> bool:
        """Whether an access policy is configured (any role defined)."""
        return bool(self.roles)

    def is_protected(self, alias: str) -> bool:
        """True when moving *alias* needs approval."""
        return alias in self.protected_aliases

    def required(self, alias: str) -> int:
        """How many distinct approvers *alias* needs (0 when it is not protected)."""
        if not self.is_protected(alias):
            return 0
        return self.approvals_required.get(alias, DEFAULT_APPROVALS)


#: The keys ``[tool.opskit.governance]`` accepts.
GOVERNANCE_KEYS = (
    "approvals_required",
    "default_role",
    "protected_aliases",
    "require_validation",
    "roles",
    "users",
)


def _count(key: str, value: object, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GovernanceConfigError(
            f"{key}={value!r} in {source} must be a whole number of approvals, 1 or more"
        )
    return value


def parse(value: object, source: str) -> GovernanceConfig:
    """The ``GovernanceConfig`` of a table/mapping *value* (or a ``GovernanceConfig`` as it is) from *source*."""
    if isinstance(value, GovernanceConfig):
        return value
    if not isinstance(value, Mapping):
        raise GovernanceConfigError(
            f"governance from {source} must be a table/mapping with keys "
            f"{', '.join(GOVERNANCE_KEYS)}; got {value!r}"
        )
    unknown = sorted(str(k) for k in value if k not in GOVERNANCE_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown governance key(s) {unknown} in {source}; known: {list(GOVERNANCE_KEYS)}",
            key=unknown[0],
        )
    from opskit.names import validate_alias

    raw_aliases = value.get("protected_aliases", [])
    if isinstance(raw_aliases, str) or not isinstance(raw_aliases, list | tuple):
        raise GovernanceConfigError(
            f"protected_aliases={raw_aliases!r} in {source} must be a list of alias names, "
            'e.g. ["production"]'
        )
    aliases: list[str] = []
    for alias in raw_aliases:
        try:
            aliases.append(validate_alias(alias))
        except (InvalidName, TypeError) as exc:
            raise GovernanceConfigError(
                f"protected_aliases in {source}: {alias!r} is not a valid alias name ({exc})"
            ) from None
    raw_required = value.get("approvals_required", DEFAULT_APPROVALS)
    if isinstance(raw_required, Mapping):
        required: dict[str, int] = {}
        for alias, count in raw_required.items():
            if alias not in aliases:
                raise GovernanceConfigError(
                    f"approvals_required in {source} names alias {alias!r}, which is not in "
                    f"protected_aliases {aliases}; add it there or remove it here"
                )
            required[str(alias)] = _count(f"approvals_required.{alias}", count, source)
    else:
        count = _count("approvals_required", raw_required, source)
        required = dict.fromkeys(aliases, count)
    flag = value.get("require_validation", False)
    if not isinstance(flag, bool):
        raise GovernanceConfigError(
            f"require_validation={flag!r} in {source} must be true or false"
        )
    roles = _roles(value.get("roles", {}), source)
    users = _users(value.get("users", {}), roles, source)
    default = value.get("default_role")
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
    return GovernanceConfig(
        protected_aliases=tuple(aliases),
        approvals_required=required,
        require_validation=flag,
        roles=roles,
        users=users,
        default_role=default,
    )


#: The access policy's name for :func:`parse` (both parse the whole governance table).
parse_governance = parse


def from_settings(settings: Mapping[str, Any] | None, source: str) -> GovernanceConfig:
    """``parse`` of *settings*, the default (nothing protected) when None."""
    return GovernanceConfig() if settings is None else parse(settings, source)
