"""The records opskit hands out: runs, model versions, models, data inputs.

Values are frozen attrs classes: change them with ``attrs.evolve``. They print
well in a terminal (``summary()``) and render in notebooks (``_repr_html_``).
Conversion to plain dicts lives in ``opskit.serialize``, apart from the classes.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

if TYPE_CHECKING:
    import pandas

__all__ = [
    "AliasChange",
    "Artifact",
    "CodeInfo",
    "ColumnSpec",
    "DataInput",
    "EnvInfo",
    "Metric",
    "Model",
    "ModelVersion",
    "Run",
    "RunList",
    "RunStatus",
    "Schema",
    "SerializedModel",
]

RunStatus = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
RUN_STATUSES: tuple[RunStatus, ...] = ("RUNNING", "FINISHED", "FAILED", "KILLED")


def _freeze_map(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


def _columns(items: Iterable[ColumnSpec]) -> tuple[ColumnSpec, ...]:
    return tuple(items)


def _inputs(items: Iterable[DataInput]) -> tuple[DataInput, ...]:
    return tuple(items)


def _artifacts(items: Iterable[Artifact]) -> tuple[Artifact, ...]:
    return tuple(items)


def _versions(items: Iterable[ModelVersion]) -> tuple[ModelVersion, ...]:
    return tuple(items)


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _html_table(title: str, rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{body}</table></div>"


@frozen
class Metric:
    """One metric point."""

    key: str
    value: float
    step: int
    timestamp: float


def _categories(items: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if items is None else tuple(items)


@frozen
class ColumnSpec:
    """One column of an input schema.

    ``type`` is the pandas/NumPy dtype as text (``float64``, ``Int64``, ``boolean``,
    ``datetime64[ns, UTC]``, ``category``, ``string``...). ``missing`` and
    ``infinite`` say whether the training data had missing or infinite values in
    the column (None: not recorded, as in signatures from before opskit 0.2);
    ``categories`` and ``ordered`` describe a ``category`` column.
    """

    name: str
    type: str
    missing: bool | None = None
    infinite: bool | None = None
    categories: tuple[Any, ...] | None = field(default=None, converter=_categories)
    ordered: bool | None = None


@frozen
class Schema:
    """The input schema of a model: named, typed columns (tables) or a tensor shape."""

    columns: tuple[ColumnSpec, ...] = field(converter=_columns)
    kind: Literal["table", "tensor"] = "table"
    shape: tuple[int | None, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@frozen
class DataInput:
    """A data argument of a run: what it was called, what it looked like, its content digest."""

    name: str
    kind: str
    digest: str
    shape: tuple[int, ...] | None = None
    schema: Schema | None = None
    size_bytes: int | None = None
    path: str | None = None


@frozen
class Artifact:
    """A file logged with a run, stored by content digest."""

    name: str
    digest: str
    size_bytes: int


@frozen
class CodeInfo:
    """The code that produced a run."""

    function: str | None = None
    module: str | None = None
    source: str | None = None
    source_file: str | None = None
    file_digest: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff: str | None = None
    notebook_cell: str | None = None


@frozen
class EnvInfo:
    """The environment a run ran in."""

    python: str
    implementation: str
    platform: str
    packages: dict[str, str] = field(factory=dict, converter=_freeze_map)


@frozen
class SerializedModel:
    """A model turned into bytes by a ``serialize_model`` hook.

    *flavor* names the loader (``deserialize_model`` checks it); *metadata* is
    stored with the version (library versions, Python version, ...).
    """

    flavor: str
    data: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    metadata: dict[str, Any] = field(factory=dict, converter=_freeze_map)


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
    metadata: dict[str, Any] = field(factory=dict, converter=_freeze_map)
    aliases: tuple[str, ...] = field(default=(), converter=_strings)

    @property
    def ref(self) -> str:
        """The exact reference of this version, ``name:version``."""
        return f"{self.name}:{self.version}"

    def summary(self) -> str:
        aliases = ", ".join(self.aliases) or "-"
        return (
            f"{self.ref}  flavor={self.flavor}  size={self.size_bytes}B  aliases={aliases}  "
            f"run={self.run_id or '-'}  created={_when(self.created_at)}"
        )

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("version", self.version),
            ("aliases", ", ".join(self.aliases) or "-"),
            ("flavor", self.flavor),
            ("digest", self.digest),
            ("size", f"{self.size_bytes} bytes"),
            ("run", self.run_id or "-"),
            ("created", _when(self.created_at)),
        ]
        if self.signature is not None:
            rows.append(("inputs", ", ".join(f"{c.name}: {c.type}" for c in self.signature.columns)))
        return _html_table(f"Model version {self.ref}", rows)


@frozen
class Model:
    """A registered model: its versions and aliases."""

    name: str
    created_at: float
    versions: tuple[ModelVersion, ...] = field(converter=_versions)
    aliases: dict[str, int] = field(factory=dict, converter=_freeze_map)

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


@frozen
class Run:
    """Everything captured about one run."""

    id: str
    name: str
    status: RunStatus
    experiment: str
    started_at: float
    ended_at: float | None = None
    user: str | None = None
    host: str | None = None
    params: dict[str, Any] = field(factory=dict, converter=_freeze_map)
    metrics: dict[str, float] = field(factory=dict, converter=_freeze_map)
    tags: dict[str, str] = field(factory=dict, converter=_freeze_map)
    code: CodeInfo | None = None
    env: EnvInfo | None = None
    inputs: tuple[DataInput, ...] = field(default=(), converter=_inputs)
    artifacts: tuple[Artifact, ...] = field(default=(), converter=_artifacts)
    model_version: ModelVersion | None = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    def metric_history(self, key: str) -> list[Metric]:
        """Every logged point of metric *key*, in step order (read from the active tracker)."""
        from opskit._backends import get_tracker

        return get_tracker().metric_history(self.id, key)

    def summary(self) -> str:
        lines = [
            f"run {self.id}  {self.name}  [{self.status}]",
            f"  experiment: {self.experiment}   started: {_when(self.started_at)}"
            + (f"   took: {self.duration:.3f}s" if self.duration is not None else ""),
        ]
        if self.params:
            lines.append("  params:  " + ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items())))
        if self.metrics:
            lines.append("  metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(self.metrics.items())))
        for data in self.inputs:
            lines.append(f"  input:   {data.name} {data.kind} shape={data.shape} digest={data.digest[:19]}…")
        if self.code is not None and self.code.function:
            commit = (self.code.git_commit or "no git")[:12]
            dirty = " (dirty)" if self.code.git_dirty else ""
            lines.append(f"  code:    {self.code.function} @ {commit}{dirty}")
        if self.env is not None:
            lines.append(f"  env:     Python {self.env.python} on {self.env.platform}, {len(self.env.packages)} packages")
        if self.model_version is not None:
            lines.append(f"  model:   {self.model_version.summary()}")
        if self.error:
            lines.append("  error:   " + self.error.strip().splitlines()[-1])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("status", self.status),
            ("experiment", self.experiment),
            ("started", _when(self.started_at)),
            ("ended", _when(self.ended_at)),
        ]
        rows += [(f"param {k}", v) for k, v in sorted(self.params.items())]
        rows += [(f"metric {k}", f"{v:.6g}") for k, v in sorted(self.metrics.items())]
        rows += [(f"input {d.name}", f"{d.kind} {d.shape} {d.digest}") for d in self.inputs]
        if self.model_version is not None:
            rows.append(("model", self.model_version.ref))
        if self.error:
            rows.append(("error", self.error.strip().splitlines()[-1]))
        return _html_table(f"Run {self.name} ({self.id})", rows)


class RunList(list[Run]):
    """A list of runs that converts to a DataFrame with ``to_pandas()``.

    From ``search_runs``: ``limit`` is the most it could hold and ``truncated``
    is True when more runs matched than it holds.
    """

    limit: int | None = None
    truncated: bool = False

    def to_pandas(self) -> pandas.DataFrame:
        """One row per run: id, name, status, times, ``params.*``, ``metrics.*``, ``tags.*``."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "name": run.name,
                "status": run.status,
                "experiment": run.experiment,
                "started_at": pd.Timestamp(run.started_at, unit="s", tz="UTC"),
                "ended_at": pd.Timestamp(run.ended_at, unit="s", tz="UTC") if run.ended_at else pd.NaT,
                "model_version": run.model_version.ref if run.model_version else None,
            }
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        if not self:
            return "<div>no runs</div>"
        html: str = self.to_pandas().to_html(index=False)
        if self.truncated:
            html += f"<div>first {len(self)} matching runs; more match: pass a larger limit=</div>"
        return html
