"""Governance configuration: ``[tool.opskit.governance]`` and ``configure(governance={...})``.

One record, :class:`GovernanceConfig`, holds every governance key; :func:`parse` checks a
table strictly (an unknown key or a bad value is ``GovernanceConfigError`` naming it).

.. code-block:: toml

    [tool.opskit.governance]
    protected_aliases = ["production"]
    approvals_required = 1            # or per alias: { production = 2 }
    require_validation = true
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from opskit.errors import GovernanceConfigError, InvalidName

__all__ = ["GOVERNANCE_KEYS", "GovernanceConfig", "parse"]

#: Approvals a protected alias needs when ``approvals_required`` does not say.
DEFAULT_APPROVALS = 1


def _aliases(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(value)


@frozen
class GovernanceConfig:
    """The governance settings in force (``opskit.get_config().governance``)."""

    #: Aliases that move only through an approved request (``opskit.approvals``).
    protected_aliases: tuple[str, ...] = field(default=(), converter=_aliases)
    #: Distinct approvers each protected alias needs (an alias left out needs ``DEFAULT_APPROVALS``).
    approvals_required: dict[str, int] = field(factory=dict)
    #: Only a version whose run has a passed validation report can be requested for a protected alias.
    require_validation: bool = False

    def is_protected(self, alias: str) -> bool:
        """True when moving *alias* needs approval."""
        return alias in self.protected_aliases

    def required(self, alias: str) -> int:
        """How many distinct approvers *alias* needs (0 when it is not protected)."""
        if not self.is_protected(alias):
            return 0
        return self.approvals_required.get(alias, DEFAULT_APPROVALS)


#: The keys ``[tool.opskit.governance]`` accepts.
GOVERNANCE_KEYS = ("approvals_required", "protected_aliases", "require_validation")


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
        raise GovernanceConfigError(
            f"unknown governance key(s) {unknown} in {source}; known: {list(GOVERNANCE_KEYS)}"
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
    return GovernanceConfig(
        protected_aliases=tuple(aliases), approvals_required=required, require_validation=flag
    )


def from_settings(settings: Mapping[str, Any] | None, source: str) -> GovernanceConfig:
    """``parse`` of *settings*, the default (nothing protected) when None."""
    return GovernanceConfig() if settings is None else parse(settings, source)
