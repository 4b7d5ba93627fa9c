"""Dataset records: one stored, numbered version of a named dataset (``opskit.log_data``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table
from opskit.records._common import strings as _strings
from opskit.records._common import when as _when
from opskit.records.data import Schema

__all__ = ["DATASET_FORMATS", "Dataset", "DatasetFormat", "DatasetVersion"]

#: How a dataset version's content is stored: a pandas frame or series as Parquet, a NumPy
#: array as ``.npy``, one file as one blob, a directory as a manifest plus one blob per file.
DatasetFormat = Literal["parquet", "npy", "file", "directory"]
DATASET_FORMATS: tuple[DatasetFormat, ...] = ("parquet", "npy", "file", "directory")


def _shape(value: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(n) for n in value)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@frozen
class DatasetVersion:
    """One version of a dataset: ``name:version``, its content digest and where its bytes are.

    ``digest`` is the content fingerprint opskit records for a data argument of a run
    (``fingerprint_data``: ``"xxh3_128:..."``), so a run that only fingerprinted the same data
    has the same digest. ``blob`` is the storage digest (``sha256:...``) of the stored bytes
    (the Parquet/``.npy`` file, the file itself, or a directory's manifest); ``blobs`` holds
    every blob the version needs (a directory's files too). ``kind`` is what was logged
    (``dataframe``, ``series``, ``ndarray``, ``file``, ``directory``); ``source`` the path a
    file or directory was read from. ``aliases`` are filled when read back.
    """

    name: str
    version: int
    digest: str
    format: DatasetFormat
    kind: str
    blob: str
    size_bytes: int
    blobs: tuple[str, ...] = field(default=(), converter=_strings)
    shape: tuple[int, ...] | None = field(default=None, converter=_shape)
    schema: Schema | None = None
    created_at: float = 0.0
    run_id: str | None = None
    user: str | None = None
    source: str | None = None
    aliases: tuple[str, ...] = field(default=(), converter=_strings)

    @property
    def ref(self) -> str:
        """The exact reference of this version, ``name:version``."""
        return f"{self.name}:{self.version}"

    def summary(self) -> str:
        shape = "x".join(map(str, self.shape)) if self.shape is not None else "-"
        aliases = ", ".join(self.aliases) or "-"
        return (
            f"{self.ref}  {self.kind} ({self.format})  shape={shape}  size={_size(self.size_bytes)}  "
            f"aliases={aliases}  run={self.run_id or '-'}  created={_when(self.created_at)}"
        )

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("version", self.version),
            ("aliases", ", ".join(self.aliases) or "-"),
            ("kind", f"{self.kind} ({self.format})"),
            ("shape", "x".join(map(str, self.shape)) if self.shape is not None else "-"),
            ("digest", self.digest),
            ("stored as", self.blob),
            ("size", f"{self.size_bytes} bytes"),
            ("run", self.run_id or "-"),
            ("user", self.user or "-"),
            ("created", _when(self.created_at)),
        ]
        if self.source:
            rows.append(("source", self.source))
        if self.schema is not None:
            rows.append(("columns", ", ".join(f"{c.name}: {c.type}" for c in self.schema.columns)))
        return _html_table(f"Dataset version {self.ref}", rows)


def _versions(items: Iterable[DatasetVersion]) -> tuple[DatasetVersion, ...]:
    return tuple(items)


@frozen
class Dataset:
    """A dataset: its versions (oldest first) and its aliases (alias → version number)."""

    name: str
    versions: tuple[DatasetVersion, ...] = field(converter=_versions)
    aliases: Mapping[str, int] = field(factory=dict, converter=_freeze_map)

    @property
    def latest(self) -> DatasetVersion | None:
        return max(self.versions, key=lambda v: v.version, default=None)

    def summary(self) -> str:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(self.aliases.items())) or "-"
        latest = self.latest.version if self.latest else "-"
        return f"{self.name}  versions={len(self.versions)}  latest={latest}  aliases={aliases}"

    def _repr_html_(self) -> str:
        rows = [(f"version {v.version}", v.summary()) for v in self.versions]
        return _html_table(f"Dataset {self.name}", rows)
