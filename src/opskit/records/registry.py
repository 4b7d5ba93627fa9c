"""Registry records: models, their versions, serialized models and alias moves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table
from opskit.records._common import strings as _strings
from opskit.records._common import when as _when
from opskit.records.data import Schema

__all__ = [
    "VERSION_STATUSES",
    "AliasChange",
    "Model",
    "ModelVersion",
    "SerializedModel",
    "VersionStatus",
]

#: Lifecycle of a version: registered as ``candidate``; ``approved`` / ``rejected`` by a review or a
#: gate; ``archived`` when retired (kept, never served; ``opskit.models.archive``).
VersionStatus = Literal["candidate", "approved", "rejected", "archived"]
VERSION_STATUSES: tuple[VersionStatus, ...] = get_args(VersionStatus)


def _versions(items: Iterable[ModelVersion]) -> tuple[ModelVersion, ...]:
    return tuple(items)


@frozen
class SerializedModel:
    """A model turned into bytes by a ``serialize_model`` hook.

    *flavor* names the loader (``deserialize_model`` checks it); *metadata* is
    stored with the version (library versions, Python version, ...).
    """

    flavor: str
    data: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    metadata: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)


@frozen
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: int
    digest: str
    size_bytes: int
    flavor: str
    run_id: str | None = None
    created_at: float = 0.0
    signature: Schema | None = None
    metadata: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    aliases: tuple[str, ...] = field(default=(), converter=_strings)
    status: VersionStatus = "candidate"

    @property
    def ref(self) -> str:
        """The exact reference of this version, ``name:version``."""
        return f"{self.name}:{self.version}"

    def summary(self) -> str:
        aliases = ", ".join(self.aliases) or "-"
        return (
            f"{self.ref}  {self.status}  flavor={self.flavor}  size={self.size_bytes}B  aliases={aliases}  "
            f"run={self.run_id or '-'}  created={_when(self.created_at)}"
        )

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("version", self.version),
            ("status", self.status),
            ("aliases", ", ".join(self.aliases) or "-"),
            ("flavor", self.flavor),
            ("digest", self.digest),
            ("size", f"{self.size_bytes} bytes"),
            ("run", self.run_id or "-"),
            ("created", _when(self.created_at)),
        ]
        if self.signature is not None:
            rows.append(
                ("inputs", ", ".join(f"{c.name}: {c.type}" for c in self.signature.columns))
            )
        return _html_table(f"Model version {self.ref}", rows)


@frozen
class Model:
    """A registered model: its versions and aliases."""

    name: str
    created_at: float
    versions: tuple[ModelVersion, ...] = field(converter=_versions)
    aliases: Mapping[str, int] = field(factory=dict, converter=_freeze_map)

    @property
    def latest(self) -> ModelVersion | None:
        return max(self.versions, key=lambda v: v.version, default=None)

    def summary(self) -> str:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(self.aliases.items())) or "-"
        latest = self.latest.version if self.latest else "-"
        return f"{self.name}  versions={len(self.versions)}  latest={latest}  aliases={aliases}"

    def _repr_html_(self) -> str:
        rows = [(f"version {v.version}", v.summary()) for v in self.versions]
        return _html_table(f"Model {self.name}", rows)


@frozen
class AliasChange:
    """One move of an alias, kept as history."""

    model: str
    alias: str
    version: int | None
    previous_version: int | None
    changed_at: float
    user: str | None = None
