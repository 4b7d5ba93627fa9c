"""The ``register`` callbacks handed to ``register_*`` hooks, and the backend registry they fill."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from attrs import define, field, frozen

from opskit.distribution import pip_install
from opskit.errors import DuplicateBackend, InvalidName, PluginError, UnknownBackend

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.storage.base import Storage
    from opskit.tracker.base import Tracker

__all__ = [
    "BackendRegistry",
    "RegisterDriftMethod",
    "RegisterGate",
    "RegisterStorage",
    "RegisterTarget",
    "RegisterTracker",
    "Registration",
    "check_registration",
]

TrackerFactory = Callable[["Config"], "Tracker"]
StorageFactory = Callable[["Config", str], "Storage"]
TargetFactory = Callable[["Config"], Any]


class RegisterTracker(Protocol):
    def __call__(self, name: str, factory: TrackerFactory) -> None: ...


class RegisterStorage(Protocol):
    def __call__(self, name: str, factory: StorageFactory, schemes: Sequence[str] = ()) -> None: ...


class RegisterTarget(Protocol):
    def __call__(self, name: str, factory: TargetFactory) -> None: ...


#: A drift statistic: ``compute(reference, current) -> (statistic, p_value or None)``.
DriftCompute = Callable[[Any, Any], tuple[float, float | None]]


class RegisterDriftMethod(Protocol):
    """The ``register`` callback of ``register_drift_methods`` (used by ``opskit.monitor.methods``)."""

    def __call__(
        self, name: str, compute: DriftCompute, *, kinds: Sequence[str], threshold: float
    ) -> None: ...


class RegisterGate(Protocol):
    """The ``register`` callback of ``register_gates`` (used by ``opskit.validation.gates``).

    ``gate(ctx, **params)`` receives an ``opskit.validation.gates.GateContext`` and the
    keyword arguments given to ``gates.plugin(name, **params)``; it returns a
    ``GateResult`` or a bool.
    """

    def __call__(self, name: str, gate: Callable[..., Any]) -> None: ...


@frozen
class Registration:
    """One registered backend factory and the plugin that registered it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    schemes: tuple[str, ...] = ()


def check_registration(
    kind: str,
    name: object,
    value: object,
    plugin: str,
    existing_plugin: str | None,
    duplicate: type[PluginError],
) -> None:
    """The checks every ``register_*`` callback makes: a valid name, a callable, no duplicate.

    Raises ``InvalidName``, ``TypeError`` or *duplicate* (naming both plugins) respectively.
    """
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        raise InvalidName(
            f"plugin {plugin!r} registered a {kind} with invalid name {name!r}: use letters, digits, '_' or '-'"
        )
    if not callable(value):
        raise TypeError(
            f"plugin {plugin!r} registered {kind} {name!r} with a non-callable {value!r}"
        )
    if existing_plugin is not None:
        raise duplicate(
            f"two plugins register a {kind} named {name!r}: {existing_plugin!r} and {plugin!r}; "
            "uninstall one, or disable it with OPSKIT_DISABLE_PLUGINS=<name>"
        )


@define
class BackendRegistry:
    """Factories by kind and name, filled once from the ``register_*`` hooks."""

    entries: dict[tuple[str, str], Registration] = field(factory=dict)

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        plugin: str,
        schemes: Sequence[str] = (),
    ) -> None:
        existing = self.entries.get((kind, name)) if isinstance(name, str) else None
        check_registration(
            kind, name, factory, plugin, existing.plugin if existing else None, DuplicateBackend
        )
        self.entries[(kind, name)] = Registration(
            kind, name, factory, plugin, tuple(s.lower() for s in schemes)
        )

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self.entries if k == kind)

    def get(self, kind: str, name: str) -> Registration:
        entry = self.entries.get((kind, name))
        if entry is None:
            known = ", ".join(self.names(kind)) or "none"
            raise UnknownBackend(
                f"no {kind} backend named {name!r} is installed (available: {known}); install the "
                f"plugin that provides it, or check OPSKIT_{kind.upper()} / opskit.configure({kind}=...)"
            )
        return entry

    def for_scheme(self, kind: str, scheme: str) -> Registration:
        for entry in self.entries.values():
            if entry.kind == kind and scheme.lower() in entry.schemes:
                return entry
        known = sorted({s for e in self.entries.values() if e.kind == kind for s in e.schemes})
        raise UnknownBackend(
            f"no {kind} backend handles URLs starting with {scheme!r}:// (handled: {', '.join(known) or 'none'}); "
            f"install a plugin for it (for s3:// and other fsspec URLs: {pip_install('s3')})"
        )
